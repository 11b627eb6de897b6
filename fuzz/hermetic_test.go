package fuzz

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// Without a reset, a search on conndesync stops at the first control that
// leaks. Until the first leak a control follows every execution, so the
// execution after which the damage began is known exactly; a leak that
// looked transient may still turn persistent in the shrink, which then
// stops too, with no minimal plan.
func TestSearchWithoutResetStopsAtPersistentLeak(t *testing.T) {
	srv := newWebmail(t, webmail.BugConnDesync)
	ts := httptest.NewServer(srv)
	defer srv.Close()
	defer ts.Close()
	ctx := context.Background()
	fx, err := harness.NewFixture(ctx, loadWebmailSpec(t), harness.FixtureOptions{BaseURL: ts.URL}, nil)
	require.NoError(t, err)
	defer fx.Close()
	exec := &FixtureExecutor{Fixture: fx}
	res, err := Search(ctx, exec, Config{Vocab: VocabOf(fx.Spec()), Seed: 1, Budget: time.Minute, Measure: 5})
	require.NoError(t, err)
	require.True(t, res.Found)
	require.NotNil(t, res.Persistent, "a cancel leaves the pool desynced")
	pl := res.Persistent
	assert.GreaterOrEqual(t, pl.Execution, res.Plans)
	assert.Less(t, pl.CleanAfter, pl.Execution)
	if pl.Execution == res.Plans {
		// In the search, a control follows every execution: the damage
		// began in this one.
		assert.Equal(t, pl.Execution-1, pl.CleanAfter, "the control before it was clean")
		assert.Equal(t, res.Original, pl.Plan)
	}
	assert.Zero(t, res.Shrink.Plan.Len(), "no minimal plan across executions")
	assert.Equal(t, harness.Persistent, res.Persistence)
	f := res.File("", "webmail", "", "barrier")
	assert.True(t, f.NeedsReset)
	assert.Equal(t, pl.Plan, f.Plan)
	// The executor refuses to go on: the target's state is unknown.
	_, err = exec.Execute(ctx, pl.Plan)
	assert.ErrorIs(t, err, pl)
}

// A control that cannot see its users' own data (here: the target refuses
// every login after the execution's) proves nothing about the target's
// state. The executor says so, and claims neither kind of leak.
func TestExecutorRefusesABlindControl(t *testing.T) {
	srv := newWebmail(t, webmail.BugCacheKey)
	defer srv.Close()
	var logins, allowed atomic.Int64
	allowed.Store(math.MaxInt64)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" && r.Method == http.MethodPost && logins.Add(1) > allowed.Load() {
			http.Error(w, "invalid login or password", http.StatusUnauthorized)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	ctx := context.Background()
	fx, err := harness.NewFixture(ctx, loadWebmailSpec(t), harness.FixtureOptions{BaseURL: ts.URL}, nil)
	require.NoError(t, err)
	defer fx.Close()
	// The page cache is keyed on the URL alone: the second user's inbox is
	// the first one's.
	p := harness.Plan{Bursts: []harness.Burst{
		{Steps: []harness.Step{{User: "user1", Request: "inbox"}}},
		{Steps: []harness.Step{{User: "user2", Request: "inbox"}}},
	}}
	// The execution's two fresh logins pass; the control's do not.
	allowed.Store(logins.Load() + 2)
	exec := &FixtureExecutor{Fixture: fx}
	out, err := exec.Execute(ctx, p)
	require.True(t, out.Failed(), "the cached page leaks")
	require.ErrorIs(t, err, ErrControlBlind)
	assert.Contains(t, err.Error(), "cannot tell a transient leak from a persistent one")
	assert.Empty(t, out.Persistence)
}
