// Package canary is crosstalk's second job: watching a staged rollout. It
// probes every instance of a target continuously, at a bounded rate and under
// a hard ceiling on concurrent requests, and judges the probes with the same
// engine, oracle and result stream as a run. Its verdict is served to the
// rollout engines teams already run: Prometheus (/metrics), Argo Rollouts'
// web metric (/verdict) and Flagger's webhooks (/flagger/check,
// /flagger/rollback).
//
// Each burst goes to one instance, and bursts rotate over the instances. A
// shared-memory race needs two requests inside one process; behind a load
// balancer the requests of one burst are spread over the upstreams
// independently, so a burst fired at the balancer mostly never meets itself.
//
// A canary only sends the spec's read requests, as the spec's own synthetic
// users, and never a write, a logout or a request for another user's data:
// production data of real users is never touched. Seeds plant canaries in
// the synthetic users' own mailboxes once per instance at setup.
package canary

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// Defaults for a zero Config field.
const (
	DefaultRate      = 20.0
	DefaultWindow    = 30 * time.Second
	DefaultMinProbes = 20
	maxBackoff       = 5 * time.Second
	firstBackoff     = 100 * time.Millisecond
)

// How a burst's requests are drawn.
const (
	// BurstsMixed: each user of a burst draws its own read, by weight. With
	// a target on few cores, only a few handlers run at once, and a mixed
	// burst makes a pair of the page at risk in many of those turns.
	BurstsMixed = "mixed"
	// BurstsSame: every user of a burst sends the same read, and the reads
	// take turns by weight, each instance in its own turn. All of a burst's
	// overlaps go to one handler, and none in the other bursts; it was not
	// faster on the built-in webmail (see the README's time to detect).
	BurstsSame = "same"
	// DefaultBursts is the way a zero Config draws.
	DefaultBursts = BurstsMixed
)

// ErrConfig wraps an invalid Config: a usage error, not a verdict.
var ErrConfig = errors.New("invalid canary config")

// Config shapes a canary. Spec and MaxDuration are required.
type Config struct {
	Spec *spec.Spec
	// Instances are the base URLs to probe, one burst at a time each
	// (default: the spec's instances, else its base_url).
	Instances []string
	// Rate bounds the probe requests per second over all instances
	// (default [DefaultRate]). Re-logins count against it too.
	Rate float64
	// BurstSize is how many users fire together (default: 4, at most the
	// spec's users).
	BurstSize int
	// MaxInFlight is the hard ceiling on requests outstanding at once over
	// all instances, setup included (default: twice BurstSize). A burst
	// waits until all of its requests fit under it, so a stalled target
	// holds the canary back instead of piling requests onto it.
	MaxInFlight int
	// MaxDuration stops the canary by itself; required.
	MaxDuration time.Duration
	// Window is how far back an instance must have answered cleanly for the
	// live verdict to vouch for it (default [DefaultWindow]). Leaks count
	// over the canary's whole life: a leak, once seen, stands.
	Window time.Duration
	// MinProbes is how many probes an instance needs before it can be called
	// isolated (default [DefaultMinProbes]).
	MinProbes int
	// Requests names the read requests to probe with (default: every read
	// whose templates need no value extracted from an earlier response,
	// since a canary's bursts are drawn fresh every time).
	Requests []string
	// Bursts says how a burst's requests are drawn: [BurstsMixed] (the
	// default, [DefaultBursts]) or [BurstsSame].
	Bursts string
	// Sync names the strategy that releases a burst. The default, "", is
	// chosen per instance: h2 (the single-packet attack) where the instance
	// speaks HTTP/2, else lastbyte. Side by side in the time-to-detect
	// bench, 20 trials each at 25% per instance, h2 alarmed after a median
	// 0.64 s and lastbyte after 1.75 s; lastbyte in turn had beaten
	// barrier, 1.76 s against 2.72 s in 30 trials each.
	// "auto" is refused: its calibration bursts would not be paced.
	Sync     string
	Insecure bool
	// OnLeak is called once, for the first leak, on a goroutine of its own;
	// Run waits for it before returning.
	OnLeak func(context.Context, Leak)
	// Sink receives the result stream: one header, bursts and findings as
	// they come (exchanges too when Trace is set), one verdict last.
	Sink  func(record) error
	Trace bool
	// Seed makes drawn bursts repeatable (0: random).
	Seed uint64
}

