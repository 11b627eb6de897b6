package bench

import (
	"context"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// Windows are the race windows (webmail.Options.Work on lastlogin) the
// time-to-first-leak table has a row for, widest first.
var Windows = []time.Duration{time.Microsecond, 200 * time.Nanosecond, 0}

// LeakUsers is the number of users in each burst of the leak hunt.
const LeakUsers = 8

// LeakRow is the median time to first leak of every firer, in [Firers]
// order, at one race window.
type LeakRow struct {
	Work  time.Duration
	Cells []Median
}

// Label names the row's window.
func (r LeakRow) Label() string {
	if r.Work == 0 {
		return "0 (none)"
	}
	return r.Work.String()
}

// Speedup compares the naive baseline (the last cell) with the best
// strategy.
func (r LeakRow) Speedup() string {
	return Speedup(r.Cells[len(r.Cells)-1], r.Cells[:len(r.Cells)-1])
}

// TimesToLeak measures, for every window, how long each firer takes to
// find the last-login leak, and hands over a row per window. The cells
// share cfg.Budget: each gets an equal part of what is left, so a cell that
// finishes early leaves more for the next ones.
func TimesToLeak(ctx context.Context, cfg Config, row func(LeakRow)) error {
	s, err := webmailSpec(LeakUsers)
	if err != nil {
		return err
	}
	firers := Firers()
	deadline := time.Now().Add(cfg.Budget)
	cells := len(Windows) * len(firers)
	for _, work := range Windows {
		srv, err := webmail.Start("", webmail.Options{Bug: webmail.BugLastLogin, Users: LeakUsers, Work: work, Seed: 1})
		if err != nil {
			return err
		}
		r := LeakRow{Work: work}
		for _, f := range firers {
			share := time.Until(deadline) / time.Duration(max(1, cells))
			cells--
			ts := leakTrials(ctx, srv.URL(), s, f, cfg, time.Now().Add(share))
			r.Cells = append(r.Cells, MedianOf(ts, cfg.Trials))
		}
		if err := srv.Stop(); err != nil {
			return err
		}
		row(r)
	}
	return nil
}

// leakTrials measures up to cfg.Trials times to first leak, until until.
//
// The trials run back to back on one warm run: each starts when the
// previous one found its leak (or hit the cap), and ends at the next burst
// with a finding. Bursts are independent draws and the defect keeps no
// state between requests, so each such trial is distributed as a time to
// first leak from a fresh start, without paying the login and baseline of a
// fresh run every time; that is what lets ten trials per cell fit the
// budget. A trial that reaches the cap is recorded as a capped lower bound
// and the next one starts; so is the trial the budget cuts short. The cell
// stops early once more than half of the planned trials are capped: the
// median is then a lower bound that more trials cannot change.
func leakTrials(ctx context.Context, base string, s *spec.Spec, firer string, cfg Config, until time.Time) []Trial {
	t := &trials{cfg: cfg, until: until}
	if firer != Naive {
		harnessLeaks(ctx, base, s, firer, t)
		return t.out
	}
	nv, err := newNaive(ctx, base, s)
	if err != nil {
		return nil
	}
	emails := make([]string, len(s.Resolved))
	for i, u := range s.Resolved {
		emails[i] = u.Email
	}
	nv.leaks(ctx, emails, t)
	return t.out
}
