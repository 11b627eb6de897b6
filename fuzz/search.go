package fuzz

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// Config shapes a [Search].
type Config struct {
	Vocab Vocab
	Gen   GenOptions
	// Seed is the rapid seed of the first drawn plan; plan i is drawn from
	// Seed+i (0: a random first seed).
	Seed uint64
	// MaxPlans bounds the random plans drawn (default 200).
	MaxPlans int
	// Budget bounds the search and the shrink together (default 60s); the
	// measurement of the final plan comes on top of it.
	Budget time.Duration
	// Delta and KMax tune the shrinker (see [Shrinker]).
	Delta float64
	KMax  int
	// Measure is how many times the final plan is run to measure its
	// reproduction rate (default 50).
	Measure int
	// Saved are plans that failed before; they are re-run first, like
	// rapid's fail files, and one that still fails is shrunk instead of
	// searching afresh.
	Saved []SavedPlan
	// SavedOnly shrinks a saved plan that still fails and draws no random
	// plans: crosstalk fuzz -plan, for a plan from elsewhere (a log).
	SavedOnly bool
	// Progress, if set, is told what the search is doing.
	Progress func(Event)
}

// SavedPlan is a plan file kept from an earlier failure.
type SavedPlan struct {
	Path string
	File *File
}

// Event is a step of a search, for progress output.
type Event struct {
	// Kind is "saved", "plan", "found", "candidate", "sync", "measure"
	// (the measuring runs of the minimal plan begin), "measure-end" (they
	// are over) or "measured" (with their estimate).
	Kind string
	// Sync names the strategy a "sync" event measured the minimal plan with.
	Sync      string
	Seed      uint64
	Steps     int
	Failed    bool
	Candidate *Candidate
	Estimate  Estimate
	// Saved names the saved plan an event is about.
	Saved string
}

// Result is what a search found.
type Result struct {
	Found bool
	// Seed drew the original plan; FromSaved is the path of the saved
	// plan that still failed, if one did.
	Seed      uint64
	FromSaved string
	// Given is set when FromSaved is the plan a SavedOnly search was given.
	Given    bool
	Original harness.Plan
	// Plans is how many random plans were drawn and run.
	Plans    int
	Shrink   ShrinkResult
	Measured Estimate
	Finding  *harness.Finding
	// FirstSeed is the seed of the first random plan; plan i used
	// FirstSeed+i, so a search that found nothing can be repeated.
	FirstSeed uint64
	// Requests, Errors and Bursts add up the random plans' runs: a search
	// that found nothing only means something if the target answered.
	Requests, Errors, Bursts int
	// Coverage adds up the random plans' coverage the same way.
	Coverage harness.Coverage
	// Interrupted is set when ctx ended the shrink: Shrink holds the
	// smallest failing plan so far, and Measured is empty.
	Interrupted bool
	// Persistence is the kind of the minimal plan's leak, as the control
	// after it told.
	Persistence harness.Persistence
	// Persistent is set when, with no reset to return the target to a
	// known state, a control leaked: the search stopped there, and Shrink
	// and Measured are empty, since no plan shrunk across executions from
	// there on could be trusted to hold the cause.
	Persistent *PersistentLeak
	// Times of the three phases.
	SearchTime, ShrinkTime, MeasureTime time.Duration
}

