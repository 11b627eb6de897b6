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

// Control runs a control now. When the spec keeps sessions it reads
// through the fixture's own, the sessions the next execution starts from,
// since a kept session an execution mixed up is the damage to find; a user
// whose kept session no longer shows their own data (a plan logged it out)
// is read again through a fresh login. Otherwise every user logs in afresh
// first, one after the other, as an execution's users do: a control must
// not read through sessions an execution mixed up, nor through the
// setup's, which the target may long since have dropped (the webmail keeps
// a bounded number of sessions per user, and fuzz logs each user in
// hundreds of times). A control of login pages would call any leak
// transient, so it counts what it saw, and a read that no longer carried
// its viewer's own data, although the baseline's did, leaves the kind of
// the leak unknown (see [Control.Persistence]). It extracts nothing and
// plants nothing. A control of a fixture with no read requests sends
// nothing and is clean.
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
		// The control is traffic like a burst, and more of it: the next
		// burst settles after it for ControlSettle.
		f.lastBurst = time.Now()
		f.quietUntil = f.lastBurst.Add(ControlSettle)
	}()
	// sessions are the control's own logins, closed when it ends.
	sessions := map[string]*session{}
	defer func() {
		for _, ss := range sessions {
			ss.closeAll()
		}
	}()
	for _, u := range f.users {
		if ctx.Err() != nil {
			return c
		}
		var r Control
		if f.keep {
			r = f.controlReads(ctx, u, f.sessions[u], after, sessions)
		}
		if !f.keep || (r.Lost > 0 && r.Findings == 0) {
			// With kept sessions, one that no longer shows its user's own
			// data (a plan logged it out, or the target dropped it) says
			// nothing of the target's state; a fresh login does.
			ss, err := f.sessions[u].freshLogin(ctx)
			if ss != nil {
				// Kept even when its login failed, so that its connection
				// is closed with the rest.
				sessions[u] = ss
			}
			switch {
			case err != nil && !f.keep:
				// A user who cannot log in is a user the control cannot see.
				r = Control{Requests: 1, Errors: 1, Lost: 1}
			case err == nil:
				r = f.controlReads(ctx, u, ss, after, sessions)
			}
		}
		c.Requests += r.Requests
		c.Errors += r.Errors
		c.Seen += r.Seen
		c.Lost += r.Lost
		c.Findings += r.Findings
		if c.Finding == nil {
			c.Finding = r.Finding
		}
	}
	return c
}

// controlReads sends each of user's reads once through ss and counts what
// they showed; sessions are the control's fresh ones, whose secrets are
// kept out of a finding's text.
func (f *Fixture) controlReads(ctx context.Context, user string, ss *session, after int, sessions map[string]*session) Control {
	var c Control
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
		had := f.ownedAtBaseline(q.Name, user, ex.Path)
		if resp.Header == nil || f.oracle == nil {
			if had {
				c.Lost++
			}
			continue
		}
		res := f.oracle.Check(user, oracle.Response{Status: resp.Status, Header: resp.Header, Body: resp.Body})
		ms := slices.DeleteFunc(res.Matches, func(m oracle.Match) bool { return f.grants.allowed(user, m) })
		switch {
		case res.Own || len(ms) > 0:
			c.Seen++
		case had:
			c.Lost++
		}
		for _, m := range bestPerOwner(ms) {
			c.Findings++
			if c.Finding == nil {
				fd := &Finding{Viewer: user, Owner: m.Owner, Data: q.Data, Request: q.Name, Method: ex.Method,
					Path: f.oracle.Redact(ex.Path), Burst: after, Conn: ex.Conn, Match: m, Sent: ex.Sent, Done: ex.Done,
					Persistence: Persistent}
				f.redactFresh(sessions, fd)
				c.Finding = fd
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
