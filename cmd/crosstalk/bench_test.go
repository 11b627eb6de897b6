package main

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunWithEachSyncFindsLastLogin(t *testing.T) {
	url := serve(t, "-bug", "lastlogin", "-arrival")
	for _, sync := range []string{"lastbyte", "h2", "auto"} {
		t.Run(sync, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results.jsonl")
			r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-sync", sync, "-requests", "20000", "-o", out)
			require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "LEAK")
			assert.Regexp(t, `user\d+ saw user\d+'s profile`, r.stdout)
			assert.Regexp(t, `release skew: +p50 [0-9.,]+ µs, p90 [0-9.,]+ µs`, r.stdout)
			assert.Regexp(t, `arrival spread: +p50 [0-9.,]+ µs, p90 [0-9.,]+ µs`, r.stdout, "the server reported arrival times")
			if sync == "auto" {
				assert.Regexp(t, `auto: (h2|lastbyte|barrier) had the tightest arrival spread`, r.stdout)
			} else {
				assert.Contains(t, r.stdout, "sync:   "+sync)
			}
		})
	}
}

func TestRunRejectsUnknownSync(t *testing.T) {
	r := crosstalk(t, "run", "-target", webmailSpec, "-sync", "telepathy")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "lastbyte")
}

func TestBenchQuickPrintsTheWholeTable(t *testing.T) {
	r := crosstalk(t, "bench", "-quick", "-trials", "2", "-budget", "6s", "-cap", "1s", "-bursts", "10", "-hey-time", "300ms")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	for _, s := range []string{"Command: `crosstalk bench", "Machine:", "(a) Arrival spread", "(b) Time to first leak",
		"(c) Oracle throughput", "(d) Throughput", "| h2 |", "| lastbyte |", "| barrier |", "naive", "baseline / best",
		"10,000 learned", "hey"} {
		assert.Contains(t, r.stdout, s)
	}
	assert.Regexp(t, regexp.MustCompile(`\| h2 \| \d+ µs / \d+ µs \| \d+ µs / \d+ µs \|`), r.stdout)
	assert.Regexp(t, `\| 200ns \|`, r.stdout)
}

func TestBenchMedianCountsCappedTrialsAsLowerBounds(t *testing.T) {
	s := time.Second
	m, exact := median([]trial{{d: 1 * s}, {d: 3 * s}, {d: 2 * s}})
	assert.True(t, exact)
	assert.Equal(t, 2*s, m.d)

	m, exact = median([]trial{{d: 1 * s}, {d: 30 * s, capped: true}, {d: 30 * s, capped: true}})
	assert.False(t, exact)
	assert.Equal(t, 30*s, m.d)
	assert.Equal(t, "≥ 30.00 s", fmtMedian(m, exact, 3, 3))

	m, exact = median([]trial{{d: 1 * s}, {d: 5 * s, capped: true}}) // the budget ran out
	assert.True(t, exact, "a lower bound above the median does not move it")
	assert.Equal(t, "1.00 s (2/10 trials)", fmtMedian(m, exact, 2, 10))

	_, exact = median(nil)
	assert.False(t, exact)

	assert.Equal(t, "10.0×", ratio(trial{d: 10 * s}, []trial{{d: 2 * s}, {d: 1 * s}}))
	assert.Equal(t, "≥ 30.0×", ratio(trial{d: 30 * s, capped: true}, []trial{{d: 1 * s}}))
	assert.Contains(t, ratio(trial{d: 30 * s, capped: true}, []trial{{d: 30 * s, capped: true}}), "n/a")
}
