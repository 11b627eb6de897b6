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

// The outbox bug needs a write and another user's read in one burst: random
// read bursts (crosstalk run) cannot see it, plans that mix in writes can.
func TestOutboxNeedsAWriteReadMix(t *testing.T) {
	srv := newWebmail(t, webmail.BugOutbox)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	out, err := harness.Run(context.Background(), loadWebmailSpec(t),
		harness.Options{BaseURL: ts.URL, MaxRequests: 4000, Duration: time.Minute, Seed: 1}, nil)
	require.NoError(t, err)
	assert.Equal(t, harness.Isolated, out.Verdict, "read-only hammering cannot find it: %s", out.Reason)
	t.Logf("run: %s after %d requests", out.Verdict, out.Requests)

	tb := &fakeTB{}
	res := VerifyIsolation(tb, webmailMaker(t, webmail.BugOutbox, nil), loadWebmailSpec(t), WithSeed(1), WithBudget(time.Minute), WithMeasure(10), WithDir(""))
	require.NotNil(t, res)
	require.True(t, res.Found, "logs: %v", tb.logs)
	require.Len(t, tb.errors, 1)
	requests := map[string]bool{}
	for _, b := range res.Shrink.Plan.Bursts {
		for _, s := range b.Steps {
			requests[s.Request] = true
		}
	}
	assert.True(t, requests["send"], "the minimal plan keeps the write: %+v", res.Shrink.Plan)
	t.Logf("fuzz: %d-step plan shrunk to %d steps, measured %d/%d", res.Original.Len(), res.Shrink.Plan.Len(),
		res.Measured.Fails, res.Measured.Runs)
}
