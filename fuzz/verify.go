package fuzz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// TB is the part of [testing.TB] that [VerifyIsolation] uses, so that a test
// can hand it a fake and check that it fails.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// Option tunes [VerifyIsolation] and [FuzzHandler].
type Option func(*verifyConfig)

type verifyConfig struct {
	search Config
	sync   string
	dir    string
	ctx    context.Context
}

// WithBudget bounds the search and shrink (default 20s).
func WithBudget(d time.Duration) Option { return func(c *verifyConfig) { c.search.Budget = d } }

// WithPlans bounds how many random plans are tried (default 200).
func WithPlans(n int) Option { return func(c *verifyConfig) { c.search.MaxPlans = n } }

// WithSeed fixes the first rapid seed, for a repeatable search.
func WithSeed(seed uint64) Option { return func(c *verifyConfig) { c.search.Seed = seed } }

// WithGen shapes the drawn plans.
func WithGen(o GenOptions) Option { return func(c *verifyConfig) { c.search.Gen = o } }

// WithMeasure sets how many runs measure the minimal plan (default 20).
func WithMeasure(n int) Option { return func(c *verifyConfig) { c.search.Measure = n } }

// WithSync names the harness sync strategy (default "barrier").
func WithSync(name string) Option { return func(c *verifyConfig) { c.sync = name } }

// WithDir keeps failing plans in dir and re-runs them first next time, the
// way rapid keeps testdata/rapid; [DefaultDir] is the usual choice. Without
// it nothing is written.
func WithDir(dir string) Option { return func(c *verifyConfig) { c.dir = dir } }

// WithContext bounds the whole verification by ctx.
func WithContext(ctx context.Context) Option { return func(c *verifyConfig) { c.ctx = ctx } }

func newVerifyConfig(opts []Option) verifyConfig {
	c := verifyConfig{ctx: context.Background()}
	c.search.Budget = 20 * time.Second
	c.search.Measure = 20
	for _, o := range opts {
		o(&c)
	}
	return c
}

// VerifyIsolation serves a handler made by newHandler on a loopback
// httptest server, runs the same search as crosstalk fuzz against it with
// the users and requests of spec s (its base_url is ignored), and fails t
// with a readable report and the minimal plan if any response carried
// another user's data. Before every execution after the first it builds a
// new handler with newHandler and serves that one instead, so that no
// execution sees what an earlier one left in the handler's state (a
// collided session, a stale pooled reply, a cache entry); the users log in
// and plant their canaries again on each. It returns the search result,
// nil when setup failed (t has then failed too).
//
// It lives in package fuzz rather than harness because it needs the
// generators and the shrinker, and package fuzz imports harness.
func VerifyIsolation(t TB, newHandler func() http.Handler, s *spec.Spec, opts ...Option) *Result {
	t.Helper()
	c := newVerifyConfig(opts)
	hr := newHandlerReset(newHandler)
	ts := httptest.NewServer(hr)
	defer hr.close()
	defer ts.Close()
	fx, err := harness.NewFixture(c.ctx, s, harness.FixtureOptions{BaseURL: ts.URL, Sync: c.sync, Reset: hr}, nil)
	if err != nil {
		t.Errorf("crosstalk: %v", err)
		return nil
	}
	defer fx.Close()
	if fx.Sequential > 0 {
		t.Errorf("crosstalk: %s leaks without any concurrency: %d responses of the sequential baseline carried another user's data",
			s.Name, fx.Sequential)
		return nil
	}
	c.search.Vocab = VocabOf(s)
	if c.dir != "" {
		saved, problems := LoadSaved(c.dir, s.Name)
		for _, p := range problems {
			t.Logf("crosstalk: skipping a saved plan: %v", p)
		}
		c.search.Saved = saved
	}
	res, err := Search(c.ctx, &FixtureExecutor{Fixture: fx}, c.search)
	if err != nil {
		t.Errorf("crosstalk: %v", err)
		return nil
	}
	if !res.Found {
		if v, reason := harness.Decide(res.Counts(), s.Limits.MaxErrorRate); v != harness.Isolated {
			// Plans that mostly failed, or saw nobody's data, show nothing
			// about isolation.
			t.Errorf("crosstalk: %s inconclusive: %s", s.Name, reason)
			return res
		}
		t.Logf("crosstalk: %s isolated: %d random plans (seeds %d..%d) found no leak in %v",
			s.Name, res.Plans, res.FirstSeed, res.FirstSeed+uint64(max(res.Plans, 1))-1, res.SearchTime.Round(time.Millisecond))
		return res
	}
	f := res.File("", s.Name, "", fx.Sync())
	f.Sessions, f.Reset = fx.SessionsName(), fx.ResetName()
	saved := ""
	if c.dir != "" {
		path := SavedPath(c.dir, s.Name, res.Seed)
		if res.FromSaved != "" {
			path = res.FromSaved
		}
		if err := f.WriteFile(path); err != nil {
			t.Logf("crosstalk: could not save the plan: %v", err)
		} else {
			saved = path
		}
	}
	t.Errorf("%s", Report(res, f, saved))
	return res
}