// Leak summarises the first leak, for -on-leak and the Flagger answer.
type Leak struct {
	Instance string `json:"instance"`
	// Backend served the leaking response: the instance itself, or the
	// backend a balancer named in the spec's backend_header.
	Backend string    `json:"backend"`
	Viewer  string    `json:"viewer"`
	Owner   string    `json:"owner"`
	Request string    `json:"request"`
	Kind    string    `json:"kind"`
	Where   string    `json:"where"`
	At      time.Time `json:"at"`
}

// Canary probes a target's instances. Make one with New, start it with Run,
// and serve Handler while it runs.
type Canary struct {
	cfg     Config
	reads   []*spec.Request
	inst    []*instance
	pace    *pacer
	sem     *ceiling
	metrics *metrics
	rng     *rand.Rand // guarded by mu

	mu      sync.Mutex
	started time.Time
	ended   time.Time
	running bool
	first   *Leak
	// backendSeen are the backend labels made from backend headers, at
	// most maxBackends.
	backendSeen []string
	onLeak      sync.WaitGroup
	leakOnce    sync.Once

	sinkMu     sync.Mutex
	sinkErr    error
	headerSent bool
	bursts     int
}

// New checks cfg and prepares a canary; nothing is sent until Run.
func New(cfg Config) (*Canary, error) {
	s := cfg.Spec
	if s == nil || len(s.Resolved) < 2 {
		return nil, fmt.Errorf("%w: the spec needs at least two users", ErrConfig)
	}
	if cfg.MaxDuration <= 0 {
		return nil, fmt.Errorf("%w: a canary needs a maximum duration, so that it stops by itself", ErrConfig)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("%w: rate %g must be positive", ErrConfig, cfg.Rate)
	}
	if cfg.BurstSize == 0 {
		cfg.BurstSize = min(4, len(s.Resolved))
	}
	if cfg.BurstSize < 2 || cfg.BurstSize > len(s.Resolved) {
		return nil, fmt.Errorf("%w: burst size %d must be between 2 and the spec's %d users", ErrConfig, cfg.BurstSize, len(s.Resolved))
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 2 * cfg.BurstSize
	}
	if cfg.MaxInFlight < cfg.BurstSize {
		return nil, fmt.Errorf("%w: the concurrency ceiling %d is below the burst size %d", ErrConfig, cfg.MaxInFlight, cfg.BurstSize)
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MinProbes == 0 {
		cfg.MinProbes = DefaultMinProbes
	}
	if cfg.Window < 0 || cfg.MinProbes < 0 {
		return nil, fmt.Errorf("%w: window and minimum probes cannot be negative", ErrConfig)
	}
	switch cfg.Bursts {
	case "":
		cfg.Bursts = DefaultBursts
	case BurstsSame, BurstsMixed:
	default:
		return nil, fmt.Errorf("%w: bursts %q: want %s or %s", ErrConfig, cfg.Bursts, BurstsSame, BurstsMixed)
	}
	if cfg.Sync == "auto" {
		return nil, fmt.Errorf("%w: -sync auto calibrates with bursts that no rate bounds; name a strategy", ErrConfig)
	}
	if len(cfg.Instances) == 0 {
		cfg.Instances = s.Instances
	}
	if len(cfg.Instances) == 0 {
		cfg.Instances = []string{s.BaseURL}
	}
	reads, err := probeRequests(s, cfg.Requests)
	if err != nil {
		return nil, err
	}
	if cfg.Sink == nil {
		cfg.Sink = func(record) error { return nil }
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	c := &Canary{cfg: cfg, reads: reads, pace: newPacer(cfg.Rate), sem: newCeiling(cfg.MaxInFlight),
		rng: rand.New(rand.NewPCG(seed, 0x63616e617279))}
	names := map[string]bool{}
	for _, raw := range cfg.Instances {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: instance %q is not an absolute http(s) URL", ErrConfig, raw)
		}
		name := u.Host
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("%s#%d", u.Host, i)
		}
		names[name] = true
		c.inst = append(c.inst, &instance{name: name, base: strings.TrimRight(raw, "/"), kinds: map[string]int{},
			served: map[string]int{}, backendLeaks: map[string]int{}})
	}
	c.metrics = newMetrics(c)
	return c, nil
}

