package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// ErrSetup is returned by [NewFixture] when the target could not be made
// ready: a login or seed failed, or it could not be reached. The error says
// which.
var ErrSetup = errors.New("target setup failed")

// NewFixture logs every user in, plants canaries and learns markers, exactly
// as [Run] does before its first burst, and streams the header and any
// baseline findings to sink (which may be nil). Each [Fixture.Execute] then
// brings its own plan. A zero opts.Settle becomes [DefaultSettle], since a
// fixture exists to replay plans; a negative one keeps none. Close it when
// done.
func NewFixture(ctx context.Context, s *spec.Spec, opts FixtureOptions, sink Sink) (*Fixture, error) {
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	f, err := newFixture(s, opts, Budget{Plan: &Plan{}})
	if err != nil {
		return nil, err
	}
	e := newExecution(f, Budget{Plan: &Plan{}}, sink)
	ready, err := e.setup(ctx)
	if err != nil || !ready {
		if ended(ctx) {
			e.out.CutShort = true
		}
		out, _ := e.finish(err)
		f.closeConns()
		return nil, fmt.Errorf("%w: %s", ErrSetup, out.Reason)
	}
	if opts.Settle > 0 {
		f.quietUntil = time.Now().Add(SetupSettle)
	}
	f.clean = true
	f.Baseline = e.out
	f.Baseline.Elapsed = time.Since(e.start)
	return f, nil
}

// newFixture checks the options against the budget of the first execution
// and makes the users' sessions, not yet logged in.
func newFixture(s *spec.Spec, opts FixtureOptions, b Budget) (*Fixture, error) {
	base, err := checkOptions(s, &opts, b)
	if err != nil {
		return nil, err
	}
	f := &Fixture{spec: s, opts: opts, base: base, grants: grants{},
		rng:  rand.New(rand.NewPCG(opts.Seed, 0x63726f7373)),
		keep: opts.Sessions == spec.SessionsKeep || (opts.Sessions == "" && s.KeepsSessions())}
	f.d = wire.NewDialer(base, s.Limits.Timeout, s.Limits.MaxBody, opts.Insecure)
	for _, u := range s.Resolved {
		f.users = append(f.users, u.Login)
	}
	if f.sessions, err = f.newSessions(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	for i := range s.Requests {
		if s.Requests[i].Action == spec.ActionRead || s.Requests[i].Action == "" {
			f.reads = append(f.reads, &s.Requests[i])
		}
	}
	if len(f.reads) == 0 && b.Plan == nil {
		return nil, fmt.Errorf("%w: the spec has no read requests to draw bursts from", ErrOptions)
	}
	return f, nil
}

// newSessions makes one session per user of the spec, logged out and with
// no connections: the setup logs the fixture's in.
func (f *Fixture) newSessions() (map[string]*session, error) {
	out := map[string]*session{}
	for i, u := range f.spec.Resolved {
		ss, err := newSession(f.spec, f.base, f.d, u, i+1, f.opts.Seed)
		if err != nil {
			return nil, err
		}
		ss.header = f.opts.Header
		out[u.Login] = ss
	}
	return out, nil
}

// freshSessions makes a new session for every user and peer the plan
// names and logs each in, one after the other (logins that land together
// are a test of their own, for plans to make). Steps that name an unknown
// user find no session and fail as they always did. It returns what failed,
// naming the user.
func (f *Fixture) freshSessions(ctx context.Context, p Plan) (map[string]*session, []string) {
	out := map[string]*session{}
	var problems []string
	for _, b := range p.Bursts {
		for _, st := range b.Steps {
			for _, u := range []string{st.User, st.Peer} {
				base, ok := f.sessions[u]
				if _, done := out[u]; done || !ok {
					continue
				}
				ss, err := base.freshLogin(ctx)
				if ss != nil {
					out[u] = ss
				}
				if err != nil {
					problems = append(problems, err.Error())
				}
			}
		}
	}
	return out, problems
}

// setup logs everyone in, plants canaries, learns markers and builds the
// oracle. Failures here end the run as inconclusive, naming what failed;
// ready is false when bursts must not start.
func (e *execution) setup(ctx context.Context) (ready bool, err error) {
	for _, u := range e.f.users {
		err := e.f.sessions[u].login(ctx)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" && !ended(ctx) {
			// One refused connection says it all; no need to repeat it per user.
			return false, fmt.Errorf("cannot reach the target %s: %v", e.f.base, op.Err)
		}
		if ended(ctx) {
			// Not the user's failure: the run's budget or a cancel ended it.
			break
		}
		if err != nil {
			e.out.LoginFailures = append(e.out.LoginFailures, err.Error())
		}
	}
	if len(e.out.LoginFailures) > 0 || ended(ctx) {
		return false, nil
	}
	e.out.LoginFailures = append(e.out.LoginFailures, e.f.plant(ctx, false)...)
	if len(e.out.LoginFailures) > 0 || ended(ctx) {
		return false, nil
	}
	baselines, exchanges := e.baselines(ctx)
	if ended(ctx) || len(e.out.LoginFailures) > 0 {
		return false, nil
	}
	markers, redact := e.f.markers(baselines)
	o, err := oracle.New(markers, oracle.RedactAlso(redact...))
	if err != nil {
		return false, fmt.Errorf("building the oracle: %w", err)
	}
	e.f.oracle = o
	e.baselineCoverage(exchanges)
	e.warnings = append(e.warnings, e.f.unseenCanaries(baselines)...)
	var calShots []*shot
	if e.f.opts.Sync == SyncAuto {
		var cals []calibration
		calShots, cals = e.calibrate(ctx)
		e.f.opts.Sync, e.f.syncReason = pickStrategy(cals)
	}
	if err := e.header(); err != nil {
		return false, err
	}
	// The baseline was sequential: a leak in it needs no concurrency at all,
	// like a cache keyed without the session. It is burst 0.
	if err := e.judge(ctx, exchanges); err != nil {
		return false, err
	}
	e.f.Sequential = e.out.Findings
	e.out.Sequential = e.out.Findings
	return true, e.judge(ctx, calShots)
}

