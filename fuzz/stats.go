package fuzz

import "math"

// Defaults of the flaky-aware shrinker; see the package documentation for
// what they buy.
const (
	// DefaultDelta is the chance the shrinker accepts of throwing away a
	// candidate that reproduces as often as the current plan.
	DefaultDelta = 0.05
	// DefaultKMax caps the repetitions of one candidate. With the floor on
	// the rate below, ln(0.05)/ln(0.95) is 58.4, so 60 keeps the guarantee
	// down to a 5% reproduction rate.
	DefaultKMax = 60
	// rateFloor is the lowest rate K is planned for: a plan that reproduces
	// less often than this is cheaper to find again than to shrink.
	rateFloor = 0.05
	// zOneSided90 is the normal quantile of a one-sided 90% bound.
	zOneSided90 = 1.2816
)

// Wilson returns the Wilson score interval of fails in runs at normal
// quantile z. It behaves at 0 and at runs (where the normal approximation
// does not), which is where a shrinker's counts usually are.
func Wilson(fails, runs int, z float64) (lo, hi float64) {
	if runs <= 0 {
		return 0, 1
	}
	n := float64(runs)
	p := float64(fails) / n
	z2 := z * z
	mid := p + z2/(2*n)
	half := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	den := 1 + z2/n
	lo, hi = (mid-half)/den, (mid+half)/den
	return max(0, lo), min(1, hi)
}

// RepetitionsFor is K: how many times a candidate must be run so that one
// reproducing at rate p is missed with probability at most delta, i.e. the
// least K with (1-p)^K <= delta, between 1 and kmax.
func RepetitionsFor(p, delta float64, kmax int) int {
	if kmax < 1 {
		kmax = 1
	}
	if p >= 1 || delta >= 1 {
		return 1
	}
	if p <= 0 || delta <= 0 {
		return kmax
	}
	k := int(math.Ceil(math.Log(delta) / math.Log1p(-p)))
	return min(max(k, 1), kmax)
}

// Estimate is what is known about how often a plan reproduces.
type Estimate struct {
	Runs  int `json:"runs"`
	Fails int `json:"fails"`
	// Broken counts the runs in which every request failed, so that they
	// showed nothing: a strategy the target cannot speak (h2 against an
	// HTTP/1.1-only server) could not run, which is not "0 reproduced".
	Broken int `json:"broken,omitempty"`
}

// Rate is the observed reproduction rate.
func (e Estimate) Rate() float64 {
	if e.Runs == 0 {
		return 0
	}
	return float64(e.Fails) / float64(e.Runs)
}

// Low is the one-sided 90% lower confidence bound on the rate; K is planned
// from it rather than from the point estimate, so that a lucky streak does
// not make the shrinker careless.
func (e Estimate) Low() float64 {
	lo, _ := Wilson(e.Fails, e.Runs, zOneSided90)
	return lo
}

// Interval95 is the two-sided 95% Wilson interval, for reports.
func (e Estimate) Interval95() (lo, hi float64) { return Wilson(e.Fails, e.Runs, 1.96) }
