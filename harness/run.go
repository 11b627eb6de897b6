package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// SyncBarrier is the default sync strategy: one goroutine per step, released
// together. Strategies are selected by name so that plans and reports can say
// which one ran; [Strategies] lists them.
const SyncBarrier = "barrier"

// Options bound and shape a run. The zero value is not runnable: a run needs
// a duration, a request budget or a plan, so that it always stops by itself.
type Options struct {
	// Duration stops the run after this long (0: no time bound).
	Duration time.Duration
	// MaxRequests stops the run once this many requests were sent in its
	// bursts; setup requests (logins, seeds, baselines, calibration) do not
	// count (0: no request bound).
	MaxRequests int
	// StopOnFirst ends the run after the first burst with a finding.
	StopOnFirst bool
	// BurstSize is how many distinct users fire together (default: all users,
	// at most 8).
	BurstSize int
	// Sync names the strategy that releases a burst (default "barrier").
	Sync string
	// Trace adds every exchange to the stream, not only bursts and findings.
	Trace bool
	// BaseURL replaces the spec's base URL.
	BaseURL string
	// Insecure skips TLS certificate checks, for self-signed staging targets.
	Insecure bool
	// Seed makes drawn bursts repeatable (0: a random seed).
	Seed uint64
	// Plan, when set, is fired instead of randomly drawn bursts.
	Plan *Plan
	// Progress, when set, is called after every burst from the run's own
	// goroutine; keep it cheap.
	Progress func(Progress)
	// Settle is a quiet time kept before each burst, counted from the end
	// of the previous one, even across [Target.Execute] calls (0 or less:
	// none; [NewTarget] makes 0 [DefaultSettle]). A burst that lands while
	// the target is still busy with the last one starts its handlers
	// together less often, so a saved plan reproduces less often than it
	// could.
	Settle time.Duration
	// CacheBust, when set, names a query parameter added to every GET read
	// of a burst, with a value fresh for each burst and shared by all its
	// steps (see cachebust.go). Caches in front of the target then miss at
	// once for every user of the burst, which is what exposes request
	// coalescing that ignores the session.
	CacheBust string
}

// Progress is a snapshot handed to Options.Progress.
type Progress struct {
	Elapsed  time.Duration
	Bursts   int
	Requests int
	Errors   int
	Findings int
	// Budget is the fraction of the budget spent, 0..1.
	Budget float64
}

// Sink receives the result stream in order, from the run's goroutine. An
// error from it stops the run: a stream that cannot be written must not
// silently lose findings.
type Sink func(Record) error

// ErrOptions wraps invalid options: a usage error, not a verdict.
var ErrOptions = errors.New("invalid options")

// maxFindingsPerExchange bounds what one response adds to the stream: a
// leaked page carries many markers of its owner, and the first (best) one is
// evidence enough. Other owners in the same response are still reported.
const maxFindingsPerExchange = 1

// Run tests isolation on the target a spec describes and streams the result
// to sink: one header, bursts and findings as they happen, one verdict last.
//
// It logs every user in, plants canaries, fetches each user's baseline twice
// to learn markers, then fires bursts until the duration or the request
// budget is spent, ctx is done, or (with StopOnFirst) a leak is found. It
// returns the outcome that was also streamed; the error is non-nil only for
// invalid options (wrapping [ErrOptions]) or a failing sink. Target failures
// are not errors: they make the verdict [Inconclusive].
func Run(ctx context.Context, s *spec.Spec, opts Options, sink Sink) (*Outcome, error) {
	r, err := newRunner(s, opts, sink)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.run(ctx)
}