// ended reports whether ctx is done or its deadline has passed: a request
// bound by that deadline can fail a moment before ctx says so.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// baselines fetches every read request of every user twice, one user at a
// time. Values stable across both fetches and seen in no one else's baseline
// become learned markers.
func (e *execution) baselines(ctx context.Context) ([]oracle.Baseline, []*shot) {
	var out []oracle.Baseline
	var shots []*shot
	rejected := map[string]string{}
	defer func() {
		for _, u := range e.f.users {
			if msg, ok := rejected[u]; ok {
				e.out.LoginFailures = append(e.out.LoginFailures, msg)
			}
		}
	}()
	for _, u := range e.f.users {
		ss := e.f.sessions[u]
		b := oracle.Baseline{User: u}
		for _, q := range e.f.reads {
			var pair [2][]byte
			for k := range 2 {
				if ended(ctx) || !ss.ready(q) {
					break
				}
				w, err := ss.build(q)
				if err != nil {
					break
				}
				ex, resp, err := ss.do(ctx, w)
				ex.Request = q.Name
				sh := &shot{ss: ss, req: q, ex: ex, resp: resp, err: err, step: Step{User: u, Request: q.Name}}
				shots = append(shots, sh)
				if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
					// With Basic or bearer auth there is no login exchange:
					// the first refusal is where a bad credential shows.
					rejected[u] = fmt.Sprintf("user %s: credentials rejected: %s %s answered %d", u, ex.Method, ex.Path, resp.Status)
				}
				if err != nil || statusIsError(resp.Status) {
					break
				}
				plain := oracle.DecodeContent(resp.Header, resp.Body)
				ss.extract(q.Extract, resp, plain)
				pair[k] = plain
			}
			if pair[0] != nil && pair[1] != nil {
				b.First = append(b.First, pair[0])
				b.Second = append(b.Second, pair[1])
				b.Labels = append(b.Labels, q.Name)
			}
		}
		out = append(out, b)
	}
	return out, shots
}

// baselineCoverage records, from the sequential baseline's shots, whether
// each user's own data showed in each read request. It runs before the
// header, which carries the result, and before the baseline is judged.
func (e *execution) baselineCoverage(shots []*shot) {
	f := e.f
	f.ownAtBaseline = map[string]map[string]bool{}
	got, seen := map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, sh := range shots {
		if sh.ss == nil || !isRead(sh.req) || sh.resp.Header == nil {
			continue
		}
		u, q := sh.step.User, sh.req.Name
		if got[q] == nil {
			got[q], seen[q], f.ownAtBaseline[q] = map[string]bool{}, map[string]bool{}, map[string]bool{}
		}
		got[q][u] = true
		_, own := f.oracle.ScanOwn(u, oracle.Response{Status: sh.resp.Status, Header: sh.resp.Header, Body: sh.resp.Body})
		if own && !cutBody(sh) {
			seen[q][u] = true
			f.ownAtBaseline[q][f.baselineKey(u, sh.ex.Path)] = true
		}
	}
	f.baselineCov = []RequestCoverage{}
	for _, q := range f.reads {
		seen := len(seen[q.Name])
		f.baselineCov = append(f.baselineCov, RequestCoverage{Request: q.Name, BaselineUsers: len(got[q.Name]),
			BaselineSeen: seen, Blind: seen == 0})
	}
}

