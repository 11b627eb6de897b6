package fuzz

import (
	"context"
	"net/http/httptest"
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