// handlerReset serves the handler it made last and is the [harness.Resetter]
// that makes a new one. A replaced handler with a Close method is closed
// once the requests it was serving have finished: one still finishing a
// canceled request must not be closed under it.
type handlerReset struct {
	make     func() http.Handler
	mu       sync.Mutex
	cur      *servedHandler
	retiring sync.WaitGroup
}

type servedHandler struct {
	h      http.Handler
	active sync.WaitGroup
}

func newHandlerReset(make func() http.Handler) *handlerReset {
	return &handlerReset{make: make, cur: &servedHandler{h: make()}}
}

func (h *handlerReset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	cur := h.cur
	cur.active.Add(1)
	h.mu.Unlock()
	defer cur.active.Done()
	cur.h.ServeHTTP(w, r)
}

// Reset implements [harness.Resetter].
func (h *handlerReset) Reset(context.Context) error {
	n := h.make()
	if n == nil {
		return errors.New("the handler constructor returned nil")
	}
	h.mu.Lock()
	old := h.cur
	h.cur = &servedHandler{h: n}
	h.retiring.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.retiring.Done()
		old.active.Wait()
		closeHandler(old.h)
	}()
	return nil
}

func (h *handlerReset) String() string { return "a new handler" }

// close closes the last handler once the server that served it is closed,
// and waits for the replaced ones.
func (h *handlerReset) close() {
	h.retiring.Wait()
	h.mu.Lock()
	cur := h.cur
	h.mu.Unlock()
	cur.active.Wait()
	closeHandler(cur.h)
}

func closeHandler(x http.Handler) {
	if c, ok := x.(interface{ Close() }); ok {
		c.Close()
	}
}

