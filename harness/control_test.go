package harness_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
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

// A target keeps a bounded number of sessions per user (the webmail 256),
// and fuzz logs each user in afresh before every execution: after a few
// hundred executions the setup's sessions are gone at the target. A control
// that read through them would see login pages and call any leak
// transient. It logs in afresh instead, and still sees every user's own
// data.
func TestControlSeesOwnDataAfterTheSetupSessionsWereDropped(t *testing.T) {
	srv, err := webmail.New(webmail.Options{Bug: webmail.BugNone, Users: 8, Seed: 1})
	require.NoError(t, err)
	var refuse atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() && r.URL.Path == "/login" {
			http.Error(w, "invalid login or password", http.StatusUnauthorized)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	ctx := context.Background()
	s := webmailSpec(t)
	fx, err := harness.NewFixture(ctx, s, harness.FixtureOptions{BaseURL: ts.URL}, nil)
	require.NoError(t, err)
	defer fx.Close()

	// Log every user in 300 times, as that many executions would.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range fx.Users() {
		for range 300 {
			resp, err := client.PostForm(ts.URL+"/login", neturl.Values{"login": {u}, "password": {"pw-" + u}})
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}
	}
	c, err := fx.Control(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.Findings)
	assert.Zero(t, c.Lost, "the control read through sessions the target had dropped")
	assert.GreaterOrEqual(t, c.Seen, len(fx.Users()), "every user's reads carried their own data")
	assert.Equal(t, harness.Transient, c.Persistence())

	// A control whose users cannot log in sees nobody's data: it cannot
	// call a leak transient.
	refuse.Store(true)
	c, err = fx.Control(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.Findings)
	assert.Equal(t, len(fx.Users()), c.Lost)
	assert.Equal(t, harness.Persistence(""), c.Persistence())
}

// With kept sessions, a plan that logs a user out leaves that user's
// session showing the login page; the control logs the user in afresh
// rather than call a page of nobody's data clean.
func TestControlWithKeptSessionsLogsALoggedOutUserInAgain(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	ctx := context.Background()
	fx, err := harness.NewFixture(ctx, webmailSpec(t), harness.FixtureOptions{BaseURL: url, Sessions: spec.SessionsKeep}, nil)
	require.NoError(t, err)
	defer fx.Close()
	_, err = fx.Execute(ctx, harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user3", Request: "logout"}}}}}, nil)
	require.NoError(t, err)
	c, err := fx.Control(ctx)
	require.NoError(t, err)
	assert.Zero(t, c.Lost)
	assert.Zero(t, c.Findings)
	assert.Equal(t, harness.Transient, c.Persistence())
}
