package fuzz

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

// flakyLastLogin models the 2008 bug: a burst in which two different users
// ask for their profile leaks with probability rate, and nothing else leaks.
type flakyLastLogin struct {
	rng   *rand.Rand
	rate  float64
	calls int
}

func (f *flakyLastLogin) Execute(_ context.Context, p harness.Plan) (Execution, error) {
	f.calls++
	for _, b := range p.Bursts {
		users := map[string]bool{}
		for _, st := range b.Steps {
			if st.Request == "profile" {
				users[st.User] = true
			}
		}
		if len(users) >= 2 && f.rng.Float64() < f.rate {
			return Execution{Findings: []harness.Finding{{Viewer: "a", Owner: "b", Request: "profile"}}, Requests: len(b.Steps)}, nil
		}
	}
	return Execution{Requests: p.Len()}, nil
}

func webmailVocab() Vocab {
	return Vocab{Users: []string{"user1", "user2", "user3", "user4", "user5", "user6", "user7", "user8"},
		Reads:  []string{"profile", "inbox", "inbox_html", "message", "attachment"},
		Writes: []string{"send"}, Logouts: []string{"logout"}, Login: true}
}

// firstFailing draws plans from seed on until the fake fails on one.
func firstFailing(t *testing.T, exec Executor, seed uint64) harness.Plan {
	t.Helper()
	for i := range uint64(500) {
		p, err := DrawPlan(webmailVocab(), GenOptions{}, seed+i)
		require.NoError(t, err)
		if o, _ := exec.Execute(context.Background(), p); o.Failed() {
			return p
		}
	}
	t.Fatal("no drawn plan failed")
	return harness.Plan{}
}

// The shrinker reaches the 2-step, 1-burst core of the bug even when it
// reproduces only 10% of the time, where a shrinker that trusts one run
// would give up at the first candidate that happened not to fail.
func TestShrinkFlakyToTheCore(t *testing.T) {
	for _, rate := range []float64{0.1, 0.2, 0.3, 0.9} {
		for seed := uint64(1); seed <= 3; seed++ {
			exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(seed, 99)), rate: rate}
			start := firstFailing(t, exec, seed*1000)
			require.GreaterOrEqual(t, start.Len(), 20)
			sh := &Shrinker{Exec: exec, MaxRuns: 200_000}
			res, err := sh.Shrink(context.Background(), start, Estimate{Runs: 1, Fails: 1})
			require.NoError(t, err)
			assert.True(t, res.Complete, "rate %.1f seed %d", rate, seed)
			assert.Equal(t, 2, res.Plan.Len(), "rate %.1f seed %d: %+v", rate, seed, res.Plan)
			assert.Len(t, res.Plan.Bursts, 1, "rate %.1f seed %d", rate, seed)
			assert.Len(t, planUsers(res.Plan), 2, "rate %.1f seed %d", rate, seed)
			assert.True(t, res.Failure.Failed(), "the result carries a failing execution")
			// The calibrated estimate is near the true rate: within its
			// own 99.9% interval.
			lo, hi := Wilson(res.Estimate.Fails, res.Estimate.Runs, 3.29)
			assert.True(t, lo <= rate && rate <= hi, "rate %.1f outside [%.2f, %.2f] of %+v", rate, lo, hi, res.Estimate)
		}
	}
}

// Every candidate records its runs and rate; accepted ones failed at least
// once and carry a calibrated estimate of at least MinCalibrate runs.
func TestShrinkRecordsEveryCandidate(t *testing.T) {
	exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(7, 7)), rate: 0.25}
	var seen []Candidate
	sh := &Shrinker{Exec: exec, OnCandidate: func(c Candidate) { seen = append(seen, c) }}
	start := firstFailing(t, exec, 7)
	exec.calls = 0
	res, err := sh.Shrink(context.Background(), start, Estimate{})
	require.NoError(t, err)
	require.Equal(t, res.Trail, seen)
	require.NotEmpty(t, seen)
	runs := 0
	for _, c := range seen {
		runs += c.Estimate.Runs
		if c.Accepted {
			assert.Positive(t, c.Estimate.Fails)
			assert.GreaterOrEqual(t, c.Estimate.Runs, 10)
			assert.InDelta(t, c.Estimate.Rate(), c.Rate, 1e-12)
		} else {
			assert.Zero(t, c.Estimate.Fails)
			assert.Equal(t, c.K, c.Estimate.Runs, "a rejected candidate used all of its K runs")
		}
	}
	assert.Equal(t, exec.calls, res.Runs, "the shrinker counts every run it made")
}

// K follows the rate: a plan that fails nearly always is tried a few times
// per candidate, one that fails rarely many times.
func TestKAdaptsToTheRate(t *testing.T) {
	meanK := func(rate float64) float64 {
		exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(3, 3)), rate: rate}
		sh := &Shrinker{Exec: exec}
		res, err := sh.Shrink(context.Background(), firstFailing(t, exec, 3), Estimate{})
		require.NoError(t, err)
		sum, n := 0, 0
		for _, c := range res.Trail {
			if c.K > 0 {
				sum, n = sum+c.K, n+1
			}
		}
		return float64(sum) / float64(n)
	}
	assert.Less(t, meanK(0.95), meanK(0.15)/3)
}

