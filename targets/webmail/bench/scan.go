package bench

import (
	"time"

	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/oracle/oracletest"
)

// ScanUsers is the number of users whose markers the oracle looks for.
const ScanUsers = 100

// ScanRow is the oracle's speed with one set of markers: megabytes per
// second through 1 MiB pages, and 8 KiB pages per second.
type ScanRow struct {
	Markers     string
	MBps        float64
	PagesPerSec float64
}

// ScanRates measures one core's oracle on the workload of the oracle's own
// Go benchmarks (package oracletest), so the two sets of figures compare,
// for every set of markers, and hands over a row each.
func ScanRates(cfg Config, row func(ScanRow)) error {
	for _, c := range []struct {
		name string
		load func() ([]oracle.Marker, []string)
	}{
		{"seeded canaries (100 users)", func() ([]oracle.Marker, []string) { return oracletest.Canaries(ScanUsers) }},
		{"canaries + login, e-mail and session (100 users)", func() ([]oracle.Marker, []string) { return oracletest.CanariesAndIdentity(ScanUsers) }},
		{"canaries + login, e-mail and session + 10,000 learned", func() ([]oracle.Marker, []string) { return oracletest.Learned(ScanUsers, 10000) }},
	} {
		ms, planted := c.load()
		o, err := oracle.New(ms)
		if err != nil {
			return err
		}
		big := oracletest.Page(1<<20, planted)
		row(ScanRow{
			Markers:     c.name,
			MBps:        scanRate(o, big, cfg.ScanTime) * float64(len(big)) / 1e6,
			PagesPerSec: scanRate(o, oracletest.Page(8<<10, planted), cfg.ScanTime),
		})
	}
	return nil
}

// scanRate returns scans per second of body over about d.
func scanRate(o *oracle.Oracle, body []byte, d time.Duration) float64 {
	r := oracletest.Response(body)
	start := time.Now()
	n := 0
	for time.Since(start) < d && n < 10_000_000 {
		o.Scan(oracletest.Viewer, r)
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}
