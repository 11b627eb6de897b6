package harness

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness/oracle"
)

// This file is the control stage. Many real leaks outlive the request that
// caused them: a collided session, a stale reply left on a pooled
// connection, a poisoned cache entry. After such a leak every later request
// of the affected users leaks too, whatever it is, and a shrinker that did
// not know would throw the cause away. A control tells the two apart: each
// user's read requests once, one user at a time, with no concurrency. A
// leak in it is no race of its own making, so the leak before it is
// [Persistent]; a clean control makes it [Transient].

// Control runs a control now, through the fixture's own sessions: the
// sessions the next execution starts from when they are kept, and
// otherwise sessions that no execution has fired through, so that what the
// control sees is the target's state and not a session an execution mixed
// up. It extracts nothing and plants nothing. A control of a fixture with
// no read requests sends nothing and is clean.
func (f *Fixture) Control(ctx context.Context) (*Control, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: the fixture is closed", ErrOptions)
	}
	return f.control(ctx, 0), nil
}

func (f *Fixture) control(ctx context.Context, after int) *Control {
	start := time.Now()
	c := &Control{AfterBurst: after}
	defer func() {
		c.Elapsed = time.Since(start)
		// The control is traffic like a burst: the next burst settles
		// after it.
		f.lastBurst = time.Now()
	}()
	for _, u := range f.users {
		ss := f.sessions[u]
		for _, q := range f.reads {
			if ctx.Err() != nil {
				return c
			}
			if !ss.ready(q) {
				continue
			}
			w, err := ss.build(q)
			if err != nil {
				continue
			}
			ex, resp, err := ss.do(ctx, w)
			c.Requests++
			if err != nil || statusIsError(resp.Status) {
				c.Errors++
			}
			if resp.Header == nil || f.oracle == nil {
				continue
			}
			ms := f.oracle.Scan(u, oracle.Response{Status: resp.Status, Header: resp.Header, Body: resp.Body})
			ms = slices.DeleteFunc(ms, func(m oracle.Match) bool { return f.grants.allowed(u, m) })
			for _, m := range bestPerOwner(ms) {
				c.Findings++
				if c.Finding == nil {
					c.Finding = &Finding{Viewer: u, Owner: m.Owner, Data: q.Data, Request: q.Name, Method: ex.Method,
						Path: f.oracle.Redact(ex.Path), Burst: after, Conn: ex.Conn, Match: m, Sent: ex.Sent, Done: ex.Done,
						Persistence: Persistent}
				}
			}
		}
	}
	return c
}

// controlOnce is Run's control: once, after the first burst (or the
// baseline) with a finding. Until it has run, the execution holds its
// records back, so that every finding is streamed with its kind.
func (e *execution) controlOnce(ctx context.Context, burst int) error {
	if e.persistence != "" || e.out.Findings == 0 {
		return nil
	}
	c := e.f.control(ctx, burst)
	if ctx.Err() != nil && c.Findings == 0 {
		// Cut short, the control proves nothing either way.
		return e.release("")
	}
	e.out.Control = c
	return e.release(c.Persistence())
}