// probeRequests picks the reads a canary may send.
func probeRequests(s *spec.Spec, names []string) ([]*spec.Request, error) {
	extracted := map[string]bool{}
	for _, q := range s.Requests {
		for _, x := range q.Extract {
			extracted[x.Var] = true
		}
	}
	needs := func(q *spec.Request) string {
		texts := []string{q.Path, q.Body}
		for k, v := range q.Headers {
			texts = append(texts, k, v)
		}
		for _, t := range texts {
			for _, v := range spec.Vars(t) {
				if extracted[v] {
					return v
				}
			}
		}
		return ""
	}
	var out []*spec.Request
	for i := range s.Requests {
		q := &s.Requests[i]
		read := q.Action == "" || q.Action == spec.ActionRead
		if len(names) > 0 {
			if !slices.Contains(names, q.Name) {
				continue
			}
			if !read {
				return nil, fmt.Errorf("%w: request %q is a %s: a canary only reads, so that it never changes real data", ErrConfig, q.Name, q.Action)
			}
			if v := needs(q); v != "" {
				return nil, fmt.Errorf("%w: request %q needs {{%s}}, a value extracted from an earlier response; a canary's bursts are drawn fresh", ErrConfig, q.Name, v)
			}
		} else if !read || needs(q) != "" {
			continue
		}
		out = append(out, q)
	}
	for _, n := range names {
		if s.Request(n) == nil {
			return nil, fmt.Errorf("%w: the spec has no request %q", ErrConfig, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the spec has no read request that needs no extracted value; list some with -requests", ErrConfig)
	}
	return out, nil
}

// Instances names the instances as they are labelled in metrics and
// verdicts: host and port, never a full URL.
func (c *Canary) Instances() []string {
	var out []string
	for _, in := range c.inst {
		out = append(out, in.name)
	}
	return out
}

// Run probes until cfg.MaxDuration has passed or ctx is done, then streams
// the verdict and returns it. The error is non-nil only when the result
// stream could not be written.
func (c *Canary) Run(ctx context.Context) (*outcome, error) {
	c.mu.Lock()
	if c.running || !c.started.IsZero() {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: a canary runs once", ErrConfig)
	}
	c.started, c.running = time.Now(), true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.MaxDuration)
	defer cancel()

	var wg sync.WaitGroup
	idle := make(chan *instance, len(c.inst))
	for _, in := range c.inst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.setup(ctx, in) {
				idle <- in
			}
		}()
	}
	c.schedule(ctx, idle, &wg)
	wg.Wait()
	c.onLeak.Wait()
	for _, in := range c.inst {
		if in.eng != nil {
			in.eng.close()
		}
	}
	c.mu.Lock()
	c.running, c.ended = false, time.Now()
	c.mu.Unlock()
	out := c.outcome(ctx.Err() != nil && time.Since(c.started) < c.cfg.MaxDuration)
	err := c.emit(record{Type: recordVerdict, Outcome: out})
	if err == nil {
		err = c.streamErr()
	}
	return out, err
}

