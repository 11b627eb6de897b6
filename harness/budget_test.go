package harness_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// loginHangs is a target whose login never answers until the test ends. Each
// login that arrives is announced on the returned channel.
func loginHangs(t *testing.T) (string, <-chan struct{}) {
	stop := make(chan struct{})
	arrived := make(chan struct{}, 64)
	var once sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-stop
	}))
	t.Cleanup(func() { once.Do(func() { close(stop) }); ts.Close() })
	return ts.URL, arrived
}

// The run's duration bounds its setup too. Against a login that hangs, a
// 500 ms run used to take the 10 s timeout once per user: 80 s.
func TestSetupIsBoundedByTheDuration(t *testing.T) {
	url, _ := loginHangs(t)
	s := webmailSpec(t)
	s.Limits.Timeout = 10 * time.Second
	out, recs := collect(t, context.Background(), s, harness.Options{BaseURL: url, Duration: 500 * time.Millisecond})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.True(t, out.CutShort)
	assert.Contains(t, out.Reason, "did not finish within the 500ms duration")
	assert.Empty(t, out.LoginFailures, "the budget ran out; no user failed to log in")
	assert.Less(t, out.Elapsed, s.Limits.Timeout, "the setup outlasted the run's duration by a whole timeout")
	assert.Equal(t, harness.RecordVerdict, recs[len(recs)-1].Type)
}

// A cancel (Ctrl-C) ends a login that is waiting on the target at once, not
// when its timeout runs out.
func TestCancelEndsAHungLogin(t *testing.T) {
	url, arrived := loginHangs(t)
	s := webmailSpec(t)
	s.Limits.Timeout = 10 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-arrived // the first login is on the wire, waiting
		cancel()
	}()
	out, _ := collect(t, ctx, s, harness.Options{BaseURL: url, MaxRequests: 100})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.True(t, out.CutShort)
	assert.Less(t, out.Elapsed, s.Limits.Timeout, "the login waited out its timeout after the cancel")
}

// -rate 50/s, counted where it matters, at the target: over 10 s of bursts
// or more (a 12 s run less its setup) it sees 50 requests a second, within
// 10%. Setup requests are not the rate's: the count starts at the stream's
// header, which opens the bursts. The target is a small one, so that what
// is measured is the cap, not how fast a loaded machine can go.
func TestRateHoldsAtTheTarget(t *testing.T) {
	var seen atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		user, _, _ := r.BasicAuth()
		_, _ = fmt.Fprintf(w, "notes of %s", user)
	}))
	t.Cleanup(ts.Close)
	s, err := spec.Parse("rate.yaml", []byte(`
base_url: `+ts.URL+`
users:
  list:
    - {login: u-carol, password: pw-carol}
    - {login: u-dave, password: pw-dave}
    - {login: u-erin, password: pw-erin}
    - {login: u-frank, password: pw-frank}
    - {login: u-grace, password: pw-grace}
    - {login: u-heidi, password: pw-heidi}
    - {login: u-ivan, password: pw-ivan}
    - {login: u-judy, password: pw-judy}
login: {type: basic}
requests:
  - {name: notes, path: /notes}
`))
	require.NoError(t, err)
	var atHeader int64
	var from time.Time
	out, err := harness.Run(context.Background(), s,
		harness.Options{Duration: 12 * time.Second, Rate: 50, Sync: harness.SyncBarrier},
		func(r harness.Record) error {
			if r.Header != nil {
				atHeader, from = seen.Load(), time.Now()
				assert.Equal(t, 50.0, r.Header.RatePerSecond, "the stream states the rate")
			}
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	elapsed := time.Since(from)
	got := float64(seen.Load()-atHeader) / elapsed.Seconds()
	t.Logf("%d requests in %v of bursts: %.1f/s", seen.Load()-atHeader, elapsed, got)
	assert.InDelta(t, 50, got, 5, "requests per second at the target")
	assert.Greater(t, elapsed, 10*time.Second, "the rate was measured over at least 10 s of bursts")
}

// Every request carries the -H headers, the setup's included, and the
// spec's own header of that name gives way.
func TestHeaderReachesEveryRequest(t *testing.T) {
	srv, err := webmail.New(webmail.Options{Bug: webmail.BugNone, Users: 8, Seed: 1})
	require.NoError(t, err)
	var with, without atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Route") == "canary-pool-7" {
			with.Add(1)
		} else {
			without.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s := webmailSpec(t)
	s.Requests[0].Headers = map[string]string{"X-Route": "stable"}
	out, _ := collect(t, context.Background(), s, harness.Options{BaseURL: ts.URL, MaxRequests: 200,
		Header: http.Header{"X-Route": {"canary-pool-7"}}})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	assert.Positive(t, with.Load())
	assert.Zero(t, without.Load(), "requests without the header")

	for _, h := range []http.Header{{"Bad Name": {"x"}}, {"X-A": {"a\r\nX-B: b"}}} {
		_, err := harness.Run(context.Background(), s, harness.Options{BaseURL: ts.URL, MaxRequests: 1, Header: h}, nil)
		assert.ErrorIs(t, err, harness.ErrOptions)
	}
	_, err = harness.Run(context.Background(), s, harness.Options{BaseURL: ts.URL, MaxRequests: 1, Rate: -1}, nil)
	assert.ErrorIs(t, err, harness.ErrOptions)
}
