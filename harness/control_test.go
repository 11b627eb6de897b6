package harness_test

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

// A page cache keyed on the URL alone keeps serving the first user's page
// for 30 s: the control after run's first finding leaks too, and every
// finding is streamed as persistent.
func TestRunReportsCacheKeyLeakPersistent(t *testing.T) {
	url := serveWebmail(t, webmail.BugCacheKey, 0)
	out, recs := collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: url, MaxRequests: 200, Duration: time.Minute, StopOnFirst: true, Seed: 1})
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	assert.Equal(t, harness.Persistent, out.Persistence)
	require.NotNil(t, out.Control)
	assert.Positive(t, out.Control.Findings)
	assertFindingsKind(t, recs, harness.Persistent)
}

// The 2008 bug needs two requests inside one window: a control, one
// request at a time, is clean, and the leak is transient.
func TestRunReportsLastLoginLeakTransient(t *testing.T) {
	url := serveWebmail(t, webmail.BugLastLogin, time.Millisecond)
	out, recs := collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: url, MaxRequests: 20000, Duration: time.Minute, StopOnFirst: true, Seed: 1})
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	assert.Equal(t, harness.Transient, out.Persistence)
	require.NotNil(t, out.Control)
	assert.Zero(t, out.Control.Findings)
	assert.Positive(t, out.Control.Requests)
	assertFindingsKind(t, recs, harness.Transient)
}

func assertFindingsKind(t *testing.T, recs []harness.Record, want harness.Persistence) {
	t.Helper()
	n := 0
	for i, r := range recs {
		if r.Finding != nil {
			n++
			assert.Equal(t, want, r.Finding.Persistence, "finding %d", n)
		}
		if i > 0 && r.Type == harness.RecordHeader {
			t.Errorf("a second header at record %d", i)
		}
	}
	assert.Positive(t, n)
	assert.Equal(t, harness.RecordHeader, recs[0].Type, "held findings never overtake the header")
	assert.Equal(t, harness.RecordVerdict, recs[len(recs)-1].Type, "nor the verdict")
}

// webmailReset is a Resettable webmail behind a loopback server and the
// harness.Resetter that resets it from Go.
type webmailReset struct{ r *webmail.Resettable }

func (w webmailReset) Reset(context.Context) error { return w.r.Reset() }
func (w webmailReset) String() string              { return "new webmail" }

// A client cancel leaves conndesync's pooled backend connection one reply
// behind: the control after it leaks. A reset clears it, the users log in
// and plant their canaries again, and the control is clean.
func TestControlSeesConnDesyncAndResetClearsIt(t *testing.T) {
	wr, err := webmail.NewResettable(webmail.Options{Bug: webmail.BugConnDesync, Users: 8, Seed: 1}, "")
	require.NoError(t, err)
	ts := httptest.NewServer(wr)
	t.Cleanup(wr.Close)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	fx, err := harness.NewFixture(ctx, webmailSpec(t), harness.FixtureOptions{BaseURL: ts.URL, Reset: webmailReset{wr}}, nil)
	require.NoError(t, err)
	defer fx.Close()
	assert.Equal(t, "new webmail", fx.ResetName())
	c, err := fx.Control(ctx)
	require.NoError(t, err)
	require.Zero(t, c.Findings, "clean after the setup")

	cancel := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{
		{User: "user1", Request: "profile", CancelAfter: 500 * time.Microsecond}}}}}
	var leaked bool
	for range 20 {
		// Each execution resets first, so each cancel lands on a clean pool.
		_, err := fx.Execute(ctx, cancel, nil)
		require.NoError(t, err)
		if c, err = fx.Control(ctx); err == nil && c.Findings > 0 {
			leaked = true
			break
		}
	}
	require.True(t, leaked, "a cancel before the backend's reply desyncs the pool")
	assert.Equal(t, harness.Persistent, c.Persistence())
	require.NoError(t, fx.Reset(ctx))
	c, err = fx.Control(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.Findings, "the reset cleared it: %+v", c.Finding)
	assert.Positive(t, c.Requests)
}
