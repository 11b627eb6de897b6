package bench

import (
	"context"
	"time"

	"github.com/crosstalk/crosstalk/targets/webmail"
)

// SpreadSizes are the burst sizes the spread table has a column for.
var SpreadSizes = []int{2, 20}

// SpreadRow is one firer's arrival spreads, a cell per burst size.
type SpreadRow struct {
	Firer string
	Cells []SpreadCell
}

// SpreadCell is the p50 and p90 arrival spread of bursts of N users at the
// fixed webmail's handlers, or why it could not be measured.
type SpreadCell struct {
	N        int
	P50, P90 time.Duration
	Err      error
}

// String is the cell as the table shows it.
func (c SpreadCell) String() string {
	if c.Err != nil {
		return "failed: " + c.Err.Error()
	}
	return Micros(c.P50) + " / " + Micros(c.P90)
}

// Spreads measures the arrival spread of cfg.Bursts bursts of each size for
// every firer, on the fixed webmail with no work, and hands over a row per
// firer. A firer that fails is a row of failed cells, not an error: the
// other rows still mean something.
func Spreads(ctx context.Context, cfg Config, row func(SpreadRow)) error {
	users := SpreadSizes[len(SpreadSizes)-1]
	srv, err := webmail.Start("", webmail.Options{Bug: webmail.BugNone, Users: users, Work: 0, Seed: 1, ReportArrival: true})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	s, err := webmailSpec(users)
	if err != nil {
		return err
	}
	var nv *naive
	for _, f := range Firers() {
		r := SpreadRow{Firer: f}
		for _, n := range SpreadSizes {
			var spreads []time.Duration
			var err error
			if f == Naive {
				if nv == nil {
					nv, err = newNaive(ctx, srv.URL(), s)
				}
				if err == nil {
					spreads, err = nv.spreads(ctx, n, cfg.Bursts)
				}
			} else {
				spreads, err = harnessSpreads(ctx, srv.URL(), s, f, n, cfg.Bursts)
			}
			c := SpreadCell{N: n, Err: err}
			if err == nil {
				c.P50, c.P90 = percentiles(spreads)
			}
			r.Cells = append(r.Cells, c)
		}
		row(r)
	}
	return nil
}
