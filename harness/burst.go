package harness

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// loginRequest stands for the spec's login flow in a plan step.
var loginRequest = &spec.Request{Name: LoginStep, Method: http.MethodPost, Data: "login", Action: spec.ActionLogin}

// bursts fires drawn (or planned) bursts until the budget is spent.
func (e *execution) bursts(ctx context.Context) {
	deadline := time.Time{}
	if e.budget.Duration > 0 {
		deadline = e.start.Add(e.budget.Duration)
	}
	first := e.calBursts + 1
	for n := first; ; n++ {
		if ctx.Err() != nil {
			e.out.CutShort = true
			return
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return
		}
		if e.budget.MaxRequests > 0 && e.fired >= e.budget.MaxRequests {
			return
		}
		if e.budget.StopOnFirst && e.out.Findings > 0 {
			return
		}
		if e.failing() {
			// Going on would only wait out timeouts; the run did not get to
			// spend its budget.
			e.out.CutShort = true
			e.stopReason = fmt.Sprintf("the target failed %d of %d requests", e.out.Errors, e.out.Requests)
			return
		}
		var b Burst
		if e.budget.Plan != nil {
			if n-first >= len(e.budget.Plan.Bursts) {
				return
			}
			b = e.budget.Plan.Bursts[n-first]
		} else {
			b = e.draw()
			if len(b.Steps) < 2 {
				// No two users have a request they can send (every read waits
				// for a value no response provided): drawing again would spin.
				e.stopReason = "no two users had a request ready to send: the values their requests need were never extracted"
				return
			}
		}
		if !e.pace(ctx, deadline) {
			if ctx.Err() != nil {
				e.out.CutShort = true
			}
			return
		}
		if !e.settle(ctx) {
			e.out.CutShort = true
			return
		}
		shots := e.prepare(ctx, n, b)
		e.fired += len(shots)
		e.paced(len(shots))
		release := strategyNamed(e.f.opts.Sync).fire(shots, e.f.spec.Limits.Timeout, e.f.spec.Limits.MaxBody)
		e.f.lastBurst = time.Now()
		skew, spread := burstTimes(shots)
		e.timing.add(skew, spread)
		before := e.out.Findings
		errs := e.out.Errors
		if err := e.judge(ctx, shots); err != nil {
			e.out.CutShort = true
			return
		}
		sum := &BurstSummary{Burst: n, Steps: len(shots), Release: release, ReleaseSkew: skew, ArrivalSpread: spread,
			Errors: e.out.Errors - errs, Findings: e.out.Findings - before}
		for _, sh := range shots {
			sum.Users = append(sum.Users, sh.step.User)
		}
		e.out.Bursts++
		if err := e.emit(Record{Type: RecordBurst, Burst: sum}); err != nil {
			e.out.CutShort = true
			return
		}
		if e.afterBurst != nil {
			e.afterBurst(ctx, n)
		}
		if e.budget.Progress != nil {
			e.budget.Progress(e.progress())
		}
	}
}

// failing stops a run early when the target is plainly broken: half of at
// least 20 requests failed. Going on would only wait out timeouts.
func (e *execution) failing() bool {
	return e.out.Requests >= 20 && e.out.Errors*2 > e.out.Requests
}

// draw picks BurstSize distinct users, each with a weighted random read
// request it is ready to send.
func (e *execution) draw() Burst {
	users := slices.Clone(e.f.users)
	e.f.rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	var b Burst
	for _, u := range users[:e.f.opts.BurstSize] {
		ss := e.sessions[u]
		total := 0
		for _, q := range e.f.reads {
			if ss.ready(q) {
				total += q.Weight
			}
		}
		if total == 0 {
			continue
		}
		pick := e.f.rng.IntN(total)
		for _, q := range e.f.reads {
			if !ss.ready(q) {
				continue
			}
			if pick -= q.Weight; pick < 0 {
				b.Steps = append(b.Steps, Step{User: u, Request: q.Name})
				break
			}
		}
	}
	return b
}

// prepare builds and connects every step of a burst before the release, so
// that nothing but the write itself happens inside the timed window. Login
// steps are built last: building one forgets the user's session, which the
// user's other steps in the burst still carry.
func (e *execution) prepare(ctx context.Context, burst int, b Burst) []*shot {
	shots := make([]*shot, len(b.Steps))
	for i, st := range b.Steps {
		shots[i] = &shot{step: st, idx: i, ex: Exchange{Burst: burst, Step: i, User: st.User, Request: st.Request}}
	}
	for pass := range 2 {
		for _, sh := range shots {
			if (sh.step.Request == LoginStep) != (pass == 1) {
				continue
			}
			sh.err = e.build(ctx, sh)
			if sh.err == nil {
				sh.ex.Method, sh.ex.Path = sh.wire.Method, sh.wire.Path
				if sh.c, sh.err = sh.ss.acquire(ctx); sh.err == nil {
					sh.ex.Conn = sh.c.ID
				}
			}
			if sh.err != nil {
				sh.ex.Err = sh.err.Error()
			}
		}
	}
	return shots
}

