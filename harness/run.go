package harness

import (
	"context"
	"fmt"

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
	ready, err := e.setup(setupCtx)
	if err != nil {
		return e.finish(err)
	}
	switch {
	case ready:
		e.bursts(ctx)
	case ctx.Err() != nil:
		e.out.CutShort = true
	case ended(setupCtx):
		e.out.CutShort = true
		e.stopReason = fmt.Sprintf("the setup (logins, seeds, baselines) did not finish within the %v duration, so no burst was fired", opts.Duration)
	}
	return e.finish(nil)
}

// Execute fires every burst of plan once and streams a header, the bursts,
// the findings and a verdict to sink (which may be nil), like a [Run] whose
// setup was already done. Baseline findings are not counted again; the
// execution's bursts are numbered from 1.
func (f *Fixture) Execute(ctx context.Context, plan Plan, sink Sink) (*Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: the fixture is closed", ErrOptions)
	}
	e := newExecution(f, Budget{Plan: &plan}, sink)
	if err := e.header(); err != nil {
		return nil, err
	}
	e.bursts(ctx)
	return e.finish(nil)
}