// unseenCanaries warns of every seeded canary that showed in none of its
// owner's own baseline responses: the seed planted it where no read
// request looks (a second page, another folder), so it proves nothing.
func (f *Fixture) unseenCanaries(baselines []oracle.Baseline) []string {
	var out []string
	for _, b := range baselines {
		ss := f.sessions[b.User]
		if ss == nil {
			continue
		}
		missing := 0
		for _, c := range ss.canary {
			if !slices.ContainsFunc(b.First, func(body []byte) bool { return bytes.Contains(body, []byte(c)) }) {
				missing++
			}
		}
		if missing > 0 {
			out = append(out, fmt.Sprintf("user %s: %d of %d seeded %s never appeared in the user's own baseline responses; no read request shows where the seed planted %s",
				b.User, missing, len(ss.canary), plural(len(ss.canary), "canary", "canaries"), plural(missing, "it", "them")))
		}
	}
	return out
}

// markers gathers every user's markers, and every secret to keep out of
// evidence. A value that two users share identifies neither of them, so
// shared values (a common password) are dropped as markers instead of
// failing the run; secrets among them are still redacted.
func (f *Fixture) markers(baselines []oracle.Baseline) (ms []oracle.Marker, redact []string) {
	for _, u := range f.users {
		ss := f.sessions[u]
		id := func(v, label string) {
			if v != "" {
				ms = append(ms, oracle.Marker{Owner: u, Kind: oracle.Identity, Value: v, Label: label})
			}
		}
		id(ss.User.Login, "login")
		id(ss.User.Email, "email")
		if low := strings.ToLower(ss.User.Email); low != ss.User.Email {
			// Addresses are case-insensitive and servers often show them
			// lower-cased; the oracle matches bytes.
			id(low, "email")
		}
		for _, v := range ss.User.Markers {
			ms = append(ms, oracle.Marker{Owner: u, Kind: oracle.Static, Value: v, Label: "static"})
		}
		for _, c := range ss.canary {
			ms = append(ms, oracle.Marker{Owner: u, Kind: oracle.Canary, Value: c, Label: "canary"})
		}
		if f.writes() {
			for range writeCanaries {
				c := oracle.NewCanary()
				ss.writePool = append(ss.writePool, c)
				ms = append(ms, oracle.Marker{Owner: u, Kind: oracle.Canary, Value: c, Label: "write canary"})
			}
		}
		sm, sr := ss.secrets()
		ms, redact = append(ms, sm...), append(redact, sr...)
	}
	for _, vs := range f.opts.Header {
		for _, v := range vs {
			if len(v) >= 6 { // shorter ones would redact ordinary words
				redact = append(redact, v)
			}
		}
	}
	if f.spec.LearnEnabled() {
		configured := map[string]bool{}
		for _, m := range ms {
			configured[m.Value] = true
		}
		// A configured marker wins over a learned token of the same value:
		// user B's canary that only ever shows in A's mailbox (a leak that
		// persists) is stable in A's baseline and absent from B's, and
		// learning it as A's would cancel the canary that proves the leak.
		for _, m := range oracle.Learn(baselines) {
			if !configured[m.Value] {
				ms = append(ms, m)
			}
		}
	}
	owners := map[string]map[string]bool{}
	for _, m := range ms {
		if owners[m.Value] == nil {
			owners[m.Value] = map[string]bool{}
		}
		owners[m.Value][m.Owner] = true
	}
	seen := map[string]bool{}
	out := ms[:0]
	for _, m := range ms {
		key := m.Owner + "\x00" + m.Value
		// A secret inside the placeholder could never be hidden in evidence.
		if len(owners[m.Value]) > 1 || seen[key] || len(m.Value) < 3 || (m.Secret && strings.Contains(oracle.Redacted, m.Value)) {
			continue
		}
		seen[key] = true
		out = append(out, m)
	}
	return out, redact
}

// writes reports whether the spec has write requests, whose bodies need
// canaries of their own.
func (f *Fixture) writes() bool {
	for _, q := range f.spec.Requests {
		if q.Action == spec.ActionWrite {
			return true
		}
	}
	return false
}
