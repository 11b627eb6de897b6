package harness_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// Every GET read of a burst carries the same cache-busting value, each burst
// a value of its own, and the baseline none: it learns from the spec's URLs.
func TestCacheBustIsPerBurst(t *testing.T) {
	u := serveWebmail(t, webmail.BugNone, 0)
	out, recs := collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: u, MaxRequests: 300, Duration: time.Minute, Trace: true, Seed: 3, CacheBust: "ct"})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	perBurst := map[int]map[string]bool{}
	for _, r := range recs {
		x := r.Exchange
		if x == nil {
			continue
		}
		pu, err := url.Parse(x.Path)
		require.NoError(t, err, x.Path)
		v := pu.Query().Get("ct")
		if x.Burst == 0 {
			assert.Empty(t, v, "baseline request %s", x.Path)
			continue
		}
		require.NotEmpty(t, v, "burst %d request %s", x.Burst, x.Path)
		if perBurst[x.Burst] == nil {
			perBurst[x.Burst] = map[string]bool{}
		}
		perBurst[x.Burst][v] = true
	}
	require.Greater(t, len(perBurst), 1)
	seen := map[string]int{}
	for b, vs := range perBurst {
		require.Len(t, vs, 1, "burst %d used one value for all its steps", b)
		for v := range vs {
			prev, dup := seen[v]
			assert.False(t, dup, "bursts %d and %d share the value %s", prev, b, v)
			seen[v] = b
		}
	}
}

func TestCacheBustNameIsChecked(t *testing.T) {
	for _, name := range []string{"a b", "x=y", "a&b", "é", string(make([]byte, 65))} {
		_, err := harness.Run(context.Background(), webmailSpec(t),
			harness.Options{BaseURL: "http://127.0.0.1:1", MaxRequests: 10, CacheBust: name}, nil)
		assert.ErrorIs(t, err, harness.ErrOptions, "%q", name)
	}
}