// Report explains a found leak in a few lines: who saw whose data through
// which request, how the plan shrank, how often it reproduces, and the plan.
func Report(res *Result, f *File, savedAt string) string {
	if res.Persistent != nil {
		return reportPersistent(res, f, savedAt)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "crosstalk: %s leaks across users", f.SpecName)
	if fd := res.Finding; fd != nil {
		fmt.Fprintf(&b, ": %s was shown %s's %s data through %s %s (%s marker %q in the %s)",
			fd.Viewer, fd.Owner, fd.Data, fd.Request, fd.Path, fd.Kind, fd.Marker, fd.Where)
	}
	b.WriteString("\n")
	m := res.Measured
	lo, hi := m.Interval95()
	from := fmt.Sprintf("seed %d", res.Seed)
	switch {
	case res.Given:
		from = "the given plan " + res.FromSaved
	case res.FromSaved != "":
		from = "saved plan " + res.FromSaved
	}
	fmt.Fprintf(&b, "  found by %s (%d steps), shrunk to %d steps in %d bursts with %d users in %v (%d runs)\n",
		from, res.Original.Len(), res.Shrink.Plan.Len(), len(res.Shrink.Plan.Bursts), len(planUsers(res.Shrink.Plan)),
		res.ShrinkTime.Round(time.Millisecond), res.Shrink.Runs)
	fmt.Fprintf(&b, "  the minimal plan reproduced in %d of %d runs (%.0f%%, 95%% interval %.0f–%.0f%%)\n",
		m.Fails, m.Runs, 100*m.Rate(), 100*lo, 100*hi)
	if res.Persistence != "" {
		fmt.Fprintf(&b, "  the leak is %s: %s\n", res.Persistence, persistenceMeans(res.Persistence))
	}
	fmt.Fprintf(&b, "  runs: %s sessions, %s\n", orNone(f.Sessions, "fresh"), resetPhrase(f.Reset))
	switch {
	case savedAt != "" && res.Given:
		fmt.Fprintf(&b, "  saved to %s\n", savedAt)
	case savedAt != "":
		fmt.Fprintf(&b, "  saved to %s; it is re-run first next time\n", savedAt)
	}
	pj, _ := json.MarshalIndent(res.Shrink.Plan, "  ", "  ")
	fmt.Fprintf(&b, "  plan: %s\n", pj)
	return b.String()
}

// persistenceMeans says in a few words what a kind of leak means.
func persistenceMeans(p harness.Persistence) string {
	if p == harness.Persistent {
		return "a control after it (each user's reads, one at a time) leaked too, so the target's state was corrupted and every later request of the affected users leaks until it is reset"
	}
	return "a control after it (each user's reads, one at a time) was clean"
}

func resetPhrase(reset string) string {
	if reset == "" {
		return "no reset"
	}
	return "reset before each run (" + reset + ")"
}

