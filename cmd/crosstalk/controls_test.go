package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/targets/webmail"
)

func TestRateFlagParsesItsUnit(t *testing.T) {
	for in, want := range map[string]float64{"50/s": 50, "50": 50, "3000/m": 50, "0.5/s": 0.5, "0": 0} {
		var r rateFlag
		require.NoError(t, r.Set(in), in)
		assert.InDelta(t, want, float64(r), 1e-9, in)
	}
	for _, bad := range []string{"fast", "50/h", "-1/s", "/s", "NaN", "Inf/s"} {
		var r rateFlag
		assert.Error(t, r.Set(bad), bad)
	}
}

// -H reaches the target on every request of a run, and a malformed one is
// a usage error.
func TestHeaderFlagReachesTheTarget(t *testing.T) {
	srv, err := webmail.New(webmail.Options{Bug: webmail.BugNone, Users: 8, Seed: 1})
	require.NoError(t, err)
	var with, without atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Waf-Bypass") == "bypass-token-1234" && r.Header.Get("X-Route") == "canary" {
			with.Add(1)
		} else {
			without.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", ts.URL, "-requests", "80", "-sync", "barrier",
		"-H", "X-Waf-Bypass: bypass-token-1234", "-H", "X-Route:canary", "-rate", "2000/s")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Positive(t, with.Load())
	assert.Zero(t, without.Load())
	assert.Contains(t, r.stderr, "at most 2000 requests/s", "the rate is stated with its unit")

	bad := crosstalk(t, "run", "-target", webmailSpec, "-url", ts.URL, "-H", "no colon here")
	assert.Equal(t, 2, bad.code, bad.stderr)
	bad = crosstalk(t, "run", "-target", webmailSpec, "-url", ts.URL, "-rate", "50/h")
	assert.Equal(t, 2, bad.code, bad.stderr)
}
