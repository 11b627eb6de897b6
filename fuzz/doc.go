// Package fuzz searches for plans that make a multi-user service leak one
// user's data to another, shrinks a failing plan to a minimal one although
// the failure does not reproduce every time, and saves it as a replayable
// plan file. It is what crosstalk fuzz and crosstalk replay run, and what Go
// services use from their own tests through [VerifyIsolation], [FuzzHandler]
// and the regression tests [EmitTest] writes.
//
// # Plans are data
//
// A [harness.Plan] is a sequence of bursts; every step of a burst names a
// user, a request of the spec (or [harness.LoginStep] to log in again), an
// optional peer for writes, an offset from the burst's release and an
// optional client cancel. [PlanGen] draws a whole plan with rapid before
// anything is sent: rapid's Draw is not safe for concurrent use, and a plan
// that is data can be saved, replayed and shrunk. The draw is biased towards
// what finds isolation bugs: two to four users (two 40% of the time), bursts
// in which they overlap, one focus request that most steps share (so the same
// resource id in every user's namespace), write/read mixes, logins that land
// together, logouts next to reads, and client cancels.
//
// # The plan file
//
// A [File] is JSON: version, spec path, target name, base URL, sync strategy,
// the rapid seed that drew the original plan, its length, the minimal plan,
// the reproduction measured on it ({"runs":50,"fails":44}) and one finding as
// evidence. [ParseFile] never panics and rejects unknown fields, trailing data,
// newer versions and anything outside the limits ([MaxBursts],
// [MaxBurstSteps], [MaxStepOffset], [MaxCancelAfter]); FuzzParsePlan checks
// that.
//
// # Shrinking a flaky failure
//
// The property is "running the plan produces no finding". A [Shrinker] runs
// passes (drop bursts, drop steps, merge bursts, clear offsets and cancels,
// put users in login order) until none makes progress. A candidate counts as
// failing if it fails in any of K runs, and the runs stop at its first
// failure. K adapts to the rate at which the current plan reproduces:
//
//	K = ⌈ln δ / ln(1 − p_lo)⌉, capped at KMax = 60
//
// where δ = 0.05 and p_lo is the one-sided 90% Wilson lower bound of the
// current plan's measured rate, floored at 5%. Every accepted plan is
// calibrated: run until it has failed 3 times in at least 10 runs (at most
// KMax), and its estimate, not its parent's, plans the next K. Each candidate
// is recorded ([Candidate]) with its K, its runs, its failures and its rate.
//
// What that buys: a candidate that reproduces at least as often as p_lo is
// wrongly discarded with probability at most δ = 5%; with 90% confidence p_lo
// is below the current plan's true rate, so the guarantee holds for a
// candidate as good as the current plan. A wrong discard costs only a missed
// simplification, never a wrong result: a finding is a real leak, so an
// accepted candidate is never a false positive. The passes run again until a
// whole round makes no progress, which gives a wrongly discarded candidate
// another chance. For rates of 10–30% K is 29 down to 9 per rejected
// candidate; a candidate that fails costs its runs up to the first failure,
// about 1/p. Rates below 5% get K = 59, which still keeps δ at 5% at a 5%
// rate.
//
// # Saved failures
//
// Failing plans are saved in [DefaultDir] (testdata/crosstalk) as
// <target>-<seed>.json. [Search] re-runs them first, each as many times as a
// shrink candidate of its saved rate would get; one that still fails is
// reported at once, the way rapid re-runs its fail files.
package fuzz