func orNone(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ResetHelp lists the ways to give a target a reset, for messages that
// need one.
const ResetHelp = `give the target a reset: -reset-cmd 'CMD' (restart it, restore a snapshot; bounded by -reset-timeout), ` +
	`reset: requests in the spec (an admin endpoint that clears its state), or, for crosstalk serve, -reset-token T with the spec's reset request POST /_reset`

// reportPersistent explains a persistent leak found without a reset: where
// the damage began, and why no minimal plan is given.
func reportPersistent(res *Result, f *File, savedAt string) string {
	pl := res.Persistent
	var b strings.Builder
	fmt.Fprintf(&b, "crosstalk: %s leaks across users, and the leak is persistent", f.SpecName)
	if fd := res.Finding; fd != nil {
		fmt.Fprintf(&b, ": %s was shown %s's %s data through %s %s (%s marker %q in the %s)",
			fd.Viewer, fd.Owner, fd.Data, fd.Request, fd.Path, fd.Kind, fd.Marker, fd.Where)
	}
	b.WriteString("\n")
	if c := pl.Control; c != nil && c.Finding != nil {
		fd := c.Finding
		fmt.Fprintf(&b, "  the control after execution %d (each user's reads, one at a time) leaked too: %s was shown %s's %s data through %s %s\n",
			pl.Execution, fd.Viewer, fd.Owner, fd.Data, fd.Method, fd.Path)
	}
	if pl.CleanAfter == pl.Execution-1 {
		fmt.Fprintf(&b, "  the damage began during execution %d (the control before it was clean), after these %d steps in %d bursts:\n",
			pl.Execution, pl.Plan.Len(), len(pl.Plan.Bursts))
	} else {
		fmt.Fprintf(&b, "  the damage began during executions %d to %d (the control after execution %d was clean); the last of them had these %d steps:\n",
			pl.CleanAfter+1, pl.Execution, pl.CleanAfter, pl.Plan.Len())
	}
	pj, _ := json.MarshalIndent(pl.Plan, "    ", "  ")
	fmt.Fprintf(&b, "    %s\n", pj)
	fmt.Fprintf(&b, "  every later request of the affected users leaks until the target's state is reset, so no minimal plan is claimed:\n")
	fmt.Fprintf(&b, "  shrinking across executions would keep whatever ran next, however little of the cause it held\n")
	fmt.Fprintf(&b, "  to shrink it, %s\n", ResetHelp)
	if savedAt != "" {
		fmt.Fprintf(&b, "  saved, unshrunk and marked as needing a reset, to %s\n", savedAt)
	}
	return b.String()
}

// ReplayHandler serves handler on a loopback httptest server and runs the
// plan of f n times against it with spec s; the emitted regression tests
// call it. The estimate counts the runs that leaked; a handler whose
// sequential baseline already leaks counts as one failing run.
func ReplayHandler(ctx context.Context, handler http.Handler, s *spec.Spec, f *File, n int) (Estimate, error) {
	if err := CheckAgainst(f.Plan, s); err != nil {
		return Estimate{}, err
	}
	if f.NeedsReset {
		return Estimate{}, errors.New("crosstalk: the plan's leak is persistent and needs a reset before every run; replay it with crosstalk replay and a reset")
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()
	fx, err := harness.NewFixture(ctx, s, harness.FixtureOptions{BaseURL: ts.URL, Sync: f.Sync}, nil)
	if err != nil {
		return Estimate{}, err
	}
	defer fx.Close()
	if fx.Sequential > 0 {
		// The sequential baseline leaked before the plan ran: that is a
		// leak all the same, counted as one failing run.
		return Estimate{Runs: 1, Fails: 1}, nil
	}
	est, _, err := Measure(ctx, &FixtureExecutor{Fixture: fx}, f.Plan, n)
	return est, err
}

// FuzzHandler is the go test -fuzz entry point: it serves handler on a
// loopback httptest server and fuzzes plans against it through
// [rapid.MakeFuzz], failing on any leak with the plan that caused it.
// Without -fuzz, go test runs the seed corpus only:
//
//	func FuzzIsolation(f *testing.F) {
//		s, err := spec.Load("testdata/service.yaml")
//		require.NoError(f, err)
//		fuzz.FuzzHandler(f, newServer(), s)
//	}
//
// The fuzzing engine does not shrink flaky failures; run crosstalk fuzz (or
// [VerifyIsolation]) on the plan it reports to get the minimal one.
func FuzzHandler(f *testing.F, handler http.Handler, s *spec.Spec, opts ...Option) {
	f.Helper()
	c := newVerifyConfig(opts)
	v := VocabOf(s)
	if err := v.check(); err != nil {
		f.Fatal(err)
	}
	ts := httptest.NewServer(handler)
	f.Cleanup(ts.Close)
	fx, err := harness.NewFixture(c.ctx, s, harness.FixtureOptions{BaseURL: ts.URL, Sync: c.sync}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(fx.Close)
	if fx.Sequential > 0 {
		f.Fatalf("crosstalk: %s leaks without any concurrency in its sequential baseline", s.Name)
	}
	for i := range 4 {
		// A few seeds so that plain go test exercises the property too.
		f.Add([]byte{byte(i), byte(i * 37), byte(i * 101), 0, 0, 0, 0, 0})
	}
	gen := PlanGen(v, c.search.Gen)
	exec := &FixtureExecutor{Fixture: fx}
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		p := gen.Draw(t, "plan")
		o, err := exec.Execute(c.ctx, p)
		if err != nil {
			t.Fatalf("crosstalk: %v", err)
		}
		if o.Failed() {
			fd := o.Findings[0]
			pj, _ := json.Marshal(p)
			t.Fatalf("crosstalk: %s was shown %s's %s data through %s (%d findings); plan: %s",
				fd.Viewer, fd.Owner, fd.Data, fd.Request, len(o.Findings), pj)
		}
	}))
}
