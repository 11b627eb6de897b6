package harness

import (
	"math/rand/v2"
	"slices"
	"time"
)

// maxTimingSamples bounds the memory a long run spends on burst timing: past
// it, a uniform reservoir keeps the percentiles honest.
const maxTimingSamples = 1 << 16

// burstTiming collects every burst's release skew and arrival spread for the
// percentiles of the verdict. Its random source is its own, so that keeping
// timing never changes which bursts a seed draws.
type burstTiming struct {
	skews, spreads samples
}

type samples struct {
	seen int
	keep []time.Duration
	rng  *rand.Rand
}

func (s *samples) add(d time.Duration) {
	s.seen++
	if len(s.keep) < maxTimingSamples {
		s.keep = append(s.keep, d)
		return
	}
	if s.rng == nil {
		s.rng = rand.New(rand.NewPCG(uint64(s.seen), 0x74696d65))
	}
	if i := s.rng.IntN(s.seen); i < maxTimingSamples {
		s.keep[i] = d
	}
}

// percentiles returns the nearest-rank p50 and p90, or zeros when empty.
func (s *samples) percentiles() (p50, p90 time.Duration) {
	ps := Percentiles(s.keep, 50, 90)
	return ps[0], ps[1]
}

// Percentiles returns the nearest-rank percentiles ps (0..100) of ds, all
// zero when ds is empty. Nearest rank, not interpolation: every figure a
// report quotes is a time that was measured. The stream, the reports and
// the bench all use this one definition, so their figures agree.
func Percentiles(ds []time.Duration, ps ...int) []time.Duration {
	out := make([]time.Duration, len(ps))
	if len(ds) == 0 {
		return out
	}
	v := slices.Clone(ds)
	slices.Sort(v)
	for i, p := range ps {
		out[i] = v[max(0, min((p*len(v)+99)/100-1, len(v)-1))]
	}
	return out
}

func (t *burstTiming) add(skew, spread time.Duration) {
	t.skews.add(skew)
	if spread > 0 {
		t.spreads.add(spread)
	}
}

// fill copies the percentiles into the verdict.
func (t *burstTiming) fill(o *Outcome) {
	o.ReleaseSkewP50, o.ReleaseSkewP90 = t.skews.percentiles()
	o.ArrivalSpreadP50, o.ArrivalSpreadP90 = t.spreads.percentiles()
}
