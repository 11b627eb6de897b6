package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// Every call into the harness engine is in this file: the bench drives it
// only through Run, NewFixture and Credentials, and a change of the engine's
// API is a change here alone.

// strategies are the sync strategies the tables compare, in column order.
func strategies() []string { return harness.Strategies() }

// arrivalHeader is where the webmail reports when a handler was entered.
const arrivalHeader = harness.ArrivalHeader

// percentiles are the nearest-rank p50 and p90, as the stream quotes them.
func percentiles(ds []time.Duration) (p50, p90 time.Duration) {
	ps := harness.Percentiles(ds, 50, 90)
	return ps[0], ps[1]
}

// harnessSpreads fires bursts of n users' requests with sync and returns
// each burst's arrival spread.
func harnessSpreads(ctx context.Context, base string, s *spec.Spec, sync string, n, bursts int) ([]time.Duration, error) {
	plan := &harness.Plan{}
	for b := range bursts {
		var st []harness.Step
		for i := range n {
			st = append(st, harness.Step{User: s.Resolved[(b+i)%len(s.Resolved)].Login, Request: s.Requests[0].Name})
		}
		plan.Bursts = append(plan.Bursts, harness.Burst{Steps: st})
	}
	var spreads []time.Duration
	out, err := harness.Run(ctx, s, harness.Options{BaseURL: base, Sync: sync, Plan: plan, BurstSize: n, Duration: time.Minute, Seed: 1},
		func(r harness.Record) error {
			if r.Burst != nil && r.Burst.ArrivalSpread > 0 {
				spreads = append(spreads, r.Burst.ArrivalSpread)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if out.Errors > 0 || len(spreads) == 0 {
		return nil, fmt.Errorf("%d errors: %s", out.Errors, out.Reason)
	}
	return spreads, nil
}

var errCellDone = errors.New("bench cell done")

// harnessLeaks runs t's trials back to back on one run with sync: a trial
// ends at the first burst with a finding.
func harnessLeaks(ctx context.Context, base string, s *spec.Spec, sync string, t *trials) {
	lastLeak := -1
	leaked := false
	_, _ = harness.Run(ctx, s, harness.Options{BaseURL: base, Sync: sync, Duration: time.Until(t.until) + 10*time.Second, BurstSize: LeakUsers},
		func(r harness.Record) error {
			switch {
			case r.Header != nil:
				t.start = time.Now() // setup is done; the bursts start
			case r.Finding != nil && r.Finding.Burst > 0 && r.Finding.Burst != lastLeak:
				lastLeak, leaked = r.Finding.Burst, true
			case r.Burst != nil:
				t.tick(leaked)
				leaked = false
				if t.enough() {
					return errCellDone
				}
			}
			return nil
		})
	t.cut()
}

// harnessRate runs random bursts with sync for d, every response scanned,
// and returns requests per second and the errors.
func harnessRate(ctx context.Context, base string, s *spec.Spec, sync string, d time.Duration) (float64, int, error) {
	out, err := harness.Run(ctx, s, harness.Options{BaseURL: base, Sync: sync, Duration: d, BurstSize: LeakUsers, Seed: 1}, nil)
	if err != nil {
		return 0, 0, err
	}
	return float64(out.Requests) / out.Elapsed.Seconds(), out.Errors, nil
}

// logins logs every user of s in at base, through the spec's login and the
// harness's own sessions, and returns the headers that send a request as
// each user, in spec order. The clients that fire without the harness (the
// naive baseline, hey) send these.
func logins(ctx context.Context, base string, s *spec.Spec) ([]http.Header, error) {
	// No settle: nothing is fired through the target itself.
	t, err := harness.NewFixture(ctx, s, harness.FixtureOptions{BaseURL: base, Settle: -1}, nil)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	users := t.Users()
	out := make([]http.Header, len(users))
	for i, u := range users {
		if out[i], err = t.Credentials(u); err != nil {
			return nil, err
		}
	}
	return slices.Clip(out), nil
}
