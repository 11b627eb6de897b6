package incident

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// heapOfAnalysis is the live heap an analysis holds once it has read the
// whole log, before Partial: the streaming state, measured after a GC.
func heapOfAnalysis(t testing.TB, o SynthOptions) (heap uint64, pairs int, lines int64) {
	t.Helper()
	var log, sess bytes.Buffer
	truth, err := Synthesize(o, SynthSinks{Log: &log, Sessions: &sess})
	require.NoError(t, err)
	m, err := ReadPairsCSV("s", &sess)
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a, err := NewAnalyzer(synthAnalysis(o, m))
	require.NoError(t, err)
	require.NoError(t, a.Feed(Input{Name: "access.log", R: bytes.NewReader(log.Bytes())}))
	runtime.GC()
	runtime.ReadMemStats(&after)
	pairs = len(a.direct) + len(a.bound)
	require.Equal(t, truth.Pairs.Len(), len(a.direct), "the direct pairs are the true ones")
	runtime.KeepAlive(a)
	runtime.KeepAlive(&log)
	runtime.KeepAlive(m)
	return after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc), pairs, truth.Lines
}

// manyPairs is a synthesized incident whose leaks grow with the window W
// while the users and the traffic stay the same.
func manyPairs(w time.Duration) SynthOptions {
	o := DefaultSynth()
	o.Users, o.Instances, o.Think, o.Window = 1500, 2, 10*time.Second, w
	return o
}

// TestMemoryPerPairIsSmall analyses the same traffic at two windows W, so
// that only the number of leaking pairs differs, and bounds what each extra
// pair costs. A pair kept as a struct of strings in a map of pointers, with
// a slice of evidence lines (as before), costs over 250 bytes; the packed
// record about 40.
func TestMemoryPerPairIsSmall(t *testing.T) {
	h1, p1, l1 := heapOfAnalysis(t, manyPairs(250*time.Microsecond))
	h2, p2, l2 := heapOfAnalysis(t, manyPairs(20*time.Millisecond))
	require.Equal(t, l1, l2, "the same traffic at both scales")
	require.Greater(t, p2, p1+20_000, "the wider window must leak many more pairs")
	perPair := (float64(h2) - float64(h1)) / float64(p2-p1)
	t.Logf("%d lines; %d pairs: %d KB of heap; %d pairs: %d KB; %.0f bytes per extra pair", l1, p1, h1>>10, p2, h2>>10, perPair)
	require.Less(t, perPair, 100.0, "per-pair state must stay a small fixed record")
	// The rest is per user, per minute and the requests of the last
	// horizon per instance: bounded, at both scales, by a few KB a user.
	require.Less(t, float64(h1)-float64(p1)*perPair, float64(1500*8<<10))
}

// BenchmarkAnalyzeManyPairs reads an incident in which tens of thousands of
// pairs leak and reports the heap the analysis holds at the end, in all and
// divided by the pairs. (The process's peak is no figure here: the other
// benchmarks of the binary set it. The 10-million-line command in the
// README measures that.)
func BenchmarkAnalyzeManyPairs(b *testing.B) {
	for b.Loop() {
		h, p, _ := heapOfAnalysis(b, manyPairs(20*time.Millisecond))
		b.ReportMetric(float64(h)/(1<<20), "heap-MB")
		b.ReportMetric(float64(p), "pairs")
		b.ReportMetric(float64(h)/float64(p), "heap-B/pair")
	}
}