// Search looks for a plan that leaks: saved plans first, then random plans
// drawn by [PlanGen], each run once. The first that fails is shrunk by a
// [Shrinker] and the result measured over Config.Measure runs. Found is false
// when no plan failed within MaxPlans and Budget.
func Search(ctx context.Context, exec Executor, cfg Config) (*Result, error) {
	if err := cfg.Vocab.check(); err != nil {
		return nil, err
	}
	if cfg.MaxPlans <= 0 {
		cfg.MaxPlans = 200
	}
	if cfg.Budget <= 0 {
		cfg.Budget = 60 * time.Second
	}
	if cfg.Measure <= 0 {
		cfg.Measure = 50
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() >> 2
	}
	res := &Result{FirstSeed: cfg.Seed}
	emit := func(e Event) {
		if cfg.Progress != nil {
			cfg.Progress(e)
		}
	}
	start := time.Now()
	deadline := start.Add(cfg.Budget)
	var first Execution
	var est Estimate
	for _, sp := range cfg.Saved {
		f := sp.File
		// As many runs as a shrink candidate of the saved rate would get.
		k := RepetitionsFor(max(f.Reproduction.Low(), rateFloor), DefaultDelta, DefaultKMax)
		got, n, err := runUntilFail(ctx, exec, f.Plan, k)
		if pl, ok := asPersistent(err); ok {
			res.Found, res.Seed, res.FromSaved, res.Original = true, f.Seed, sp.Path, clonePlan(f.Plan)
			return res.persistent(pl, start), nil
		}
		if err != nil {
			return nil, err
		}
		emit(Event{Kind: "saved", Seed: f.Seed, Steps: f.Plan.Len(), Failed: got.Failed(), Saved: sp.Path, Estimate: Estimate{Runs: n, Fails: b2i(got.Failed())}})
		if got.Failed() {
			res.Found, res.Seed, res.FromSaved, res.Original = true, f.Seed, sp.Path, clonePlan(f.Plan)
			first, est = got, Estimate{Runs: n, Fails: 1}
			break
		}
	}
	gen := PlanGen(cfg.Vocab, cfg.Gen)
	for i := 0; !res.Found && !cfg.SavedOnly && i < cfg.MaxPlans && time.Now().Before(deadline); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seed := cfg.Seed + uint64(i)
		p, err := drawPlan(gen, seed)
		if err != nil {
			return nil, err
		}
		o, err := exec.Execute(ctx, p)
		if pl, ok := asPersistent(err); ok {
			res.Plans++
			res.Found, res.Seed, res.Original = true, seed, p
			return res.persistent(pl, start), nil
		}
		if err != nil {
			return nil, err
		}
		res.Plans++
		res.Requests, res.Errors, res.Bursts = res.Requests+o.Requests, res.Errors+o.Errors, res.Bursts+o.Bursts
		res.Coverage.Add(o.Coverage)
		emit(Event{Kind: "plan", Seed: seed, Steps: p.Len(), Failed: o.Failed()})
		if o.Failed() {
			res.Found, res.Seed, res.Original, first, est = true, seed, p, o, Estimate{Runs: 1, Fails: 1}
		}
	}
	res.SearchTime = time.Since(start)
	if !res.Found {
		return res, nil
	}
	res.Given = cfg.SavedOnly
	emit(Event{Kind: "found", Seed: res.Seed, Steps: res.Original.Len()})
	t0 := time.Now()
	sh := &Shrinker{Exec: exec, Delta: cfg.Delta, KMax: cfg.KMax, Deadline: deadline,
		OnCandidate: func(c Candidate) { emit(Event{Kind: "candidate", Candidate: &c, Steps: c.Steps}) }}
	sr, err := sh.Shrink(ctx, res.Original, est)
	if pl, ok := asPersistent(err); ok {
		res.ShrinkTime = time.Since(t0)
		return res.persistent(pl, time.Time{}), nil
	}
	if err != nil {
		return nil, err
	}
	if !sr.Failure.Failed() {
		sr.Failure = first
	}
	res.Shrink, res.ShrinkTime = sr, time.Since(t0)
	if ctx.Err() != nil {
		// Interrupted: keep the smallest failing plan, unmeasured.
		res.Interrupted, res.Finding = true, firstFinding(sr.Failure, first)
		return res, nil
	}
	t1 := time.Now()
	if sw, ok := exec.(SyncSwitcher); ok {
		err := pickSync(ctx, sw, exec, sr.Plan, cfg.Measure, emit)
		if pl, ok := asPersistent(err); ok {
			return res.persistent(pl, time.Time{}), nil
		}
		if err != nil {
			return nil, err
		}
	}
	emit(Event{Kind: "measure", Steps: sr.Plan.Len()})
	m, last, err := Measure(ctx, exec, sr.Plan, cfg.Measure)
	emit(Event{Kind: "measure-end", Steps: sr.Plan.Len()})
	if pl, ok := asPersistent(err); ok {
		return res.persistent(pl, time.Time{}), nil
	}
	if err != nil {
		return nil, err
	}
	res.Measured, res.MeasureTime = m, time.Since(t1)
	emit(Event{Kind: "measured", Steps: sr.Plan.Len(), Estimate: m})
	res.Finding = firstFinding(last, sr.Failure, first)
	if res.Finding != nil {
		res.Persistence = res.Finding.Persistence
	}
	return res, nil
}

// asPersistent reports whether err is an executor's [*PersistentLeak].
func asPersistent(err error) (*PersistentLeak, bool) {
	var pl *PersistentLeak
	ok := errors.As(err, &pl)
	return pl, ok
}

// persistent ends a search at a persistent leak: the result names it, with
// the first finding of the execution or, when that one did not leak itself,
// of the control. searchStart, when set, closes the search phase.
func (r *Result) persistent(pl *PersistentLeak, searchStart time.Time) *Result {
	if !searchStart.IsZero() {
		r.SearchTime = time.Since(searchStart)
	}
	r.Persistent, r.Persistence = pl, harness.Persistent
	r.Finding = firstFinding(pl.Outcome)
	if r.Finding == nil && pl.Control != nil && pl.Control.Finding != nil {
		fd := *pl.Control.Finding
		r.Finding = &fd
	}
	if r.Finding != nil {
		r.Finding.Persistence = harness.Persistent
	}
	return r
}

// Counts are the random plans' runs, for [harness.Decide]. Found is not
// among them: a found leak is decided by the minimal plan that shows it.
func (r *Result) Counts() harness.Counts {
	return harness.Counts{Requests: r.Requests, Errors: r.Errors, Bursts: r.Bursts, Coverage: r.Coverage}
}

// firstFinding returns the first finding of the first failing outcome.
func firstFinding(outs ...Execution) *harness.Finding {
	for _, o := range outs {
		if o.Failed() {
			f := o.Findings[0]
			return &f
		}
	}
	return nil
}

