package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// Target is a logged-in, seeded target that plans can be fired at again and
// again. [Run] pays for logins, seeding and the baselines on every call; a
// shrinker that runs a small plan thousands of times must not, or the setup
// would cost a hundred times the plan. The sessions, the oracle and the write
// grants are kept between executions, since the target keeps its data too:
// mail sent in one execution is still in the recipient's inbox in the next.
//
// A Target is safe for use by several goroutines; executions are serialised,
// because a user's session is a browser that does one thing at a time.
type Target struct {
	mu sync.Mutex
	r  *runner
	// Baseline is the outcome of the setup: logins, seeding and the
	// sequential baselines (burst 0). Its Findings are leaks that need no
	// concurrency at all.
	Baseline Outcome
	// Sequential counts the Baseline findings of the sequential baseline
	// (burst 0) alone: leaks that need no concurrency. The rest of
	// Baseline.Findings, if any, came from auto's calibration bursts.
	Sequential int
	closed     bool
}

// ErrSetup is returned by [NewTarget] when the target could not be made
// ready: a login or seed failed, or it could not be reached. The error says
// which.
var ErrSetup = errors.New("target setup failed")

// NewTarget logs every user in, plants canaries and learns markers, exactly as
// [Run] does before its first burst, and streams the header and any baseline
// findings to sink (which may be nil). opts.Plan, Duration and MaxRequests
// are ignored: each [Target.Execute] brings its own plan. A zero
// opts.Settle becomes [DefaultSettle], since a Target exists to replay plans;
// a negative one keeps none. Close it when done.
func NewTarget(ctx context.Context, s *spec.Spec, opts Options, sink Sink) (*Target, error) {
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	opts.Plan = &Plan{}
	opts.Progress = nil
	r, err := newRunner(s, opts, sink)
	if err != nil {
		return nil, err
	}
	r.start = time.Now()
	ready, err := r.setup(ctx)
	if err != nil || !ready {
		if ctx.Err() != nil {
			r.out.CutShort = true
		}
		out, _ := r.finish(err)
		r.close()
		return nil, fmt.Errorf("%w: %s", ErrSetup, out.Reason)
	}
	if opts.Settle > 0 {
		r.quietUntil = time.Now().Add(SetupSettle)
	}
	t := &Target{r: r, Baseline: r.out, Sequential: r.sequential}
	t.Baseline.Elapsed = time.Since(r.start)
	return t, nil
}

// Users lists the logins of the target's users, in spec order.
func (t *Target) Users() []string { return append([]string(nil), t.r.users...) }

// Spec is the spec the target was set up from.
func (t *Target) Spec() *spec.Spec { return t.r.spec }

// Sync names the strategy bursts are released with.
func (t *Target) Sync() string { return t.r.opts.Sync }

// UseSync switches the strategy later executions release bursts with. A
// plan's reproduction rate depends on it (a single packet gets two requests
// closer together than two connections do), so a shrinker can measure its
// minimal plan under each and keep the best. "auto" is not accepted here: it
// is a choice made once, from random bursts, before a run.
func (t *Target) UseSync(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := strategies[name]; !ok {
		return fmt.Errorf("%w: unknown sync strategy %q (known: %s)", ErrOptions, name, strings.Join(Strategies(), ", "))
	}
	t.r.opts.Sync = name
	return nil
}

// BaseURL is the URL the target is reached at.
func (t *Target) BaseURL() string { return t.r.base.String() }

// Execute fires every burst of plan once and streams a header, the bursts,
// the findings and a verdict to sink (which may be nil), like a [Run] whose
// setup was already done. Baseline findings are not counted again.
func (t *Target) Execute(ctx context.Context, plan Plan, sink Sink) (*Outcome, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%w: the target is closed", ErrOptions)
	}
	r := t.r
	if sink == nil {
		sink = func(Record) error { return nil }
	}
	r.sink, r.out, r.start, r.headerSent = sink, Outcome{}, time.Now(), false
	r.opts.Plan = &plan
	r.calBursts = 0 // an execution's bursts are numbered from 1
	r.fired, r.stopReason, r.timing = 0, "", burstTiming{}
	if err := r.header(r.oracle); err != nil {
		return nil, err
	}
	r.bursts(ctx)
	out, err := r.finish(nil)
	if out == nil {
		return nil, err
	}
	// A copy: the runner's outcome is reset by the next execution.
	c := *out
	c.LoginFailures = append([]string(nil), out.LoginFailures...)
	return &c, err
}

// Close closes the target's connections.
func (t *Target) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		t.r.close()
	}
}