// The budget stops a shrink and the best plan so far comes back.
func TestShrinkStopsAtTheBudget(t *testing.T) {
	exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(5, 5)), rate: 0.2}
	start := firstFailing(t, exec, 5)
	sh := &Shrinker{Exec: exec, MaxRuns: 40}
	res, err := sh.Shrink(context.Background(), start, Estimate{})
	require.NoError(t, err)
	assert.False(t, res.Complete)
	assert.LessOrEqual(t, res.Runs, 40)
	assert.LessOrEqual(t, res.Plan.Len(), start.Len())
	sh = &Shrinker{Exec: exec, Deadline: time.Now().Add(-time.Second)}
	res, err = sh.Shrink(context.Background(), start, Estimate{})
	require.NoError(t, err)
	assert.Equal(t, start, res.Plan)
}

func TestChunksCoverEverySize(t *testing.T) {
	assert.Equal(t, [][2]int{{0, 1}}, chunks(1))
	assert.Equal(t, [][2]int{{0, 2}, {2, 4}, {0, 1}, {1, 2}, {2, 3}, {3, 4}}, chunks(4))
	assert.Empty(t, chunks(0))
}

// Saved plans run before any random plan; one that still fails is shrunk
// (it is minimal already) and no plan is drawn. One that no longer fails is
// passed over.
func TestSearchRerunsSavedPlansFirst(t *testing.T) {
	exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(11, 11)), rate: 0.3}
	fixed := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user1", Request: "inbox"}, {User: "user2", Request: "inbox"}}}}}
	leaky := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}}}}
	var events []Event
	res, err := Search(context.Background(), exec, Config{Vocab: webmailVocab(), Seed: 1, Measure: 20,
		Saved:    []SavedPlan{{Path: "old.json", File: &File{Plan: fixed}}, {Path: "new.json", File: &File{Plan: leaky}}},
		Progress: func(e Event) { events = append(events, e) }})
	require.NoError(t, err)
	require.True(t, res.Found)
	assert.Equal(t, "new.json", res.FromSaved)
	assert.Zero(t, res.Plans)
	assert.Equal(t, leaky, res.Shrink.Plan)
	require.GreaterOrEqual(t, len(events), 2)
	assert.Equal(t, Event{Kind: "saved", Steps: 2, Saved: "old.json", Estimate: Estimate{Runs: RepetitionsFor(rateFloor, DefaultDelta, DefaultKMax)}}, events[0])
	assert.Equal(t, "saved", events[1].Kind)
	assert.True(t, events[1].Failed)
	assert.Equal(t, 20, res.Measured.Runs)
}

// Without saved plans, Search draws plans until one fails, shrinks it and
// measures the result.
func TestSearchFindsShrinksAndMeasures(t *testing.T) {
	exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(12, 12)), rate: 0.5}
	res, err := Search(context.Background(), exec, Config{Vocab: webmailVocab(), Seed: 40, Measure: 30})
	require.NoError(t, err)
	require.True(t, res.Found)
	assert.Positive(t, res.Plans)
	assert.GreaterOrEqual(t, res.Original.Len(), 20)
	assert.Equal(t, 2, res.Shrink.Plan.Len())
	assert.Equal(t, 30, res.Measured.Runs)
	require.NotNil(t, res.Finding)
	p, err := DrawPlan(webmailVocab(), GenOptions{}, res.Seed)
	require.NoError(t, err)
	assert.Equal(t, res.Original, p, "the seed in the result draws the original plan again")
	f := res.File("spec.yaml", "webmail", "http://127.0.0.1:1", "barrier")
	require.NoError(t, f.Check())
	assert.Equal(t, res.Measured, f.Reproduction)
}

// With SavedOnly, a given plan that leaks is shrunk, and one that does not
// ends the search with nothing found and no random plan drawn.
func TestSearchSavedOnlyShrinksTheGivenPlan(t *testing.T) {
	exec := &flakyLastLogin{rng: rand.New(rand.NewPCG(13, 13)), rate: 0.6}
	big := firstFailing(t, exec, 7)
	require.Greater(t, big.Len(), 2)
	res, err := Search(context.Background(), exec, Config{Vocab: webmailVocab(), Seed: 1, Measure: 10, SavedOnly: true,
		Saved: []SavedPlan{{Path: "given.json", File: &File{Plan: big}}}})
	require.NoError(t, err)
	require.True(t, res.Found)
	assert.Equal(t, "given.json", res.FromSaved)
	assert.Zero(t, res.Plans, "no random plan is drawn")
	assert.Equal(t, 2, res.Shrink.Plan.Len(), "shrunk to the two overlapping profile reads")

	quiet := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user1", Request: "inbox"}, {User: "user2", Request: "inbox"}}}}}
	res, err = Search(context.Background(), exec, Config{Vocab: webmailVocab(), Seed: 1, Measure: 10, SavedOnly: true,
		Saved: []SavedPlan{{Path: "quiet.json", File: &File{Plan: quiet}}}})
	require.NoError(t, err)
	assert.False(t, res.Found)
	assert.Zero(t, res.Plans, "no random plan is drawn")
}
