// Package harness is crosstalk's engine: it proves that a multi-user web
// service keeps each user's data to that user under concurrency, or finds
// the response that did not. It is a library: it never parses flags or
// exits.
//
// # The pipeline
//
//	spec → sessions → plan → fire → exchanges → oracle → findings → verdict → reports
//
// A [spec.Spec] describes the target. The setup logs every user in,
// plants canaries, learns markers from sequential baselines and builds the
// oracle: that is a [Fixture], which outlives any one execution. An
// execution fires bursts at the fixture (drawn at random, or a [Plan]'s),
// released together by a sync strategy; each reply is filed into an
// [Exchange], judged by the oracle for other users' markers, and every hit
// is a [Finding]. Each response is also checked for its viewer's own data:
// that is its [Coverage], since a response that carries nobody's data (a
// 404, an empty page, a login page) cannot show a leak. [Decide] turns the
// counts and the coverage into a [Verdict], and the whole execution is
// streamed as [Record]s that every report reads.
//
// # Entry points
//
//   - [Run]: set up and execute once, within a [Budget] of time or requests.
//   - [NewFixture], then [Fixture.Execute] per plan: set up once and fire
//     plans again and again, as fuzz's shrinker and replay do. Each
//     execution logs the plan's users in afresh (unless the spec keeps
//     sessions) and, with a reset, resets the target first;
//     [Fixture.Control] tells a transient leak from a persistent one.
//   - [Decide]: the one verdict rule, for anything that adds up executions.
//
// # Where each stage lives
//
// Each file is one stage, and files depend on each other one way only: no
// two files use each other's names (layout_test.go counts such pairs with
// go/types, and there are none).
//
//	options.go           FixtureOptions (setup) and Budget (one execution); checks
//	fixture.go           Fixture: what the setup made, and which sessions are whose
//	credentials.go       a user's credentials, for clients outside the harness
//	setup.go             NewFixture: logins, seeds, baselines, markers, the oracle
//	sessions.go          one user's session: credentials, templates, extraction
//	actions.go           plan actions: writes and their grants, logins, logouts
//	plan.go              Plan, Burst, Step: plans are data
//	execution.go         one execution: its sink, budget, counters and outcome
//	burst.go             draw, prepare and release bursts within the budget
//	cachebust.go         a fresh query parameter per burst, for caches in front
//	strategy.go          the ordered list of sync strategies
//	strategy_barrier.go  one goroutine per step, parked on one channel
//	strategy_lastbyte.go all but the final byte early, then the final bytes
//	strategy_h2.go       the single packet: every final HTTP/2 frame in one write
//	strategy_auto.go     calibrate every strategy on the target, pick the tightest
//	exchange.go          a reply, or its failure, filed into an Exchange
//	judge.go             the oracle over an exchange: findings, coverage, state kept clean
//	confirm.go           a finding on learned markers alone, checked against the viewer's own data
//	coverage.go          Coverage: which responses carried their viewer's own data; blind requests
//	verdict.go           Verdict, exit codes, Decide
//	timing.go            burst timing and the one nearest-rank percentile
//	record.go            the result stream's records
//	reset.go             Fixture.Reset: the reset command or hook, the spec's reset requests, logins and canaries again
//	control.go           Fixture.Control: each user's reads, one at a time, after a leak; Run's control
//	run.go               Run and Fixture.Execute: the entry points
//
// The client connections themselves, HTTP/1.1 and HTTP/2 from one dial,
// are in internal/wire; the spec in [spec] and the oracle in [oracle].
package harness
