package fuzz

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"
)

// K is the least repetition count that misses a candidate of rate p with
// probability at most delta.
func TestRepetitionsForIsTheLeastSufficientK(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.Float64Range(0.01, 0.99).Draw(t, "p")
		delta := rapid.Float64Range(0.001, 0.5).Draw(t, "delta")
		k := RepetitionsFor(p, delta, 1000)
		miss := func(k int) float64 { return math.Pow(1-p, float64(k)) }
		if k < 1000 && miss(k) > delta*(1+1e-9) {
			t.Fatalf("K=%d misses with probability %g > %g", k, miss(k), delta)
		}
		if k > 1 && miss(k-1) <= delta*(1-1e-9) {
			t.Fatalf("K=%d is not the least: K-1 already misses with %g <= %g", k, miss(k-1), delta)
		}
	})
	assert.Equal(t, 60, RepetitionsFor(0, 0.05, 60), "no evidence: the cap")
	assert.Equal(t, 1, RepetitionsFor(1, 0.05, 60))
}

func TestWilsonContainsTheObservedRate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 500).Draw(t, "runs")
		f := rapid.IntRange(0, n).Draw(t, "fails")
		lo, hi := Wilson(f, n, 1.96)
		p := float64(f) / float64(n)
		if lo > p+1e-12 || hi < p-1e-12 || lo < 0 || hi > 1 {
			t.Fatalf("interval [%g, %g] for %d/%d", lo, hi, f, n)
		}
	})
	lo, hi := Wilson(0, 0, 1.96)
	assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi})
}

// A plan seen failing 3 times in 10 is planned for conservatively: its lower
// bound is below 0.3, so K is above what 0.3 alone would give.
func TestEstimateLowIsConservative(t *testing.T) {
	e := Estimate{Runs: 10, Fails: 3}
	assert.Less(t, e.Low(), e.Rate())
	assert.Greater(t, RepetitionsFor(e.Low(), DefaultDelta, DefaultKMax), RepetitionsFor(e.Rate(), DefaultDelta, DefaultKMax))
}
