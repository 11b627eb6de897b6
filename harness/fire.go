package harness

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// ArrivalHeader is the response header in which a target may report when its
// handler started, in Unix nanoseconds. The built-in webmail sends it when
// asked to; with it, a burst's spread can be measured where it matters, at the
// server, not only at the client.
const ArrivalHeader = "X-Arrival-Ns"

// shot is a step made ready to fire: its user's session, the serialised
// request and a warm connection to send it on.
type shot struct {
	step Step
	idx  int
	ss   *Session
	req  *spec.Request
	wire wireRequest
	c    *conn

	ex       Exchange
	resp     response
	err      error
	canceled bool
}

// loginRequest stands for the spec's login flow in a plan step.
var loginRequest = &spec.Request{Name: LoginStep, Method: http.MethodPost, Data: "login", Action: spec.ActionLogin}

// prepare builds and connects every step of a burst before the release, so
// that nothing but the write itself happens inside the timed window. Login
// steps are built last: building one forgets the user's session, which the
// user's other steps in the burst still carry.
func (r *runner) prepare(ctx context.Context, burst int, b Burst) []*shot {
	shots := make([]*shot, len(b.Steps))
	for i, st := range b.Steps {
		shots[i] = &shot{step: st, idx: i, ex: Exchange{Burst: burst, Step: i, User: st.User, Request: st.Request}}
	}
	for pass := range 2 {
		for _, sh := range shots {
			if (sh.step.Request == LoginStep) != (pass == 1) {
				continue
			}
			sh.err = r.build(ctx, sh)
			if sh.err == nil {
				sh.ex.Method, sh.ex.Path = sh.wire.method, sh.wire.path
				if sh.c, sh.err = sh.ss.acquire(ctx); sh.err == nil {
					sh.ex.Conn = sh.c.id
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
func (r *runner) build(ctx context.Context, sh *shot) error {
	st := sh.step
	ss, ok := r.sessions[st.User]
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
	if sh.req = r.spec.Request(st.Request); sh.req == nil {
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
		sh.wire, err = ss.build(r.bust(sh.req, burst(sh)))
		return err
	}
	peer := ss
	if st.Peer != "" {
		if peer, ok = r.sessions[st.Peer]; !ok {
			return fmt.Errorf("plan names unknown peer %q", st.Peer)
		}
	}
	w, drawn, err := ss.buildWrite(sh.req, peer)
	if err != nil {
		return err
	}
	sh.wire = w
	r.grants.allowIdentity(peer.User.Login, ss.User.Login)
	for _, c := range drawn {
		r.grants.allowValue(peer.User.Login, ss.User.Login, c)
	}
	return nil
}

// strategy releases a prepared burst and returns the release time. Every
// shot with a connection must have sent its request, read its reply and
// filled its exchange (see [shot.send]) by the time it returns.
type strategy func(shots []*shot, timeout time.Duration, maxBody int64) time.Time

// strategies maps -sync names to strategies. Strategies in other files add
// themselves here from init.
var strategies = map[string]strategy{SyncBarrier: fireBarrier}

// Strategies lists the sync strategy names, sorted.
func Strategies() []string {
	names := make([]string, 0, len(strategies))
	for n := range strategies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fireBarrier releases a prepared burst: one goroutine per step, all parked on
// one channel that is closed at the release. It is the simplest strategy and
// the baseline the others are measured against.
func fireBarrier(shots []*shot, timeout time.Duration, maxBody int64) time.Time {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	var release time.Time
	for _, sh := range shots {
		if sh.c == nil {
			continue
		}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			if sh.step.Offset > 0 {
				waitUntil(release.Add(sh.step.Offset))
			}
			sh.send(timeout, maxBody)
		}()
	}
	ready.Wait()
	release = time.Now()
	close(gate)
	done.Wait()
	return release
}

// send performs the shot's round trip. A step with CancelAfter gets a deadline
// that short and, when it hits, counts as a client cancel, not a target error.
func (sh *shot) send(timeout time.Duration, maxBody int64) {
	limit := timeout
	if sh.step.CancelAfter > 0 && sh.step.CancelAfter < timeout {
		limit = sh.step.CancelAfter
	}
	sent, resp, err := sh.c.roundTrip(sh.wire, time.Now().Add(limit), maxBody)
	sh.ex.Sent = sent
	sh.finish(resp, err, limit, timeout)
}

// waitUntil spins until t. Offsets are microseconds, far below what a timer
// can hit, so it yields instead of sleeping.
func waitUntil(t time.Time) {
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

// DefaultSettle is the [Options.Settle] that plan replays use. On the
// built-in webmail's two-step lastlogin plan, with the target on the same two
// cores, bursts fired back to back reproduced about half the time and bursts
// a millisecond apart about 70% of the time (fuzz/README.md has the runs). A
// millisecond per burst is cheap next to a replay's or a shrink step's other
// costs, and it is no help to run, which wants throughput.
const DefaultSettle = time.Millisecond

// SetupSettle is the quiet time a [Target] keeps between its setup and its
// first burst, when it settles at all. Right after the logins and baselines,
// the two-step lastlogin plan reproduced in 31–50% of its first ten runs and
// in about 80% of the later ones; after 50–300 ms without traffic, the first
// ten did as well as the rest. Turning garbage collection off, in the client
// or in the target, did not change that, so the cause lies below both
// runtimes: most likely the kernel's load tracking of the client's freshly
// started threads, which decays over tens of milliseconds. That is a guess;
// the figures are not.
const SetupSettle = 100 * time.Millisecond

// settle waits out [Options.Settle] since the previous burst, or since the
// end of a Target's setup plus [SetupSettle]. It reports false if ctx ended
// during the wait.
func (r *runner) settle(ctx context.Context) bool {
	if r.opts.Settle <= 0 {
		return true
	}
	next := r.quietUntil
	if !r.lastBurst.IsZero() && r.lastBurst.Add(r.opts.Settle).After(next) {
		next = r.lastBurst.Add(r.opts.Settle)
	}
	wait := time.Until(next)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// burstTimes works out the release skew and, where the target reports it, the
// arrival spread of a fired burst.
func burstTimes(shots []*shot) (skew, spread time.Duration) {
	var minS, maxS, minA, maxA time.Time
	arrivals := 0
	for _, sh := range shots {
		if !sh.ex.Sent.IsZero() {
			if minS.IsZero() || sh.ex.Sent.Before(minS) {
				minS = sh.ex.Sent
			}
			if sh.ex.Sent.After(maxS) {
				maxS = sh.ex.Sent
			}
		}
		if !sh.ex.Arrival.IsZero() {
			arrivals++
			if minA.IsZero() || sh.ex.Arrival.Before(minA) {
				minA = sh.ex.Arrival
			}
			if sh.ex.Arrival.After(maxA) {
				maxA = sh.ex.Arrival
			}
		}
	}
	if !minS.IsZero() {
		skew = maxS.Sub(minS)
	}
	if arrivals > 1 {
		spread = maxA.Sub(minA)
	}
	return skew, spread
}
