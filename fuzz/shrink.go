package fuzz

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// Executor fires a plan once. [harness.Fixture] is the usual one (through
// [FixtureExecutor]); tests use fakes with a known reproduction rate.
type Executor interface {
	Execute(ctx context.Context, p harness.Plan) (Execution, error)
}

// Execution is what one execution of a plan showed: the findings
// themselves, where a [harness.Outcome] only counts them.
type Execution struct {
	// Findings are the leaks seen; the property "no finding" fails on any.
	Findings []harness.Finding
	Requests int
	Errors   int
	Bursts   int
	// Coverage is how many of its read responses carried their viewer's
	// own data (see [harness.Coverage]).
	Coverage harness.Coverage
	// Persistence is what the control said about this plan's leak, when a
	// control has run after it (see [FixtureExecutor]).
	Persistence harness.Persistence
}

// Failed reports whether the execution found a leak.
func (o Execution) Failed() bool { return len(o.Findings) > 0 }

// FixtureExecutor fires plans at a [harness.Fixture] and keeps the runs
// hermetic: the fixture resets the target before each one when it has a
// reset, and logs the plan's users in afresh unless the spec keeps
// sessions. After an execution that leaked, the executor runs a control
// (each user's reads, one user at a time) to tell a transient leak from a
// persistent one:
//
//   - With a reset, a persistent leak is followed by a reset and a control
//     that must be clean before the next execution runs; a reset that
//     leaves the control leaking is an error. Each distinct plan is
//     controlled once: the reset before every execution keeps the others
//     apart.
//   - Without one, a persistent leak ends the executor: Execute returns a
//     [*PersistentLeak], now and ever after, since no later execution would
//     show more than the damage. Until the first leak it runs a control
//     after every execution, so that the execution after which the damage
//     began is known exactly.
type FixtureExecutor struct {
	Fixture *harness.Fixture
	// Sink, when set, receives every record of every execution, as a run's
	// stream would: fuzz sets it for the measuring runs of the minimal
	// plan, replay for all of its runs, so that their reports read the
	// same stream as a run's.
	Sink harness.Sink

	executions int
	// cleanAfter is the last execution after which a control was clean
	// (0: the setup's baseline).
	cleanAfter int
	leaked     bool
	stopped    *PersistentLeak
	kinds      map[string]harness.Persistence
}

// ErrControlBlind is wrapped by the error a [FixtureExecutor] returns when
// the control after a leak could not see every user's own data (a session
// the target dropped, a login that failed): clean as it may look, it shows
// nothing about the target's state.
var ErrControlBlind = errors.New("blind control")

// PersistentLeak is the error a [FixtureExecutor] without a reset returns
// once a control has leaked: the target's state is corrupted, and every
// later request of the affected users leaks until it is reset. Shrinking
// across executions from here would keep whatever plan runs next, however
// little of the cause it holds.
type PersistentLeak struct {
	// Execution is the number of the execution after which the control
	// first leaked, and CleanAfter that of the last one after which a
	// control was clean (0: the setup). The damage began in the
	// executions between, which are exactly Execution when CleanAfter is
	// Execution-1.
	Execution, CleanAfter int
	// Plan is the plan of that execution, and Outcome what it showed: it
	// may have leaked itself, or left the damage for the control to find.
	Plan    harness.Plan
	Outcome Execution
	// Control is the control that leaked.
	Control *harness.Control
}

func (p *PersistentLeak) Error() string {
	fd := p.Control.Finding
	at := fmt.Sprintf("execution %d", p.Execution)
	if p.CleanAfter < p.Execution-1 {
		at = fmt.Sprintf("executions %d to %d", p.CleanAfter+1, p.Execution)
	}
	msg := fmt.Sprintf("persistent leak: the target's state was corrupted during %s; the control after it leaked", at)
	if fd != nil {
		msg += fmt.Sprintf(" (%s was shown %s's %s data through %s %s)", fd.Viewer, fd.Owner, fd.Data, fd.Method, fd.Path)
	}
	return msg
}

