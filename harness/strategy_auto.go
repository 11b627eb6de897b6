package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// calibration is what a short calibration measured for one strategy.
type calibration struct {
	Strategy string
	// Bursts is how many calibration bursts completed without an error.
	Bursts int
	// Spread is the median spread over those bursts.
	Spread time.Duration
	// Arrival says whether Spread is the target's reported arrival spread;
	// otherwise it is the spread of first response bytes, the closest the
	// client can see by itself.
	Arrival bool
	// Err is why the strategy was dropped, if it was.
	Err string
}

// autoCandidates are the strategies in the order auto tries them, which
// also breaks ties: [strategies] from last to first, the single-packet
// attack first, since it degrades least over a real network.
func autoCandidates() []strategy {
	c := slices.Clone(strategies)
	slices.Reverse(c)
	return c
}

// calibrationRounds is how many bursts each candidate gets. Rounds alternate
// strategies so that a drift in the target's load hurts none in particular.
const calibrationRounds = 6

// pickStrategy chooses the candidate with the smallest median spread and
// says why, naming every figure it compared. Ties go to the earlier
// candidate; when every candidate failed, it falls back to barrier.
func pickStrategy(cals []calibration) (string, string) {
	best := -1
	for i, c := range cals {
		if c.Err != "" || c.Bursts == 0 {
			continue
		}
		if best < 0 || c.Spread < cals[best].Spread {
			best = i
		}
	}
	var others []string
	for i, c := range cals {
		switch {
		case i == best:
		case c.Err != "":
			others = append(others, fmt.Sprintf("%s failed: %s", c.Strategy, c.Err))
		case c.Bursts == 0:
			others = append(others, c.Strategy+" was not measured")
		default:
			others = append(others, fmt.Sprintf("%s %s", c.Strategy, micro(c.Spread)))
		}
	}
	rest := ""
	if len(others) > 0 {
		rest = " (" + strings.Join(others, "; ") + ")"
	}
	if best < 0 {
		return SyncBarrier, "auto: calibration measured no strategy, so barrier" + rest
	}
	b := cals[best]
	what := "first-byte spread (the target reports no arrival times)"
	if b.Arrival {
		what = "arrival spread"
	}
	return b.Strategy, fmt.Sprintf("auto: %s had the tightest %s in calibration, median %s over %d bursts%s",
		b.Strategy, what, micro(b.Spread), b.Bursts, rest)
}

func micro(d time.Duration) string {
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

// calibrate fires a few drawn bursts with every candidate and picks one. It
// returns the shots of the bursts that completed, to be judged with the
// baseline: they are real requests and could carry a leak. Bursts that
// failed are dropped, not judged, so that a target without HTTP/2 does not
// count the refused h2 attempts against the run's error budget.
func (e *execution) calibrate(ctx context.Context) ([]*shot, []calibration) {
	candidates := autoCandidates()
	rounds := calibrationRounds
	if e.budget.MaxRequests > 0 {
		// Leave most of a small request budget to the real bursts.
		rounds = max(2, min(rounds, e.budget.MaxRequests/(4*len(candidates)*e.f.opts.BurstSize)))
	}
	cals := make([]calibration, len(candidates))
	spreads := make([][]time.Duration, len(candidates))
	arrivals := make([]int, len(candidates))
	var keep []*shot
	for range rounds {
		for i, st := range candidates {
			if ctx.Err() != nil {
				break
			}
			if cals[i].Err != "" {
				continue
			}
			cals[i].Strategy = st.name
			// Calibration bursts are real bursts, numbered ahead of the
			// run's: a leak they show is a concurrent one, not a leak of
			// the sequential baseline (burst 0).
			e.calBursts++
			shots := e.prepare(ctx, e.calBursts, e.draw())
			st.fire(shots, e.f.spec.Limits.Timeout, e.f.spec.Limits.MaxBody)
			spread, arrival, err := calibrationSpread(shots)
			if err != "" {
				cals[i].Err = err
				for _, sh := range shots {
					if sh.c != nil {
						sh.ss.release(sh.c)
						sh.c = nil
					}
				}
				continue
			}
			spreads[i] = append(spreads[i], spread)
			if arrival {
				arrivals[i]++
			}
			keep = append(keep, shots...)
		}
	}
	for i := range cals {
		cals[i].Strategy = candidates[i].name
		if cals[i].Err != "" || len(spreads[i]) == 0 {
			continue
		}
		cals[i].Bursts = len(spreads[i])
		// The same nearest-rank median as the stream and the reports.
		cals[i].Spread = Percentiles(spreads[i], 50)[0]
		cals[i].Arrival = arrivals[i] == len(spreads[i])
	}
	// Arrival and first-byte spreads are not comparable; when only some
	// strategies got arrival times, compare first bytes for all.
	if mixedArrival(cals) {
		for i := range cals {
			cals[i].Arrival = false
		}
	}
	return keep, cals
}

func mixedArrival(cals []calibration) bool {
	with, without := 0, 0
	for _, c := range cals {
		if c.Err != "" || c.Bursts == 0 {
			continue
		}
		if c.Arrival {
			with++
		} else {
			without++
		}
	}
	return with > 0 && without > 0
}

// calibrationSpread measures one calibration burst: the arrival spread when
// every reply reported its arrival, else the first-byte spread. A burst with
// any failed shot yields its first error instead.
func calibrationSpread(shots []*shot) (time.Duration, bool, string) {
	var arr, first []time.Time
	for _, sh := range shots {
		if sh.err != nil || sh.ex.Err != "" {
			return 0, false, orMsg(sh.ex.Err, sh.err)
		}
		if statusIsError(sh.ex.Status) {
			return 0, false, fmt.Sprintf("the target answered %d", sh.ex.Status)
		}
		if !sh.ex.Arrival.IsZero() {
			arr = append(arr, sh.ex.Arrival)
		}
		first = append(first, sh.ex.FirstByte)
	}
	if len(first) < 2 {
		return 0, false, "a calibration burst needs two steps"
	}
	if len(arr) == len(first) {
		return spanOf(arr), true, ""
	}
	return spanOf(first), false, ""
}

func orMsg(msg string, err error) string {
	if msg != "" {
		return msg
	}
	return err.Error()
}

func spanOf(ts []time.Time) time.Duration {
	lo, hi := ts[0], ts[0]
	for _, t := range ts[1:] {
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return hi.Sub(lo)
}
