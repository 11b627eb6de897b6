package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// Run tests isolation on the target a spec describes and streams the result
// to sink: one header, bursts and findings as they happen, one verdict last.
//
// It sets up a fixture (logs every user in, plants canaries, fetches each
// user's baseline twice to learn markers), then executes once: it fires
// bursts until the duration or the request budget is spent, ctx is done, or
// (with StopOnFirst) a leak is found. It returns the outcome that was also
// streamed; the error is non-nil only for invalid options (wrapping
// [ErrOptions]) or a failing sink. Target failures are not errors: they
// make the verdict [Inconclusive]. The setup's requests count in the
// outcome, so that a run whose setup mostly failed cannot look isolated.
func Run(ctx context.Context, s *spec.Spec, opts Options, sink Sink) (*Outcome, error) {
	f, err := newFixture(s, opts.Fixture(), opts.Budget())
	if err != nil {
		return nil, err
	}
	defer f.closeConns()
	e := newExecution(f, opts.Budget(), sink)
	// The setup spends the run's time too: a target that hangs on login must
	// not make a 3 s run take a timeout per user.
	setupCtx := ctx
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		setupCtx, cancel = context.WithDeadline(ctx, e.start.Add(opts.Duration))
		defer cancel()
	}
	// The first finding waits in the execution until the control after
	// it has told whether the leak is transient or persistent.
	e.hold = true
	var sinkErr error
	e.afterBurst = func(ctx context.Context, burst int) {
		if err := e.controlOnce(ctx, burst); err != nil && sinkErr == nil {
			sinkErr = err
		}
	}
	ready, err := e.setup(setupCtx)
	if err != nil {
		return e.finish(err)
	}
	switch {
	case ready:
		e.afterBurst(ctx, 0)
		if sinkErr == nil {
			e.bursts(ctx)
		}
	case ctx.Err() != nil:
		e.out.CutShort = true
	case ended(setupCtx):
		e.out.CutShort = true
		e.stopReason = fmt.Sprintf("the setup (logins, seeds, baselines) did not finish within the %v duration, so no burst was fired", opts.Duration)
	}
	if sinkErr != nil {
		e.out.CutShort = true
	}
	return e.finish(nil)
}

// Execute fires every burst of plan once and streams a header, the bursts,
// the findings and a verdict to sink (which may be nil), like a [Run] whose
// setup was already done. Baseline findings are not counted again; the
// execution's bursts are numbered from 1.
//
// An execution is hermetic as far as the fixture can make it: when the
// fixture has a reset, the target is reset first (unless it is known clean:
// just set up, or reset since), and unless the spec keeps sessions, every
// user and peer of the plan logs in again first, with a new session (see
// [Fixture]). A reset that fails is an error wrapping [ErrReset]; a login
// that fails counts as a failed request and makes the outcome inconclusive.
func (f *Fixture) Execute(ctx context.Context, plan Plan, sink Sink) (*Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: the fixture is closed", ErrOptions)
	}
	if f.resets() && !f.clean {
		if err := f.reset(ctx); err != nil {
			return nil, err
		}
	}
	f.clean = false
	f.executions++
	e := newExecution(f, Budget{Plan: &plan}, sink)
	if !f.keep {
		var problems []string
		e.sessions, problems = f.freshSessions(ctx, plan)
		defer func() {
			for _, ss := range e.sessions {
				ss.closeAll()
			}
		}()
		// Each failed login is a request that failed: a plan whose users
		// could not log in shows nothing about isolation.
		e.out.Requests += len(problems)
		e.out.Errors += len(problems)
		e.out.LoginFailures = problems
		// The logins are traffic too; the first burst settles after them.
		f.lastBurst = time.Now()
	}
	if err := e.header(); err != nil {
		return nil, err
	}
	if len(e.out.LoginFailures) == 0 {
		e.bursts(ctx)
	}
	return e.finish(nil)
}