// pickSync measures plan under every strategy and leaves sw on the one that
// reproduced it most often (the first listed on a tie). The plan's rate is
// then measured afresh by the caller: the figure that picked the winner is
// biased upwards by the picking.
func pickSync(ctx context.Context, sw SyncSwitcher, exec Executor, plan harness.Plan, n int, emit func(Event)) error {
	best, bestRate := "", -1.0
	for _, name := range sw.Strategies() {
		if err := sw.UseSync(name); err != nil {
			return err
		}
		m, _, err := Measure(ctx, exec, plan, n)
		if err != nil {
			// A strategy the target does not speak (h2 on HTTP/1.1 only)
			// shows as errors, not as a failed Measure; a real error ends it.
			return err
		}
		emit(Event{Kind: "sync", Sync: name, Estimate: m})
		if rate := m.Rate(); m.Runs > 0 && rate > bestRate {
			best, bestRate = name, rate
		}
	}
	if best == "" {
		return nil
	}
	return sw.UseSync(best)
}

// drawPlan draws the plan of one seed. rapid reports a generator that
// cannot draw by panicking; that is turned into an error here, since a
// vocabulary from a user's spec must never crash the command.
func drawPlan(gen interface{ Example(...int) harness.Plan }, seed uint64) (p harness.Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fuzz: drawing the plan of seed %d: %v", seed, r)
		}
	}()
	return gen.Example(int(seed & (1<<62 - 1))), nil
}

// DrawPlan draws the plan rapid draws for seed, the way [Search] does: the
// same vocabulary, options and seed give the same plan.
func DrawPlan(v Vocab, o GenOptions, seed uint64) (harness.Plan, error) {
	if err := v.check(); err != nil {
		return harness.Plan{}, err
	}
	return drawPlan(PlanGen(v, o), seed)
}

// runUntilFail runs p up to k times and returns the first failing outcome
// (or the last) and how many runs it took.
func runUntilFail(ctx context.Context, exec Executor, p harness.Plan, k int) (Execution, int, error) {
	var o Execution
	for n := 1; n <= k; n++ {
		var err error
		if o, err = exec.Execute(ctx, p); err != nil {
			return o, n, err
		}
		if o.Failed() {
			return o, n, nil
		}
	}
	return o, k, nil
}

// Measure runs p n times and counts the runs that found a leak; it returns
// the last failing outcome, if any.
func Measure(ctx context.Context, exec Executor, p harness.Plan, n int) (Estimate, Execution, error) {
	var est Estimate
	var last Execution
	for range n {
		o, err := exec.Execute(ctx, p)
		if err != nil {
			return est, last, err
		}
		est.Runs++
		if o.Failed() {
			est.Fails++
			last = o
		}
		if !o.Failed() && o.Requests > 0 && o.Errors == o.Requests {
			est.Broken++
		}
	}
	return est, last, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// File makes the plan file of a result. A persistent leak found without a
// reset saves the plan of the execution after which the control first
// leaked, unshrunk and unmeasured, as needing a reset: run fuzz again with
// one to shrink it.
func (r *Result) File(specPath, specName, baseURL, sync string) *File {
	f := &File{Version: FileVersion, Spec: specPath, SpecName: specName, BaseURL: baseURL, Sync: sync, Seed: r.Seed,
		OriginalSteps: r.Original.Len(), Plan: clonePlan(r.Shrink.Plan), Reproduction: r.Measured,
		Finding: r.Finding, Persistence: r.Persistence, NeedsReset: r.Persistence == harness.Persistent,
		Created: time.Now().UTC().Truncate(time.Second)}
	if r.Persistent != nil {
		f.Plan = clonePlan(r.Persistent.Plan)
	}
	return f
}

// DefaultDir is where failing plans are kept between runs, like rapid's
// testdata/rapid.
const DefaultDir = "testdata/crosstalk"

// SavedPath is where the plan of a failure of target drawn from seed is
// kept in dir.
func SavedPath(dir, target string, seed uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d.json", safeName(target), seed))
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "target"
	}
	return b.String()
}

// LoadSaved reads the saved plans of the spec named specName in dir, newest first. A missing
// dir is no saved plans; an unreadable file is reported and skipped, so one
// bad file does not stop a fuzz.
func LoadSaved(dir, specName string) (saved []SavedPlan, problems []error) {
	matches, _ := filepath.Glob(filepath.Join(dir, safeName(specName)+"-*.json"))
	type entry struct {
		f    *File
		path string
		mod  time.Time
	}
	var es []entry
	for _, m := range matches {
		f, err := ReadFile(m)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if f.SpecName != specName {
			continue
		}
		var mod time.Time
		if st, err := os.Stat(m); err == nil {
			mod = st.ModTime()
		}
		es = append(es, entry{f, m, mod})
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].mod.After(es[j].mod) })
	for _, e := range es {
		saved = append(saved, SavedPlan{Path: e.path, File: e.f})
	}
	return saved, problems
}
