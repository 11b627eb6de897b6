package harness_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// serveWebmailH2C serves the webmail over HTTP/1.1 and h2c, optionally
// reporting arrival times.
func serveWebmailH2C(t *testing.T, bug webmail.Bug, work time.Duration, arrival bool) string {
	t.Helper()
	srv, err := webmail.New(webmail.Options{Bug: bug, Users: 8, Work: work, Seed: 1, ReportArrival: arrival})
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(srv)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	ts.Config.Protocols = &p
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestEachStrategyFindsTheLastLoginLeak(t *testing.T) {
	url := serveWebmailH2C(t, webmail.BugLastLogin, webmail.DefaultWork, true)
	for _, sync := range []string{harness.SyncLastByte, harness.SyncH2} {
		t.Run(sync, func(t *testing.T) {
			out, recs := collect(t, context.Background(), webmailSpec(t), harness.Options{BaseURL: url, Sync: sync,
				MaxRequests: 20000, Duration: time.Minute, StopOnFirst: true, Seed: 7})
			require.Equal(t, harness.Leak, out.Verdict, out.Reason)
			assert.Equal(t, sync, recs[0].Header.Sync)
			assert.Zero(t, out.Errors, "every request of the strategy was answered")
			for _, f := range findings(recs) {
				assert.NotEqual(t, f.Viewer, f.Owner)
				assert.Equal(t, "profile", f.Request)
			}
			spreads := 0
			for _, r := range recs {
				if r.Burst != nil && r.Burst.ArrivalSpread > 0 {
					spreads++
				}
			}
			assert.Positive(t, spreads, "bursts record the arrival spread the webmail reports")
			assert.Positive(t, out.ArrivalSpreadP50, "the verdict carries the arrival spread percentiles")
			assert.GreaterOrEqual(t, out.ArrivalSpreadP90, out.ArrivalSpreadP50)
			assert.GreaterOrEqual(t, out.ReleaseSkewP90, out.ReleaseSkewP50)
		})
	}
}

func TestAutoSaysWhichStrategyAndWhy(t *testing.T) {
	cases := []struct {
		name    string
		url     string
		measure string
		h2      bool
	}{
		{"h2c target with arrival times", serveWebmailH2C(t, webmail.BugNone, 0, true), "arrival spread", true},
		{"HTTP/1.1 target without them", serveWebmail(t, webmail.BugNone, 0), "first-byte spread", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, recs := collect(t, context.Background(), webmailSpec(t), harness.Options{BaseURL: c.url,
				Sync: harness.SyncAuto, MaxRequests: 400, Duration: time.Minute, Seed: 3})
			require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
			h := recs[0].Header
			require.NotNil(t, h)
			t.Log(h.SyncReason)
			assert.Contains(t, harness.Strategies(), h.Sync)
			assert.True(t, strings.HasPrefix(h.SyncReason, "auto: "+h.Sync+" had the tightest "+c.measure), h.SyncReason)
			if !c.h2 {
				assert.Contains(t, h.SyncReason, "h2 failed", "a target without HTTP/2 drops h2")
			}
			assert.Zero(t, out.Errors, "failed calibration attempts are not counted against the target")
		})
	}
}

func TestUnknownSyncIsAnOptionsError(t *testing.T) {
	_, err := harness.Run(context.Background(), webmailSpec(t), harness.Options{Sync: "telepathy", MaxRequests: 1}, nil)
	require.ErrorIs(t, err, harness.ErrOptions)
	assert.Contains(t, err.Error(), "auto")
}

// SpeaksH2 tells an h2c server from one that speaks only HTTP/1.1; the
// canary's default strategy rests on it.
func TestSpeaksH2(t *testing.T) {
	assert.True(t, harness.SpeaksH2(serveWebmailH2C(t, webmail.BugNone, 0, false), false, 5*time.Second), "h2c")
	assert.False(t, harness.SpeaksH2(serveWebmail(t, webmail.BugNone, 0), false, 5*time.Second), "HTTP/1.1 only")
	assert.False(t, harness.SpeaksH2("ftp://127.0.0.1:1", false, time.Second), "not HTTP at all")
}
