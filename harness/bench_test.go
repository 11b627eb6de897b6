package harness

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
)

// BenchmarkBurst fires bursts of 2 and of 20 steps (half GETs, half POSTs
// with a body) with each strategy at a local recorder, on warm connections.
// ns/op is the whole burst, release to last reply; spread-µs is the median
// server arrival spread over the bursts fired.
func BenchmarkBurst(b *testing.B) {
	for _, name := range Strategies() {
		for _, n := range []int{2, 20} {
			b.Run(fmt.Sprintf("%s/N=%d", name, n), func(b *testing.B) {
				_, base := startRecorder(b, false)
				d := wire.NewDialer(base, 10*time.Second, 1<<20, true)
				defer d.Close()
				conns := stageBurst(b, d, base, n)
				var spreads []time.Duration
				for b.Loop() {
					shots := stageOn(d, base, connsOf(conns))
					strategyNamed(name).fire(shots, 10*time.Second, 1<<20)
					for _, sh := range shots {
						if sh.err != nil {
							b.Fatal(sh.err)
						}
					}
					_, spread := burstTimes(shots)
					spreads = append(spreads, spread)
				}
				if len(spreads) > 0 {
					b.ReportMetric(float64(pick(spreads, 50))/1e3, "p50-spread-µs")
					b.ReportMetric(float64(pick(spreads, 90))/1e3, "p90-spread-µs")
				}
			})
		}
	}
}

func connsOf(shots []*shot) []*wire.Conn {
	out := make([]*wire.Conn, len(shots))
	for i, sh := range shots {
		out[i] = sh.c
	}
	return out
}

func pick(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