type runner struct {
	spec     *spec.Spec
	opts     Options
	sink     Sink
	base     *url.URL
	d        *dialer
	users    []string
	sessions map[string]*Session
	oracle   *oracle.Oracle
	reads    []*spec.Request
	rng      *rand.Rand
	start    time.Time
	// lastBurst is when the previous burst's responses were all in; it
	// outlives an execution so that [Options.Settle] holds between them.
	lastBurst time.Time
	// quietUntil is the earliest a settling runner fires its first burst.
	quietUntil time.Time
	out        Outcome
	// headerSent: a stream always opens with a header, even when setup
	// failed before the oracle existed.
	headerSent bool
	// syncReason says why auto picked the strategy it did.
	syncReason string
	// calBursts counts auto's calibration bursts; the run's own bursts are
	// numbered after them.
	calBursts int
	// sequential counts the findings of the sequential baseline (burst 0):
	// leaks that need no concurrency at all.
	sequential int
	// fired counts the requests of the run's own bursts, which is what
	// MaxRequests bounds: logins, baselines and calibration are not the test.
	fired int
	// stopReason says why the bursts stopped early, when they did.
	stopReason string
	timing     burstTiming
	grants     grants
}

func newRunner(s *spec.Spec, opts Options, sink Sink) (*runner, error) {
	if s == nil || len(s.Resolved) < 2 {
		return nil, fmt.Errorf("%w: the spec needs at least two resolved users", ErrOptions)
	}
	if opts.Duration < 0 || opts.MaxRequests < 0 || opts.BurstSize < 0 {
		return nil, fmt.Errorf("%w: duration, request budget and burst size cannot be negative", ErrOptions)
	}
	if opts.Duration == 0 && opts.MaxRequests == 0 && opts.Plan == nil {
		return nil, fmt.Errorf("%w: give a duration, a request budget or a plan, so the run stops by itself", ErrOptions)
	}
	if err := checkCacheBust(opts.CacheBust); err != nil {
		return nil, err
	}
	if opts.Sync == "" {
		opts.Sync = SyncBarrier
	}
	if _, ok := strategies[opts.Sync]; !ok && opts.Sync != SyncAuto {
		return nil, fmt.Errorf("%w: unknown sync strategy %q (known: %s)", ErrOptions, opts.Sync, strings.Join(SyncNames(), ", "))
	}
	if opts.BurstSize == 0 {
		opts.BurstSize = min(8, len(s.Resolved))
	}
	if opts.BurstSize > len(s.Resolved) {
		return nil, fmt.Errorf("%w: burst size %d is more than the %d users of the spec", ErrOptions, opts.BurstSize, len(s.Resolved))
	}
	if opts.BurstSize < 2 && opts.Plan == nil {
		return nil, fmt.Errorf("%w: a burst needs at least two users", ErrOptions)
	}
	raw := s.BaseURL
	if opts.BaseURL != "" {
		raw = opts.BaseURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q is not an absolute http(s) URL", ErrOptions, raw)
	}
	if sink == nil {
		sink = func(Record) error { return nil }
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64()
	}
	r := &runner{spec: s, opts: opts, sink: sink, base: base, sessions: map[string]*Session{}, grants: grants{},
		rng: rand.New(rand.NewPCG(opts.Seed, 0x63726f7373))}
	r.d = newDialer(base, s.Limits.Timeout, s.Limits.MaxBody, opts.Insecure)
	for i, u := range s.Resolved {
		ss, err := newSession(s, base, r.d, u, i+1, opts.Seed)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrOptions, err)
		}
		r.sessions[u.Login] = ss
		r.users = append(r.users, u.Login)
	}
	for i := range s.Requests {
		if s.Requests[i].Action == spec.ActionRead || s.Requests[i].Action == "" {
			r.reads = append(r.reads, &s.Requests[i])
		}
	}
	if len(r.reads) == 0 && opts.Plan == nil {
		return nil, fmt.Errorf("%w: the spec has no read requests to draw bursts from", ErrOptions)
	}
	return r, nil
}

func (r *runner) close() {
	r.d.h2.close()
	for _, ss := range r.sessions {
		ss.closeAll()
	}
}

func (r *runner) emit(rec Record) error {
	rec.V = StreamVersion
	return r.sink(rec)
}

