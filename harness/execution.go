package harness

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/crosstalk/crosstalk/harness/oracle"
)

// execution is one run or one plan execution against a fixture: its sink,
// budget, counters, timing and outcome. Each [Run] and [Fixture.Execute]
// builds a fresh one, so nothing of an execution is reset by hand.
type execution struct {
	f *Fixture
	// sessions are the users' sessions this execution fires through. They
	// belong to the fixture (see [Fixture]); the execution only borrows them.
	sessions map[string]*session
	budget   Budget
	sink     Sink
	start    time.Time
	out      Outcome
	// headerSent: a stream always opens with a header, even when setup
	// failed before the oracle existed.
	headerSent bool
	// calBursts counts auto's calibration bursts; the run's own bursts are
	// numbered after them.
	calBursts int
	// fired counts the requests of the execution's own bursts, which is
	// what MaxRequests bounds: logins, baselines and calibration are not
	// the test.
	fired int
	// stopReason says why the bursts stopped early, when they did.
	stopReason string
	timing     burstTiming
	cov        coverCount
	// warnings are the setup's, for the header.
	warnings []string
	// afterBurst, when set, runs after every burst of the execution's own,
	// from its goroutine: Run's control after the first finding hangs here.
	afterBurst func(ctx context.Context, burst int)
	// hold keeps records back from the sink, from the first finding on,
	// until the control has said whether the leak is persistent: every
	// finding is then streamed with its kind. held are those records.
	hold bool
	held []Record
	// persistence is the control's word on this execution's leaks, once
	// it has spoken; findings streamed after it carry it.
	persistence Persistence
}

func newExecution(f *Fixture, b Budget, sink Sink) *execution {
	if sink == nil {
		sink = func(Record) error { return nil }
	}
	return &execution{f: f, sessions: f.sessions, budget: b, sink: sink, start: time.Now()}
}

func (e *execution) emit(rec Record) error {
	rec.V = StreamVersion
	if rec.Finding != nil {
		fd := *rec.Finding
		if e.persistence != "" {
			fd.Persistence = e.persistence
		}
		e.f.redactFresh(e.sessions, &fd)
		rec.Finding = &fd
	}
	if e.hold && (rec.Type == RecordFinding || len(e.held) > 0) && rec.Type != RecordVerdict {
		e.held = append(e.held, rec)
		return nil
	}
	return e.sink(rec)
}

// release streams the held records, their findings marked with p (which
// may be empty: no control got to run), and stops holding.
func (e *execution) release(p Persistence) error {
	e.hold, e.persistence = false, p
	held := e.held
	e.held = nil
	for _, rec := range held {
		if err := e.emit(rec); err != nil {
			return err
		}
	}
	return nil
}

func (e *execution) header() error {
	e.headerSent = true
	f := e.f
	h := &Header{Spec: f.spec.Name, SpecFile: f.spec.File, BaseURL: f.base.String(), Sync: f.opts.Sync, SyncReason: f.syncReason,
		Users: f.users, Started: e.start, Markers: map[oracle.Kind]int{},
		Duration: e.budget.Duration, MaxRequests: e.budget.MaxRequests, BurstSize: f.opts.BurstSize, RatePerSecond: f.opts.Rate,
		Sessions: f.SessionsName(), Reset: f.ResetName()}
	for _, q := range f.spec.Requests {
		h.Requests = append(h.Requests, RequestInfo{Name: q.Name, Data: q.Data})
	}
	if f.oracle != nil {
		if f.markerCounts == nil {
			// Once per oracle, not per execution: a shrinker runs
			// thousands of executions, each with a header.
			f.markerCounts, f.learned = map[oracle.Kind]int{}, []LearnedMarker{}
			for _, m := range f.oracle.Markers() {
				f.markerCounts[m.Kind]++
				if m.Kind == oracle.Learned {
					f.learned = append(f.learned, LearnedMarker{Owner: m.Owner, Value: f.oracle.Redact(m.Value), Request: m.Label})
				}
			}
		}
		maps.Copy(h.Markers, f.markerCounts)
		if len(f.learned) > 0 {
			h.Learned = f.learned
		}
	}
	h.Coverage = f.baselineCov
	h.Warnings = e.warnings
	return e.emit(Record{Type: RecordHeader, Header: h})
}

func (e *execution) progress() Progress {
	p := Progress{Elapsed: time.Since(e.start), Bursts: e.out.Bursts, Requests: e.out.Requests,
		Errors: e.out.Errors, Findings: e.out.Findings}
	b := e.budget
	if b.Duration > 0 {
		p.Budget = float64(p.Elapsed) / float64(b.Duration)
	}
	if b.MaxRequests > 0 {
		p.Budget = max(p.Budget, float64(e.fired)/float64(b.MaxRequests))
	}
	if b.Plan != nil {
		p.Budget = max(p.Budget, float64(p.Bursts)/float64(max(1, len(b.Plan.Bursts))))
	}
	p.Budget = min(p.Budget, 1)
	return p
}

// finish decides the verdict and closes the stream. setupErr is why the
// setup could not go on, if it could not.
func (e *execution) finish(setupErr error) (*Outcome, error) {
	o := &e.out
	o.Elapsed = time.Since(e.start)
	e.timing.fill(o)
	o.CalibrationBursts = e.calBursts
	cov := e.cov.outcome(e.f.baselineCov, e.f.spec.Limits.MinCoverage)
	if e.f.baselineCov != nil {
		o.Coverage = &cov
	}
	c := Counts{Findings: o.Findings, Requests: o.Requests, Errors: o.Errors, Bursts: o.Bursts,
		CutShort: o.CutShort, LoginFailures: o.LoginFailures, StopReason: e.stopReason, Coverage: cov}
	if setupErr != nil {
		c.SetupError = setupErr.Error()
		if o.Findings == 0 {
			// A leak stands whatever stopped the setup; otherwise the
			// execution did not get to spend its budget.
			o.CutShort = true
		}
	}
	o.Verdict, o.Reason = Decide(c, e.f.spec.Limits.MaxErrorRate)
	if e.persistence != "" && o.Findings > 0 {
		o.Persistence = e.persistence
	}
	if err := e.release(e.persistence); err != nil {
		return o, fmt.Errorf("writing the result stream: %w", err)
	}
	if !e.headerSent {
		if err := e.header(); err != nil {
			return o, fmt.Errorf("writing the result stream: %w", err)
		}
	}
	if err := e.emit(Record{Type: RecordVerdict, Outcome: o}); err != nil {
		return o, fmt.Errorf("writing the result stream: %w", err)
	}
	return o, nil
}
