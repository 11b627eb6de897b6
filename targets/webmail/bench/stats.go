package bench

import (
	"fmt"
	"slices"
	"time"
)

// Trial is one time-to-first-leak measurement. Capped means no leak was
// seen within it, so D is a lower bound.
type Trial struct {
	D      time.Duration
	Capped bool
}

// Median is the nearest-rank (lower) median of a cell's trials: the rank
// harness.Percentiles takes for p50, so the bench and the stream agree.
type Median struct {
	Trial
	// Exact is false when the median is only a lower bound: a capped trial
	// ranks at or below it, or no trial ran at all.
	Exact bool
	// Ran and Planned count the cell's trials.
	Ran, Planned int
}

// MedianOf returns the median of the trials that ran out of planned. A
// capped trial only bounds its value from below, so when one ranks at or
// below the median, the median is itself a lower bound.
func MedianOf(ts []Trial, planned int) Median {
	if len(ts) == 0 {
		return Median{Trial: Trial{Capped: true}, Planned: planned}
	}
	all := slices.Clone(ts)
	slices.SortStableFunc(all, func(a, b Trial) int { return int(a.D - b.D) })
	k := (len(all)+1)/2 - 1
	m := all[k]
	for _, t := range all[:k+1] {
		if t.Capped {
			m.Capped = true
		}
	}
	return Median{Trial: m, Exact: !m.Capped, Ran: len(ts), Planned: planned}
}

// String is the cell as the table shows it: "≥" for a lower bound, and the
// trial count when fewer ran than planned.
func (m Median) String() string {
	s := Human(m.D)
	if !m.Exact {
		s = "≥ " + s
	}
	if m.Ran < m.Planned {
		s += fmt.Sprintf(" (%d/%d trials)", m.Ran, m.Planned)
	}
	return s
}

// Speedup is how many times longer the baseline took to find the leak than
// the best strategy, "≥" when the baseline's figure is a lower bound.
func Speedup(baseline Median, strategies []Median) string {
	if len(strategies) == 0 {
		return "n/a"
	}
	// The best is the fastest strategy that found the leak; a capped cell
	// only says it took longer than its figure, so it never beats one that
	// found it.
	best := strategies[0]
	for _, t := range strategies[1:] {
		if (best.Capped && !t.Capped) || (best.Capped == t.Capped && t.D < best.D) {
			best = t
		}
	}
	if best.Capped {
		return "n/a (no strategy found it)"
	}
	if best.D <= 0 {
		return "n/a"
	}
	r := float64(baseline.D) / float64(best.D)
	if baseline.Capped {
		return fmt.Sprintf("≥ %.1f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// Micros writes d in whole microseconds.
func Micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// Human writes d in the unit that suits it: µs, ms or s.
func Human(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return Micros(d)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

// trials is the bookkeeping of one cell's back-to-back trials.
type trials struct {
	cfg    Config
	until  time.Time
	start  time.Time
	out    []Trial
	capped int
}

// enough says whether the cell is done: all trials taken, the median
// settled as a lower bound, or the budget spent.
func (t *trials) enough() bool {
	return len(t.out) >= t.cfg.Trials || t.capped > t.cfg.Trials/2 || !time.Now().Before(t.until)
}

// tick is called after every burst, leaked or not. It ends the trial at a
// leak, or caps it, and starts the next.
func (t *trials) tick(leaked bool) {
	now := time.Now()
	switch {
	case leaked:
		t.out = append(t.out, Trial{D: now.Sub(t.start)})
	case now.Sub(t.start) >= t.cfg.Cap:
		t.out = append(t.out, Trial{D: now.Sub(t.start), Capped: true})
		t.capped++
	default:
		return
	}
	t.start = now
}

// cut records the trial in progress when the budget ends it, if it ran
// long enough to say anything.
func (t *trials) cut() {
	if len(t.out) < t.cfg.Trials && !t.start.IsZero() {
		if d := time.Since(t.start); d > 0 && t.capped <= t.cfg.Trials/2 {
			t.out = append(t.out, Trial{D: d, Capped: true})
		}
	}
}