// setup makes an instance ready, retrying with backoff while the instance
// cannot be set up, since a canary may start before its target does.
func (c *Canary) setup(ctx context.Context, in *instance) bool {
	wait := time.Second
	for {
		if err := c.sem.acquire(ctx, 1); err != nil {
			return false
		}
		// Baseline findings (leaks that need no concurrency) reach the
		// sink, which counts them like any other.
		eng, err := openEngine(ctx, c.cfg.Spec, in.base, &c.cfg, c.setupSink(in))
		c.sem.release(1)
		if err == nil {
			c.mu.Lock()
			in.eng, in.setupErr, in.readyAt = eng, "", time.Now()
			c.mu.Unlock()
			c.metrics.ready.Inc()
			return true
		}
		c.mu.Lock()
		in.setupErr = err.Error()
		in.setupFails++
		c.mu.Unlock()
		if !sleep(ctx, wait) {
			return false
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// schedule releases bursts in rotation over the idle instances, at the
// paced rate and under the ceiling, until ctx is done.
func (c *Canary) schedule(ctx context.Context, idle chan *instance, wg *sync.WaitGroup) {
	var queue []*instance
	for {
		if len(queue) == 0 {
			select {
			case <-ctx.Done():
				return
			case in := <-idle:
				queue = append(queue, in)
			}
		}
		// Take every instance that came back meanwhile; the queue keeps the
		// rotation fair.
		for more := true; more; {
			select {
			case in := <-idle:
				queue = append(queue, in)
			default:
				more = false
			}
		}
		in := queue[0]
		queue = queue[1:]
		steps := c.draw(in)
		if err := c.pace.wait(ctx, len(steps)); err != nil {
			return
		}
		if err := c.sem.acquire(ctx, len(steps)); err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := c.probe(ctx, in, steps)
			c.sem.release(len(steps))
			if backoff > 0 && !sleep(ctx, backoff) {
				return
			}
			if ctx.Err() == nil {
				idle <- in
			}
		}()
	}
}

// draw picks BurstSize distinct users and a read for each: the instance's
// next read in turn for all of them, or a weighted draw for each.
func (c *Canary) draw(in *instance) []probeStep {
	users := in.eng.users()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rng.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	var steps []probeStep
	if c.cfg.Bursts == BurstsSame {
		q := in.nextRead(c.reads)
		for _, u := range users[:c.cfg.BurstSize] {
			steps = append(steps, probeStep{User: u, Request: q.Name})
		}
		return steps
	}
	total := 0
	for _, q := range c.reads {
		total += q.Weight
	}
	for _, u := range users[:c.cfg.BurstSize] {
		pick := c.rng.IntN(total)
		for _, q := range c.reads {
			if pick -= q.Weight; pick < 0 {
				steps = append(steps, probeStep{User: u, Request: q.Name})
				break
			}
		}
	}
	return steps
}

// probe fires one burst at in, records it, logs expired sessions in again,
// and says how long the instance should rest: a burst that failed outright
// means the instance is down or stalled, and probing it at full rate would
// only add to its trouble.
func (c *Canary) probe(ctx context.Context, in *instance, steps []probeStep) time.Duration {
	res, err := in.eng.fire(ctx, steps, c.burstSink(in))
	if err != nil || res == nil {
		return 0
	}
	if ctx.Err() != nil && len(res.Findings) == 0 {
		// Requests abandoned at the end are not the target's errors.
		return 0
	}
	var expiredUsers []string
	fails := 0
	for _, x := range res.Exchanges {
		if expired(x.Status) && !slices.Contains(expiredUsers, x.User) {
			expiredUsers = append(expiredUsers, x.User)
		}
		if failed(x) {
			fails++
		}
	}
	c.record(in, res, fails)
	for _, u := range expiredUsers {
		if c.pace.wait(ctx, 1) != nil {
			break
		}
		ok, err := in.eng.relogin(ctx, u, c.burstSink(in))
		if err != nil {
			break
		}
		c.mu.Lock()
		in.refreshes++
		if !ok {
			in.refreshFails++
			in.add(sample{at: time.Now(), probes: 1, errors: 1}, c.cfg.Window)
		}
		c.mu.Unlock()
		c.metrics.refreshes.WithLabelValues(in.name).Inc()
		if !ok {
			c.metrics.errors.WithLabelValues(in.name).Inc()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if fails == len(res.Exchanges) && fails > 0 {
		in.backoff = min(max(2*in.backoff, firstBackoff), maxBackoff)
		return in.backoff
	}
	in.backoff = 0
	return 0
}

// record adds a burst's counts to its instance and the metrics, and raises
// the alarm on the first leak.
func (c *Canary) record(in *instance, res *burstResult, fails int) {
	now := time.Now()
	var served []string
	c.mu.Lock()
	for _, x := range res.Exchanges {
		if x.Status > 0 {
			b := c.backendLabel(in, x.Backend)
			in.served[b]++
			served = append(served, b)
		}
	}
	in.bursts++
	in.probes += len(res.Exchanges)
	in.errors += fails
	cov := res.Coverage
	in.cov.Add(cov)
	in.add(sample{at: now, probes: len(res.Exchanges), errors: fails, bursts: 1, cov: &cov}, c.cfg.Window)
	if fails < len(res.Exchanges) {
		in.lastOK = now
	}
	c.mu.Unlock()
	m := c.metrics
	for _, b := range served {
		m.responses.WithLabelValues(b).Inc()
	}
	m.bursts.WithLabelValues(in.name).Inc()
	m.probes.WithLabelValues(in.name).Add(float64(len(res.Exchanges)))
	m.errors.WithLabelValues(in.name).Add(float64(fails))
	if res.Burst != nil {
		m.spread.WithLabelValues(in.name, "release").Observe(res.Skew)
		if res.Burst.ArrivalSpread > 0 {
			m.spread.WithLabelValues(in.name, "arrival").Observe(res.Spread)
		}
	}
	c.addFindings(in, res.Findings)
}

// addFindings counts leaks of an instance and raises the alarm on the first.
func (c *Canary) addFindings(in *instance, fs []*finding) {
	if len(fs) == 0 {
		return
	}
	var first *Leak
	backends := make([]string, len(fs))
	c.mu.Lock()
	for i, f := range fs {
		backends[i] = c.backendLabel(in, f.Backend)
		in.findings++
		in.kinds[string(f.Kind)]++
		in.backendLeaks[backends[i]]++
		if in.firstLeak == nil {
			in.firstLeak = leakOf(in, f, backends[i])
		}
		if c.first == nil {
			c.first = leakOf(in, f, backends[i])
			first = c.first
		}
	}
	c.mu.Unlock()
	for i, f := range fs {
		c.metrics.findings.WithLabelValues(backends[i], string(f.Kind)).Inc()
	}
	if first != nil {
		c.alarm(*first)
	}
}

func (c *Canary) alarm(l Leak) {
	c.leakOnce.Do(func() {
		if c.cfg.OnLeak == nil {
			return
		}
		c.onLeak.Add(1)
		go func() {
			defer c.onLeak.Done()
			// The rollback must run even as the canary winds down.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c.cfg.OnLeak(ctx, l)
		}()
	})
}

func leakOf(in *instance, f *finding, backend string) *Leak {
	return &Leak{Instance: in.name, Backend: backend, Viewer: f.Viewer, Owner: f.Owner, Request: f.Request, Kind: string(f.Kind), Where: f.Where, At: f.Done}
}

// FirstLeak is the first leak seen, or nil.
func (c *Canary) FirstLeak() *Leak {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first == nil {
		return nil
	}
	l := *c.first
	return &l
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