func (r *runner) run(ctx context.Context) (*Outcome, error) {
	r.start = time.Now()
	ready, err := r.setup(ctx)
	if err != nil {
		return r.finish(err)
	}
	if ready {
		r.bursts(ctx)
	} else if ctx.Err() != nil {
		r.out.CutShort = true
	}
	return r.finish(nil)
}

// setup logs everyone in, plants canaries, learns markers and builds the
// oracle. Failures here end the run as inconclusive, naming what failed;
// ready is false when bursts must not start.
func (r *runner) setup(ctx context.Context) (ready bool, err error) {
	for _, u := range r.users {
		err := r.sessions[u].login(ctx)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" && ctx.Err() == nil {
			// One refused connection says it all; no need to repeat it per user.
			return false, fmt.Errorf("cannot reach the target %s: %v", r.base, op.Err)
		}
		if err != nil {
			r.out.LoginFailures = append(r.out.LoginFailures, err.Error())
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(r.out.LoginFailures) > 0 || ctx.Err() != nil {
		return false, nil
	}
	for _, u := range r.users {
		ss := r.sessions[u]
		for i := range r.spec.Seed {
			req := &r.spec.Seed[i]
			w, err := ss.build(req)
			if err != nil {
				r.out.LoginFailures = append(r.out.LoginFailures, fmt.Sprintf("user %s: seed %s: %v", u, req.Name, err))
				continue
			}
			ex, resp, err := ss.do(ctx, w)
			switch {
			case err != nil:
				r.out.LoginFailures = append(r.out.LoginFailures, fmt.Sprintf("user %s: seed %s failed: %s", u, req.Name, ex.Err))
			case resp.status >= 400:
				r.out.LoginFailures = append(r.out.LoginFailures, fmt.Sprintf("user %s: seed %s answered %d", u, req.Name, resp.status))
			}
		}
	}
	if len(r.out.LoginFailures) > 0 || ctx.Err() != nil {
		return false, nil
	}
	baselines, exchanges := r.baselines(ctx)
	if ctx.Err() != nil || len(r.out.LoginFailures) > 0 {
		return false, nil
	}
	markers, redact := r.markers(baselines)
	o, err := oracle.New(markers, oracle.RedactAlso(redact...))
	if err != nil {
		return false, fmt.Errorf("building the oracle: %w", err)
	}
	r.oracle = o
	var calibration []*shot
	if r.opts.Sync == SyncAuto {
		var cals []Calibration
		calibration, cals = r.calibrate(ctx)
		r.opts.Sync, r.syncReason = pickStrategy(cals)
	}
	if err := r.header(o); err != nil {
		return false, err
	}
	// The baseline was sequential: a leak in it needs no concurrency at all,
	// like a cache keyed without the session. It is burst 0.
	if err := r.judge(exchanges); err != nil {
		return false, err
	}
	r.sequential = r.out.Findings
	return true, r.judge(calibration)
}

func (r *runner) header(o *oracle.Oracle) error {
	r.headerSent = true
	h := &Header{Spec: r.spec.Name, SpecFile: r.spec.File, Target: r.base.String(), Sync: r.opts.Sync, SyncReason: r.syncReason,
		Users: r.users, Started: r.start, Markers: map[oracle.Kind]int{},
		Duration: r.opts.Duration, MaxRequests: r.opts.MaxRequests, BurstSize: r.opts.BurstSize}
	for _, q := range r.spec.Requests {
		h.Requests = append(h.Requests, RequestInfo{Name: q.Name, Data: q.Data})
	}
	if o != nil {
		for _, m := range o.Markers() {
			h.Markers[m.Kind]++
		}
	}
	return r.emit(Record{Type: RecordHeader, Header: h})
}

// baselines fetches every read request of every user twice, one user at a
// time. Values stable across both fetches and seen in no one else's baseline
// become learned markers.
func (r *runner) baselines(ctx context.Context) ([]oracle.Baseline, []*shot) {
	var out []oracle.Baseline
	var shots []*shot
	rejected := map[string]string{}
	defer func() {
		for _, u := range r.users {
			if msg, ok := rejected[u]; ok {
				r.out.LoginFailures = append(r.out.LoginFailures, msg)
			}
		}
	}()
	for _, u := range r.users {
		ss := r.sessions[u]
		b := oracle.Baseline{User: u}
		for _, q := range r.reads {
			var pair [2][]byte
			for k := range 2 {
				if ctx.Err() != nil || !ss.ready(q) {
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
				if resp.status == http.StatusUnauthorized || resp.status == http.StatusForbidden {
					// With Basic or bearer auth there is no login exchange:
					// the first refusal is where a bad credential shows.
					rejected[u] = fmt.Sprintf("user %s: credentials rejected: %s %s answered %d", u, ex.Method, ex.Path, resp.status)
				}
				if err != nil || statusIsError(resp.status) {
					break
				}
				plain := oracle.DecodeContent(resp.header, resp.body)
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

// markers gathers every user's markers, and every secret to keep out of
// evidence. A value that two users share identifies neither of them, so
// shared values (a common password) are dropped as markers instead of
// failing the run; secrets among them are still redacted.
func (r *runner) markers(baselines []oracle.Baseline) (ms []oracle.Marker, redact []string) {
	for _, u := range r.users {
		ss := r.sessions[u]
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
		if r.writes() {
			for range writeCanaries {
				c := oracle.NewCanary()
				ss.writePool = append(ss.writePool, c)
				ms = append(ms, oracle.Marker{Owner: u, Kind: oracle.Canary, Value: c, Label: "write canary"})
			}
		}
		sm, sr := ss.secrets()
		ms, redact = append(ms, sm...), append(redact, sr...)
	}
	if r.spec.LearnEnabled() {
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
		// A secret inside "[redacted]" could never be hidden in evidence.
		if len(owners[m.Value]) > 1 || seen[key] || len(m.Value) < 3 || (m.Secret && strings.Contains("[redacted]", m.Value)) {
			continue
		}
		seen[key] = true
		out = append(out, m)
	}
	return out, redact
}

// writes reports whether the spec has write requests, whose bodies need
// canaries of their own.
func (r *runner) writes() bool {
	for _, q := range r.spec.Requests {
		if q.Action == spec.ActionWrite {
			return true
		}
	}
	return false
}

// bursts fires drawn (or planned) bursts until the budget is spent.
func (r *runner) bursts(ctx context.Context) {
	deadline := time.Time{}
	if r.opts.Duration > 0 {
		deadline = r.start.Add(r.opts.Duration)
	}
	first := r.calBursts + 1
	for n := first; ; n++ {
		if ctx.Err() != nil {
			r.out.CutShort = true
			return
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return
		}
		if r.opts.MaxRequests > 0 && r.fired >= r.opts.MaxRequests {
			return
		}
		if r.opts.StopOnFirst && r.out.Findings > 0 {
			return
		}
		if r.failing() {
			// Going on would only wait out timeouts; the run did not get to
			// spend its budget.
			r.out.CutShort = true
			r.stopReason = fmt.Sprintf("the target failed %d of %d requests", r.out.Errors, r.out.Requests)
			return
		}
		var b Burst
		if r.opts.Plan != nil {
			if n-first >= len(r.opts.Plan.Bursts) {
				return
			}
			b = r.opts.Plan.Bursts[n-first]
		} else {
			b = r.draw()
			if len(b.Steps) < 2 {
				// No two users have a request they can send (every read waits
				// for a value no response provided): drawing again would spin.
				r.stopReason = "no two users had a request ready to send: the values their requests need were never extracted"
				return
			}
		}
		if !r.settle(ctx) {
			r.out.CutShort = true
			return
		}
		shots := r.prepare(ctx, n, b)
		r.fired += len(shots)
		release := strategies[r.opts.Sync](shots, r.spec.Limits.Timeout, r.spec.Limits.MaxBody)
		r.lastBurst = time.Now()
		skew, spread := burstTimes(shots)
		r.timing.add(skew, spread)
		before := r.out.Findings
		errs := r.out.Errors
		if err := r.judge(shots); err != nil {
			r.out.CutShort = true
			return
		}
		sum := &BurstSummary{Burst: n, Steps: len(shots), Release: release, ReleaseSkew: skew, ArrivalSpread: spread,
			Errors: r.out.Errors - errs, Findings: r.out.Findings - before}
		for _, sh := range shots {
			sum.Users = append(sum.Users, sh.step.User)
		}
		r.out.Bursts++
		if err := r.emit(Record{Type: RecordBurst, Burst: sum}); err != nil {
			r.out.CutShort = true
			return
		}
		if r.opts.Progress != nil {
			r.opts.Progress(r.progress())
		}
	}
}

// failing stops a run early when the target is plainly broken: half of at
// least 20 requests failed. Going on would only wait out timeouts.
func (r *runner) failing() bool {
	return r.out.Requests >= 20 && r.out.Errors*2 > r.out.Requests
}

func (r *runner) progress() Progress {
	p := Progress{Elapsed: time.Since(r.start), Bursts: r.out.Bursts, Requests: r.out.Requests,
		Errors: r.out.Errors, Findings: r.out.Findings}
	if r.opts.Duration > 0 {
		p.Budget = float64(p.Elapsed) / float64(r.opts.Duration)
	}
	if r.opts.MaxRequests > 0 {
		p.Budget = max(p.Budget, float64(r.fired)/float64(r.opts.MaxRequests))
	}
	if r.opts.Plan != nil {
		p.Budget = max(p.Budget, float64(p.Bursts)/float64(max(1, len(r.opts.Plan.Bursts))))
	}
	p.Budget = min(p.Budget, 1)
	return p
}

// draw picks BurstSize distinct users, each with a weighted random read
// request it is ready to send.
func (r *runner) draw() Burst {
	users := slices.Clone(r.users)
	r.rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	var b Burst
	for _, u := range users[:r.opts.BurstSize] {
		ss := r.sessions[u]
		total := 0
		for _, q := range r.reads {
			if ss.ready(q) {
				total += q.Weight
			}
		}
		if total == 0 {
			continue
		}
		pick := r.rng.IntN(total)
		for _, q := range r.reads {
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

// judge scans fired shots, streams findings and exchanges, and keeps each
// user's state (cookies, extracted values) from its clean responses only: a
// response carrying another user's data must not steer later requests.
func (r *runner) judge(shots []*shot) error {
	for _, sh := range shots {
		if sh.ss == nil || sh.req == nil {
			// The step named no known user or request: a broken plan.
			r.out.Requests++
			r.out.Errors++
			continue
		}
		if sh.c != nil {
			sh.ss.release(sh.c)
			sh.c = nil
		}
		r.out.Requests++
		failed := sh.err != nil && !sh.canceled
		if failed || statusIsError(sh.ex.Status) {
			r.out.Errors++
		}
		clean := true
		if sh.resp.header != nil && r.oracle != nil {
			matches := r.oracle.Scan(sh.step.User, oracle.Response{Status: sh.resp.status, Header: sh.resp.header, Body: sh.resp.body})
			matches = slices.DeleteFunc(matches, func(m oracle.Match) bool { return r.grants.allowed(sh.step.User, m) })
			for _, m := range bestPerOwner(matches) {
				clean = false
				r.out.Findings++
				f := &Finding{Viewer: sh.step.User, Owner: m.Owner, Data: sh.req.Data, Request: sh.req.Name,
					Method: sh.ex.Method, Path: r.oracle.Redact(sh.ex.Path), Burst: sh.ex.Burst, Step: sh.ex.Step,
					Conn: sh.ex.Conn, Match: m, Sent: sh.ex.Sent, Done: sh.ex.Done}
				if err := r.emit(Record{Type: RecordFinding, Finding: f}); err != nil {
					return err
				}
			}
		}
		if act := sh.req.Action; (act == spec.ActionLogin || act == spec.ActionLogout) && sh.resp.header != nil {
			// A browser keeps whatever cookie a login sets, leaked or not;
			// a session mix-up then shows in the user's next responses.
			if err := sh.ss.afterAction(act, sh.resp); err != nil {
				r.out.Errors++
				sh.ex.Err = err.Error()
			}
		} else if clean && sh.resp.header != nil && sh.ex.Burst > 0 {
			sh.ss.absorb(sh.resp)
			if len(sh.req.Extract) > 0 {
				plain := oracle.DecodeContent(sh.resp.header, sh.resp.body)
				sh.ss.extract(sh.req.Extract, sh.resp, plain)
			}
		}
		if r.opts.Trace {
			ex := sh.ex
			if r.oracle != nil {
				ex.Path = r.oracle.Redact(ex.Path)
			}
			if err := r.emit(Record{Type: RecordExchange, Exchange: &ex}); err != nil {
				return err
			}
		}
	}
	return nil
}

// kindRank orders marker kinds by how convincing they are as evidence: a
// canary crosstalk planted cannot be there by coincidence; a learned token
// is the weakest.
var kindRank = map[oracle.Kind]int{oracle.Canary: 0, oracle.Static: 1, oracle.Identity: 2, oracle.Learned: 3}

func bestPerOwner(ms []oracle.Match) []oracle.Match {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Owner != ms[j].Owner {
			return ms[i].Owner < ms[j].Owner
		}
		si, sj := ms[i].Marker == "[redacted]", ms[j].Marker == "[redacted]"
		if si != sj {
			return !si
		}
		return kindRank[ms[i].Kind] < kindRank[ms[j].Kind]
	})
	var out []oracle.Match
	per := map[string]int{}
	for _, m := range ms {
		if per[m.Owner] < maxFindingsPerExchange {
			per[m.Owner]++
			out = append(out, m)
		}
	}
	return out
}

// finish decides the verdict and closes the stream.
func (r *runner) finish(setupErr error) (*Outcome, error) {
	o := &r.out
	o.Elapsed = time.Since(r.start)
	r.timing.fill(o)
	maxRate := r.spec.Limits.MaxErrorRate
	switch {
	case o.Findings > 0:
		o.Verdict = Leak
		o.Reason = fmt.Sprintf("%d responses carried another user's data", o.Findings)
	case setupErr != nil:
		o.Verdict = Inconclusive
		o.CutShort = true
		o.Reason = setupErr.Error()
	case len(o.LoginFailures) > 0:
		o.Verdict = Inconclusive
		o.Reason = "setup failed: " + strings.Join(o.LoginFailures, "; ")
	case r.stopReason != "":
		o.Verdict = Inconclusive
		o.Reason = r.stopReason
	case o.CutShort:
		o.Verdict = Inconclusive
		o.Reason = fmt.Sprintf("the run was cut short after %d requests, before its budget was spent", o.Requests)
	case o.Requests == 0:
		o.Verdict = Inconclusive
		o.Reason = "no request was sent"
	case o.Bursts == 0:
		// Isolation is a claim about concurrent requests; a run whose
		// setup took the whole budget made none.
		o.Verdict = Inconclusive
		o.Reason = fmt.Sprintf("no burst was fired: setup (logins, baselines, calibration) took the whole budget after %d requests", o.Requests)
	case float64(o.Errors) > maxRate*float64(o.Requests):
		o.Verdict = Inconclusive
		o.Reason = fmt.Sprintf("%d of %d requests failed, above the %.2g%% error threshold", o.Errors, o.Requests, maxRate*100)
	default:
		o.Verdict = Isolated
		o.Reason = fmt.Sprintf("no response carried another user's data in %d requests", o.Requests)
	}
	if !r.headerSent {
		if err := r.header(r.oracle); err != nil {
			return o, fmt.Errorf("writing the result stream: %w", err)
		}
	}
	if err := r.emit(Record{Type: RecordVerdict, Verdict: o}); err != nil {
		return o, fmt.Errorf("writing the result stream: %w", err)
	}
	return o, nil
}