// Execute implements [Executor].
func (e *FixtureExecutor) Execute(ctx context.Context, p harness.Plan) (Execution, error) {
	if e.stopped != nil {
		return Execution{}, e.stopped
	}
	var out Execution
	res, err := e.Fixture.Execute(ctx, p, func(r harness.Record) error {
		if r.Finding != nil {
			out.Findings = append(out.Findings, *r.Finding)
		}
		if e.Sink != nil {
			return e.Sink(r)
		}
		return nil
	})
	if res != nil {
		out.Requests, out.Errors, out.Bursts = res.Requests, res.Errors, res.Bursts
		if res.Coverage != nil {
			out.Coverage = *res.Coverage
		}
		if res.CutShort && err == nil && ctx.Err() != nil && !out.Failed() {
			// An execution cut by Ctrl-C did not show the plan clean; it
			// must not count as a run without a leak.
			err = ctx.Err()
		}
	}
	if err != nil {
		return out, err
	}
	e.executions++
	resets := e.Fixture.ResetName() != ""
	key := planKey(p)
	kind, known := e.kinds[key]
	switch {
	case out.Failed() && resets && known:
	case out.Failed(), !resets && !e.leaked:
		c, err := e.Fixture.Control(ctx)
		if err != nil {
			return out, err
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		kind = c.Persistence()
		if kind == "" {
			if !out.Failed() {
				// Nothing to judge; only the point after which the damage
				// began stays where it was.
				break
			}
			return out, fmt.Errorf("%w: the control after execution %d could not see its users' own data (%d of %d reads did not carry it, though their baselines had): it cannot tell a transient leak from a persistent one, so no plan is shrunk across executions",
				ErrControlBlind, e.executions, c.Lost, c.Requests)
		}
		if out.Failed() {
			e.leaked = true
			if e.kinds == nil {
				e.kinds = map[string]harness.Persistence{}
			}
			e.kinds[key] = kind
		}
		if kind == harness.Transient {
			e.cleanAfter = e.executions
			break
		}
		if !resets {
			e.stopped = &PersistentLeak{Execution: e.executions, CleanAfter: e.cleanAfter, Plan: clonePlan(p), Outcome: out, Control: c}
			return out, e.stopped
		}
		if err := e.Fixture.Reset(ctx); err != nil {
			return out, err
		}
		after, err := e.Fixture.Control(ctx)
		if err != nil {
			return out, err
		}
		if after.Findings > 0 {
			fd := after.Finding
			return out, fmt.Errorf("%w: the control still leaked after the reset (%s was shown %s's %s data through %s %s); the reset does not return the target to a clean state",
				harness.ErrReset, fd.Viewer, fd.Owner, fd.Data, fd.Method, fd.Path)
		}
	}
	if out.Failed() {
		out.Persistence = kind
		for i := range out.Findings {
			out.Findings[i].Persistence = kind
		}
	}
	return out, nil
}

// planKey identifies a plan by its steps.
func planKey(p harness.Plan) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// Strategies implements [SyncSwitcher].
func (e *FixtureExecutor) Strategies() []string { return harness.Strategies() }

// UseSync implements [SyncSwitcher].
func (e *FixtureExecutor) UseSync(name string) error { return e.Fixture.UseSync(name) }

// SyncSwitcher is an [Executor] whose burst release strategy can change
// between executions. [Search] uses it to fire the minimal plan with the
// strategy that reproduces it most often.
type SyncSwitcher interface {
	Strategies() []string
	UseSync(name string) error
}

// Candidate is one plan the shrinker tried, with what it cost and how often
// it reproduced.
type Candidate struct {
	Pass   string `json:"pass"`
	Steps  int    `json:"steps"`
	Bursts int    `json:"bursts"`
	Users  int    `json:"users"`
	// K is the most repetitions the candidate was allowed; it stopped at its
	// first failure.
	K        int      `json:"k"`
	Estimate Estimate `json:"estimate"`
	Accepted bool     `json:"accepted"`
	// Rate is the estimated reproduction probability of the candidate: the
	// calibrated rate once accepted, else what its runs showed.
	Rate float64 `json:"rate"`
}

// Shrinker minimises a failing plan whose failure does not reproduce every
// time. A candidate counts as failing if it fails in any of K runs, with K
// chosen from the current plan's measured rate (see [RepetitionsFor]); every
// accepted plan is calibrated with extra runs so that K follows the rate as
// it changes.
type Shrinker struct {
	Exec Executor
	// Delta is the accepted chance of discarding a candidate that reproduces
	// as often as the current plan (default [DefaultDelta]).
	Delta float64
	// KMax caps K (default [DefaultKMax]).
	KMax int
	// Calibrate is how many failures an accepted plan is run to, at most
	// KMax runs, to estimate its rate (default 3).
	Calibrate int
	// MinCalibrate is the fewest runs behind an estimate (default 10): three
	// failures in three runs says little about a plan that fails one time in
	// five, and K planned from it would be too small.
	MinCalibrate int
	// Deadline and MaxRuns bound the whole shrink; the best plan so far is
	// returned when either is reached.
	Deadline time.Time
	MaxRuns  int
	// OnCandidate, if set, sees every candidate as it is decided.
	OnCandidate func(Candidate)

	runs  int
	trail []Candidate
	last  Execution
}

// ShrinkResult is a shrunk plan and how it was got.
type ShrinkResult struct {
	Plan harness.Plan
	// Estimate is the calibrated rate of Plan.
	Estimate Estimate
	// Failure is an execution of Plan that found a leak.
	Failure Execution
	Trail   []Candidate
	Runs    int
	// Complete is false when the deadline or the run budget stopped the
	// shrink before no pass could shrink further.
	Complete bool
}

var errBudget = errors.New("shrink budget spent")

func (s *Shrinker) defaults() {
	if s.Delta <= 0 || s.Delta >= 1 {
		s.Delta = DefaultDelta
	}
	if s.KMax < 1 {
		s.KMax = DefaultKMax
	}
	if s.Calibrate < 1 {
		s.Calibrate = 3
	}
	if s.MinCalibrate < 1 {
		s.MinCalibrate = 10
	}
}

// run executes p once, counting it against the budget.
func (s *Shrinker) run(ctx context.Context, p harness.Plan) (Execution, error) {
	if err := ctx.Err(); err != nil {
		return Execution{}, err
	}
	if (s.MaxRuns > 0 && s.runs >= s.MaxRuns) || (!s.Deadline.IsZero() && time.Now().After(s.Deadline)) {
		return Execution{}, errBudget
	}
	s.runs++
	return s.Exec.Execute(ctx, p)
}

// calibrate runs p until it has failed s.Calibrate times in at least
// s.MinCalibrate runs (counting est), or KMax runs were made, and returns the
// grown estimate.
func (s *Shrinker) calibrate(ctx context.Context, p harness.Plan, est Estimate) (Estimate, error) {
	for (est.Fails < s.Calibrate || est.Runs < s.MinCalibrate) && est.Runs < s.KMax {
		o, err := s.run(ctx, p)
		if err != nil {
			return est, err
		}
		est.Runs++
		if o.Failed() {
			est.Fails++
			s.last = o
		}
	}
	return est, nil
}

// Shrink minimises p, which failed at least once (est counts what is known
// of it; the zero Estimate is taken as one failure in one run). Passes, in
// order, until none makes progress: drop bursts, drop steps, merge bursts,
// simplify steps (offsets and cancels), and rename users to the first
// ones the plan uses.
func (s *Shrinker) Shrink(ctx context.Context, p harness.Plan, est Estimate) (ShrinkResult, error) {
	s.defaults()
	s.runs, s.trail = 0, nil
	if est.Runs == 0 {
		est = Estimate{Runs: 1, Fails: 1}
	}
	cur := clonePlan(p)
	var err error
	res := ShrinkResult{}
	if est, err = s.calibrate(ctx, cur, est); err != nil && !stopsShrink(err) {
		return res, err
	}
	s.record("start", cur, Estimate{}, 0, true, est)
	complete := false
	for err == nil {
		progress := false
		for _, pass := range passes {
			var next harness.Plan
			var nest Estimate
			var ok bool
			next, nest, ok, err = s.pass(ctx, pass, cur, est)
			if ok {
				cur, est, progress = next, nest, true
			}
			if err != nil {
				break
			}
		}
		if err == nil && !progress {
			complete = true
			break
		}
	}
	if err != nil && !stopsShrink(err) {
		return res, err
	}
	res = ShrinkResult{Plan: cur, Estimate: est, Failure: s.last, Trail: s.trail, Runs: s.runs, Complete: complete}
	return res, nil
}

// stopsShrink reports whether err ends a shrink with the smallest failing
// plan so far as its result: the budget ran out, or the user pressed Ctrl-C.
// A plan that leaked must not be lost because the shrink was not finished.
func stopsShrink(err error) bool {
	return errors.Is(err, errBudget) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// try decides one candidate: up to K runs, stopping at the first failure.
// An accepted candidate is calibrated; its estimate replaces the parent's.
func (s *Shrinker) try(ctx context.Context, name string, c harness.Plan, parent Estimate) (Estimate, bool, error) {
	k := RepetitionsFor(max(parent.Low(), rateFloor), s.Delta, s.KMax)
	var e Estimate
	for e.Runs < k {
		o, err := s.run(ctx, c)
		if err != nil {
			s.record(name, c, e, k, false, Estimate{})
			return e, false, err
		}
		e.Runs++
		if o.Failed() {
			e.Fails++
			s.last = o
			cal, err := s.calibrate(ctx, c, e)
			s.record(name, c, e, k, true, cal)
			return cal, true, err
		}
	}
	s.record(name, c, e, k, false, Estimate{})
	return e, false, nil
}

func (s *Shrinker) record(pass string, p harness.Plan, e Estimate, k int, ok bool, cal Estimate) {
	c := Candidate{Pass: pass, Steps: p.Len(), Bursts: len(p.Bursts), Users: len(planUsers(p)), K: k, Estimate: e, Accepted: ok, Rate: e.Rate()}
	if ok {
		c.Estimate, c.Rate = cal, cal.Rate()
	}
	s.trail = append(s.trail, c)
	if s.OnCandidate != nil {
		s.OnCandidate(c)
	}
}

// A pass proposes smaller or simpler variants of a plan, most aggressive
// first; the first that still fails is taken and the pass starts over from
// it.
type pass struct {
	name    string
	propose func(p harness.Plan) []harness.Plan
}

var passes = []pass{
	{"drop bursts", dropBursts},
	{"drop steps", dropSteps},
	{"merge bursts", mergeBursts},
	{"simplify steps", simplifySteps},
	{"rename users", renameUsers},
}

func (s *Shrinker) pass(ctx context.Context, ps pass, cur harness.Plan, est Estimate) (harness.Plan, Estimate, bool, error) {
	improved := false
	for again := true; again; {
		again = false
		for _, c := range ps.propose(cur) {
			if len(c.Bursts) == 0 || c.Len() == 0 {
				continue
			}
			e, ok, err := s.try(ctx, ps.name, c, est)
			if ok {
				cur, est, improved, again = c, e, true, true
			}
			if err != nil {
				return cur, est, improved, err
			}
			if ok {
				break
			}
		}
	}
	return cur, est, improved, nil
}

// chunks proposes removing runs of n items for n = len/2, len/4, ..., 1, in
// the manner of delta debugging, as index sets to keep.
func chunks(n int) [][2]int {
	var out [][2]int
	for size := n / 2; size >= 1; size /= 2 {
		for lo := 0; lo < n; lo += size {
			out = append(out, [2]int{lo, min(lo+size, n)})
		}
		if size == 1 {
			break
		}
	}
	if n == 1 {
		out = append(out, [2]int{0, 1})
	}
	return out
}

func dropBursts(p harness.Plan) []harness.Plan {
	var out []harness.Plan
	// Each single burst alone first: most leaks need one burst.
	if len(p.Bursts) > 1 {
		for i := range p.Bursts {
			out = append(out, harness.Plan{Bursts: []harness.Burst{cloneBurst(p.Bursts[i])}})
		}
	}
	for _, c := range chunks(len(p.Bursts)) {
		if c[1]-c[0] == len(p.Bursts) {
			continue
		}
		q := clonePlan(p)
		q.Bursts = slices.Delete(q.Bursts, c[0], c[1])
		out = append(out, q)
	}
	return out
}

func dropSteps(p harness.Plan) []harness.Plan {
	var out []harness.Plan
	for i, b := range p.Bursts {
		for _, c := range chunks(len(b.Steps)) {
			q := clonePlan(p)
			q.Bursts[i].Steps = slices.Delete(q.Bursts[i].Steps, c[0], c[1])
			if len(q.Bursts[i].Steps) == 0 {
				q.Bursts = slices.Delete(q.Bursts, i, i+1)
			}
			out = append(out, q)
		}
	}
	return out
}

func mergeBursts(p harness.Plan) []harness.Plan {
	var out []harness.Plan
	for i := 0; i+1 < len(p.Bursts); i++ {
		q := clonePlan(p)
		q.Bursts[i].Steps = append(q.Bursts[i].Steps, q.Bursts[i+1].Steps...)
		q.Bursts = slices.Delete(q.Bursts, i+1, i+2)
		out = append(out, q)
	}
	return out
}

// simplifySteps clears offsets and cancels one step at a time: a plan
// that needs none of them is easier to read and to replay.
func simplifySteps(p harness.Plan) []harness.Plan {
	var out []harness.Plan
	for i, b := range p.Bursts {
		for j, st := range b.Steps {
			if st.Offset != 0 || st.CancelAfter != 0 {
				q := clonePlan(p)
				q.Bursts[i].Steps[j].Offset, q.Bursts[i].Steps[j].CancelAfter = 0, 0
				out = append(out, q)
			}
		}
	}
	return out
}

// renameUsers permutes the plan's users so that they appear in login order
// (user3 before user7). It never merges two users into one. It exists so
// that shrinking the same bug from different plans ends on the same plan.
func renameUsers(p harness.Plan) []harness.Plan {
	users := planUsers(p)
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, compareLogins)
	if slices.Equal(users, sorted) {
		return nil
	}
	m := map[string]string{}
	for i, u := range users {
		m[u] = sorted[i]
	}
	q := clonePlan(p)
	for i := range q.Bursts {
		for j := range q.Bursts[i].Steps {
			st := &q.Bursts[i].Steps[j]
			st.User = m[st.User]
			if st.Peer != "" {
				st.Peer = m[st.Peer]
			}
		}
	}
	return []harness.Plan{q}
}

// compareLogins orders user5 before user12.
func compareLogins(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return cmp.Compare(a, b)
}

// planUsers lists the users (and peers) of p in order of first appearance.
func planUsers(p harness.Plan) []string {
	var out []string
	seen := map[string]bool{}
	for _, b := range p.Bursts {
		for _, st := range b.Steps {
			for _, u := range []string{st.User, st.Peer} {
				if u != "" && !seen[u] {
					seen[u] = true
					out = append(out, u)
				}
			}
		}
	}
	return out
}

func clonePlan(p harness.Plan) harness.Plan {
	q := harness.Plan{Bursts: make([]harness.Burst, len(p.Bursts))}
	for i, b := range p.Bursts {
		q.Bursts[i] = cloneBurst(b)
	}
	return q
}

func cloneBurst(b harness.Burst) harness.Burst {
	return harness.Burst{Steps: slices.Clone(b.Steps)}
}
