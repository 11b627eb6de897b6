package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/reports"
)

// freeAddr is a loopback address nothing listens on: an instance that is down.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

func TestCanaryOnceExitCodes(t *testing.T) {
	// The lastlogin window is widened (-work 1ms), as in the hermetic
	// tests: go test runs other packages on the same cores, and the exit
	// code is under test here, not the time to detect.
	none, buggy := serve(t, "-bug", "none"), serve(t, "-bug", "lastlogin", "-work", "1ms")
	t.Run("isolated", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "canary.jsonl")
		r := crosstalk(t, "canary", "-target", webmailSpec, "-instances", none, "-once", "-for", "2s", "-rate", "50/s", "-o", out)
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "verdict: isolated")
		f, err := os.Open(out)
		require.NoError(t, err)
		defer f.Close()
		recs, err := reports.ReadAll(f)
		require.NoError(t, err, "every report reads the canary's stream")
		require.NotEmpty(t, recs)
		assert.Equal(t, "header", string(recs[0].Type))
		assert.Equal(t, "verdict", string(recs[len(recs)-1].Type))
		again := crosstalk(t, "report", "-in", out)
		require.Equal(t, 0, again.code, again.stderr)
		assert.Contains(t, strings.ToLower(again.stdout), "isolated")
	})
	t.Run("leak", func(t *testing.T) {
		r := crosstalk(t, "canary", "-target", webmailSpec, "-instances", buggy+","+none, "-once", "-for", "5s", "-rate", "50/s")
		require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "verdict: leak")
		assert.Contains(t, r.stdout, "first leak: on "+strings.TrimPrefix(buggy, "http://"))
	})
	t.Run("outage", func(t *testing.T) {
		r := crosstalk(t, "canary", "-target", webmailSpec, "-instances", freeAddr(t), "-once", "-for", "1s")
		require.Equal(t, 3, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		assert.Contains(t, r.stdout, "verdict: inconclusive")
	})
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"canary"},
			{"canary", "-target", webmailSpec, "-rate", "fast"},
			{"canary", "-target", webmailSpec, "-for", "5s"},
			{"canary", "-target", webmailSpec, "-requests", "send", "-once"},
			{"canary", "-target", webmailSpec, "-instances-from", "srv:x", "-once"},
		} {
			r := crosstalk(t, args...)
			assert.Equal(t, 2, r.code, "%v\nstderr:\n%s", args, r.stderr)
			assert.NotContains(t, r.stderr, "goroutine", "no stack trace")
		}
	})
}

func TestCanaryOnLeakRunsOnce(t *testing.T) {
	buggy := serve(t, "-bug", "lastlogin")
	log := filepath.Join(t.TempDir(), "rollbacks")
	r := crosstalk(t, "canary", "-target", webmailSpec, "-instances", buggy, "-once", "-for", "4s", "-rate", "100/s", "-burst", "8", "-requests", "profile",
		"-on-leak", `echo "$CROSSTALK_LEAK_INSTANCE $CROSSTALK_LEAK_VIEWER $CROSSTALK_LEAK_OWNER" >> `+log)
	require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	t.Log(strings.SplitN(r.stdout, "\n", 2)[0])
	b, err := os.ReadFile(log)
	require.NoError(t, err, "-on-leak never ran")
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	assert.Len(t, lines, 1, "-on-leak runs exactly once")
	assert.True(t, strings.HasPrefix(lines[0], strings.TrimPrefix(buggy, "http://")+" user"), lines[0])
	// More than one leak was seen, so "once" was tested, not luck.
	assert.NotContains(t, r.stdout, "verdict: leak: 1 responses", "only one leak in 4 s: the once-only rule went untested")
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"20/s": 20, "20": 20, "1200/m": 20, "0.5/s": 0.5} {
		got, err := parseRate(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	for _, in := range []string{"", "0", "-1/s", "20/h", "x/s"} {
		_, err := parseRate(in)
		assert.Error(t, err, in)
	}
}

// The time-to-detect bench runs end to end: its builds in a process of its
// own (this binary again, -rollout-child), one trial per cell, a table out.
// The figure is not checked; the bench is there to measure it.
func TestCanaryBenchRunsItsRolloutInAProcessOfItsOwn(t *testing.T) {
	r := crosstalk(t, "canary", "-bench", "-shares", "1", "-trials", "1", "-cap", "20s", "-modes", "instance", "-rate", "100/s")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "builds process")
	assert.Regexp(t, `\| 100% \| [^|]+ \|`, r.stdout)
	assert.Contains(t, r.stderr, "per instance, 100%: trial 1:")

	r = crosstalk(t, "canary", "-bench", "-modes", "sideways")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `-modes: "sideways"`)
}
