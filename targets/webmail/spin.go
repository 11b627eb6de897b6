package webmail

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The busy work is a calibrated CPU spin rather than [time.Sleep]: a sleep
// parks the goroutine and costs the scheduler and timer far more than 200 ns,
// so short windows would be meaningless, and a sleeping handler frees its core
// for the racing request in a way that template rendering never does.

var (
	calibrateOnce sync.Once
	// spinPerNs is how many spin iterations one nanosecond buys on this
	// machine, measured once per process.
	spinPerNs float64
	// spinZero counts spins that ended on zero, which xorshift never does from
	// a nonzero state; it exists only so that the compiler must keep the loop.
	spinZero atomic.Uint64
)

// spin runs n rounds of xorshift. Each round depends on the last, so the loop
// cannot be vectorised or shortened, and it touches no memory, so the race
// detector does not slow it down and calibration holds under -race too.
//
//go:noinline
func spin(n uint64) uint64 {
	x := uint64(0x9e3779b97f4a7c15)
	for i := uint64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// busy spins for n iterations; zero iterations return at once.
func busy(n uint64) {
	if n == 0 {
		return
	}
	if spin(n) == 0 {
		spinZero.Add(1)
	}
}

// spinRate returns the calibrated iterations per nanosecond. It keeps the
// fastest of several runs: a slower run means the goroutine was preempted or
// the core was shared, and neither is what one iteration costs.
func spinRate() float64 {
	calibrateOnce.Do(func() {
		const n = 1 << 17
		// A few milliseconds of spinning first let the core leave any
		// power-saving state; measured cold, the rate comes out low and every
		// window later runs short.
		busy(16 * n)
		best := time.Duration(math.MaxInt64)
		for range 9 {
			start := time.Now()
			busy(n)
			if d := time.Since(start); d > 0 && d < best {
				best = d
			}
		}
		if best == time.Duration(math.MaxInt64) {
			// A clock too coarse to see 2^17 iterations: assume one per ns
			// rather than divide by zero.
			best = n
		}
		spinPerNs = float64(n) / float64(best)
	})
	return spinPerNs
}

// spinIterations converts a duration of busy work into spin iterations; zero
// or less is no work at all.
func spinIterations(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	it := math.Ceil(float64(d) * spinRate())
	if it >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(it)
}