// build resolves a step to its session and request and serialises it. A
// write's canaries and its sender's identity are granted to its peer.
func (e *execution) build(ctx context.Context, sh *shot) error {
	st := sh.step
	ss, ok := e.sessions[st.User]
	if !ok {
		return fmt.Errorf("plan names unknown user %q", st.User)
	}
	sh.ss = ss
	if st.Request == LoginStep {
		sh.req = loginRequest
		var err error
		sh.wire, err = ss.loginRequest()
		return err
	}
	if sh.req = e.f.spec.Request(st.Request); sh.req == nil {
		return fmt.Errorf("plan names unknown request %q", st.Request)
	}
	if ss.needsLogin() {
		if err := ss.login(ctx); err != nil {
			return err
		}
		ss.loggedOut = false
	}
	if sh.req.Action != spec.ActionWrite {
		var err error
		sh.wire, err = ss.build(e.f.bust(sh.req, sh.ex.Burst))
		return err
	}
	peer := ss
	if st.Peer != "" {
		if peer, ok = e.sessions[st.Peer]; !ok {
			return fmt.Errorf("plan names unknown peer %q", st.Peer)
		}
	}
	w, drawn, err := ss.buildWrite(sh.req, peer)
	if err != nil {
		return err
	}
	sh.wire = w
	e.f.grants.allowIdentity(peer.User.Login, ss.User.Login)
	for _, c := range drawn {
		e.f.grants.allowValue(peer.User.Login, ss.User.Login, c)
	}
	return nil
}

// DefaultSettle is the [FixtureOptions.Settle] that plan replays use. On the
// built-in webmail's two-step lastlogin plan, with the target on the same two
// cores, bursts fired back to back reproduced about half the time and bursts
// a millisecond apart about 70% of the time (fuzz/README.md has the runs). A
// millisecond per burst is cheap next to a replay's or a shrink step's other
// costs, and it is no help to run, which wants throughput.
const DefaultSettle = time.Millisecond

// SetupSettle is the quiet time a [Fixture] keeps between its setup and its
// first burst, when it settles at all. Right after the logins and baselines,
// the two-step lastlogin plan reproduced in 31–50% of its first ten runs and
// in about 80% of the later ones; after 50–300 ms without traffic, the first
// ten did as well as the rest. Turning garbage collection off, in the client
// or in the target, did not change that, so the cause lies below both
// runtimes: most likely the kernel's load tracking of the client's freshly
// started threads, which decays over tens of milliseconds. That is a guess;
// the figures are not.
const SetupSettle = 100 * time.Millisecond

// ControlSettle is the quiet time a settling [Fixture] keeps after a
// control before its next burst. A control is a setup in small: every user
// logs in and reads, one request after another, and the burst right after
// it races less, as the first bursts after a setup do. Measured on this
// 2-core machine, replaying the two-step lastlogin plan against a new server
// for every 150 executions, four rounds side by side: with only the usual
// 1 ms after a control, 236 of 600 executions leaked; after 5 ms, 288; after
// 10 ms, 338; after 20 ms, 335. The executions that follow a leak are the
// ones a control precedes, so without the wait a replay's rate came out
// about a fifth low. 10 ms is the shortest that gave the full rate; a
// shrink pays it once per leaking execution.
const ControlSettle = 10 * time.Millisecond

// pace waits until the next burst fits [FixtureOptions.Rate]. It reports
// false if ctx ended first, or if the time to wait for runs past the
// deadline (which may be zero: none), so that the budget ends the bursts
// there.
func (e *execution) pace(ctx context.Context, deadline time.Time) bool {
	if e.f.opts.Rate <= 0 {
		return true
	}
	next := e.f.nextRelease
	if !deadline.IsZero() && next.After(deadline) {
		return false
	}
	return sleepUntil(ctx, next)
}

// rateCatchUp is how far behind its rate an execution may catch up.
const rateCatchUp = time.Second

// paced books a burst of n requests released now against the rate.
func (e *execution) paced(n int) {
	if e.f.opts.Rate <= 0 {
		return
	}
	gap := time.Duration(float64(n) / e.f.opts.Rate * float64(time.Second))
	// Counting from the booked time, not from now, keeps timer lateness and
	// slow bursts from adding up: the bursts after them catch up. A burst
	// more than rateCatchUp late starts the count again, so that a stall
	// is not followed by a rush.
	from, now := e.f.nextRelease, time.Now()
	if from.IsZero() || now.Sub(from) > max(gap, rateCatchUp) {
		from = now
	}
	e.f.nextRelease = from.Add(gap)
}

// settle waits out [FixtureOptions.Settle] since the previous burst, or since the
// end of a fixture's setup plus [SetupSettle], or of a control plus
// [ControlSettle]. It reports false if ctx ended during the wait.
func (e *execution) settle(ctx context.Context) bool {
	if e.f.opts.Settle <= 0 {
		return true
	}
	next := e.f.quietUntil
	if !e.f.lastBurst.IsZero() && e.f.lastBurst.Add(e.f.opts.Settle).After(next) {
		next = e.f.lastBurst.Add(e.f.opts.Settle)
	}
	return sleepUntil(ctx, next)
}

// sleepUntil waits until t, or less if ctx ends first; it reports whether
// the wait ran its course.
func sleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
