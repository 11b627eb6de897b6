package canary

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// A rollout, simulated on loopback, to measure how long a canary takes to
// raise the alarm after a leaking build starts taking traffic.
//
// Each build is a target of its own (a fresh server with the same seeded
// accounts). A real deployment's builds share a session store and a
// database; here a front stands in for both: logins and writes go to every
// build behind it, with one session id handed out for the set, and reads go
// to the build the front routes them to. Two ways of probing are measured:
//
//   - through the balancer: one front over a correct build and the leaking
//     one, sending each read to the leaking build with probability X from T0
//     on, as a weighted canary release does;
//   - per instance: round(1/X) instances, each its own front; at T0 one of
//     them switches its reads from its correct build to its leaking build.
//     Rotating bursts over the instances, the canary sends the leaking one
//     the same share X of its bursts.
//
// rollout.go serves the fronts and builds, here or in a process of their own.

// Build makes one build of the target: buggy or correct. stop frees it.
type Build func(buggy bool) (h http.Handler, stop func(), err error)

// DetectConfig shapes a time-to-detect measurement.
type DetectConfig struct {
	Spec *spec.Spec
	// Launch starts each trial's rollout ([LocalLaunch], [RolloutProcess.Launch]).
	Launch Launch
	// Shares are the fractions of traffic the leaking build gets (e.g. 0.05,
	// 0.25, 1).
	Shares []float64
	Trials int
	// Rate and BurstSize are the canary's (at most 50 probes/s is the
	// budget the figures are quoted at).
	Rate      float64
	BurstSize int
	// Requests are the canary's read requests (default: its own default).
	Requests []string
	// Variants are the canary settings to measure (default: one, the
	// canary's defaults); with several, each cell's trials take turns, so
	// that they are measured side by side under the same load.
	Variants []DetectVariant
	// Cap ends a trial that has not alarmed; such a trial counts as at least
	// Cap.
	Cap time.Duration
	// Modes are the ways of probing to measure (default: both,
	// ModeInstance and ModeBalancer).
	Modes []string
	// Progress, when set, hears of every trial.
	Progress func(mode string, share float64, trial int, d time.Duration, capped bool)
}

// DetectVariant is one way of setting the canary up: its sync strategy, how
// it draws bursts, and where the builds run ("" for the defaults).
type DetectVariant struct {
	Sync, Bursts, Builds string
	// Size is the users per burst (0: [DetectConfig.BurstSize]).
	Size int
}

func (v DetectVariant) String() string {
	s := fmt.Sprintf("-sync %s, %s bursts", cmp.Or(v.Sync, defaultSync), cmp.Or(v.Bursts, DefaultBursts))
	if v.Size > 0 {
		s += fmt.Sprintf(", bursts of %d", v.Size)
	}
	if v.Builds != "" {
		s += ", builds " + v.Builds
	}
	return s
}

// DetectRow is one share's figures for one way of probing.
type DetectRow struct {
	Mode    string // "per instance" or "through the balancer"
	Variant DetectVariant
	Share   float64
	Trials  int
	Capped  int
	// Median and P90 of T0 → alarm, nearest rank; a capped trial counts as
	// Cap, so a cell with capped trials is a lower bound.
	Median, P90 time.Duration
	Times       []time.Duration
}

// Detection modes.
const (
	ModeInstance = "per instance"
	ModeBalancer = "through the balancer"
)

// MeasureDetection runs every trial and returns a row per mode and share.
func MeasureDetection(ctx context.Context, cfg DetectConfig) ([]DetectRow, error) {
	if cfg.Trials <= 0 || len(cfg.Shares) == 0 || cfg.Launch == nil || cfg.Spec == nil || cfg.Cap <= 0 {
		return nil, fmt.Errorf("%w: time to detect needs a spec, a launch, shares, trials and a cap", ErrConfig)
	}
	variants := cfg.variants()
	var rows []DetectRow
	modes := cfg.Modes
	if len(modes) == 0 {
		modes = []string{ModeInstance, ModeBalancer}
	}
	for _, mode := range modes {
		if mode != ModeInstance && mode != ModeBalancer {
			return nil, fmt.Errorf("%w: way of probing %q", ErrConfig, mode)
		}
		for _, share := range cfg.Shares {
			if share <= 0 || share > 1 {
				return nil, fmt.Errorf("%w: share %g must be in (0, 1]", ErrConfig, share)
			}
			cell := make([]DetectRow, len(variants))
			for i, v := range variants {
				cell[i] = DetectRow{Mode: mode, Variant: v, Share: share}
			}
			for n := range cfg.Trials {
				for i, v := range variants {
					d, capped, err := trial(ctx, cfg, mode, share, v)
					if err != nil {
						return rows, err
					}
					if ctx.Err() != nil {
						return rows, ctx.Err()
					}
					row := &cell[i]
					row.Trials++
					if capped {
						row.Capped++
					}
					row.Times = append(row.Times, d)
					if cfg.Progress != nil {
						label := mode
						if len(variants) > 1 {
							label += ", " + v.String()
						}
						cfg.Progress(label, share, n+1, d, capped)
					}
				}
			}
			for _, row := range cell {
				p := percentiles(row.Times, 50, 90)
				row.Median, row.P90 = p[0], p[1]
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

// trial measures one T0 → alarm.
func trial(ctx context.Context, cfg DetectConfig, mode string, share float64, v DetectVariant) (time.Duration, bool, error) {
	ro, err := cfg.Launch(ctx, v.shape(Shape{Mode: mode, Share: share}))
	if err != nil {
		return 0, false, err
	}
	defer ro.Close()
	urls := ro.Instances()
	alarm := make(chan time.Time, 1)
	cc := cfg.canary(v, urls)
	cc.MaxDuration, cc.MinProbes = time.Hour, 1
	cc.OnLeak = func(context.Context, Leak) { alarm <- time.Now() }
	c, err := New(cc)
	if err != nil {
		return 0, false, err
	}
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Run(tctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	// T0 comes once every instance has been probed: the canary is watching
	// when the leaking build starts taking traffic. The clock starts before
	// the switch is sent, so a rollout in another process counts the message
	// against the canary.
	if err := waitReady(tctx, c, len(urls)); err != nil {
		return 0, false, err
	}
	if c.FirstLeak() != nil {
		return 0, false, errors.New("a correct build leaked before T0: the simulation is broken")
	}
	start := time.Now()
	if err := ro.Start(); err != nil {
		return 0, false, fmt.Errorf("starting the leaking build: %w", err)
	}
	timer := time.NewTimer(cfg.Cap)
	defer timer.Stop()
	select {
	case at := <-alarm:
		return at.Sub(start), false, nil
	case <-timer.C:
		return cfg.Cap, true, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

func waitReady(ctx context.Context, c *Canary, n int) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		v := c.Verdict()
		probed := 0
		for _, iv := range v.Instances {
			if iv.Bursts > 0 {
				probed++
			}
		}
		if probed == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the canary did not probe all %d instances within 2 minutes: %s", n, v.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// front stands in for a shared session store and database in front of
// builds: writes and logins (anything but GET and HEAD) go to every build,
// each build's session cookie is kept behind one id of the front's own, and
// each read goes to the build route picks.
type front struct {
	builds []http.Handler
	route  func() int
	mu     sync.Mutex
	sids   map[string][]string
}

const sessionCookie = "sid"

func newFront(builds []http.Handler, route func() int) *front {
	return &front{builds: builds, route: route, sids: map[string][]string{}}
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var mine []string
	if c, err := r.Cookie(sessionCookie); err == nil {
		f.mu.Lock()
		mine = f.sids[c.Value]
		f.mu.Unlock()
	}
	withSid := func(r *http.Request, i int) *http.Request {
		r2 := r.Clone(r.Context())
		var kept []string
		for _, c := range r.Cookies() {
			if c.Name != sessionCookie {
				kept = append(kept, c.String())
			}
		}
		if mine != nil && mine[i] != "" {
			kept = append(kept, sessionCookie+"="+mine[i])
		}
		r2.Header.Del("Cookie")
		if len(kept) > 0 {
			r2.Header.Set("Cookie", strings.Join(kept, "; "))
		}
		return r2
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		i := f.route()
		f.builds[i].ServeHTTP(w, withSid(r, i))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading the body", http.StatusBadRequest)
		return
	}
	var first *httptest.ResponseRecorder
	got := make([]string, len(f.builds))
	newSid := false
	for i, b := range f.builds {
		r2 := withSid(r, i)
		r2.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, r2)
		for _, c := range rec.Result().Cookies() {
			if c.Name == sessionCookie && c.Value != "" {
				got[i], newSid = c.Value, true
			}
		}
		if first == nil {
			first = rec
		}
	}
	for k, vs := range first.Header() {
		if k != "Set-Cookie" {
			w.Header()[k] = vs
		}
	}
	for _, c := range first.Result().Cookies() {
		if c.Name == sessionCookie && newSid {
			id := newID()
			f.mu.Lock()
			f.sids[id] = got
			f.mu.Unlock()
			c.Value = id
		}
		http.SetCookie(w, c)
	}
	w.WriteHeader(first.Code)
	_, _ = w.Write(first.Body.Bytes())
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// FalseAlarms probes correct builds for d and returns how many responses
// carried another user's data (none is right) and how many probes ran.
func FalseAlarms(ctx context.Context, cfg DetectConfig, builds int, d time.Duration) (leaks, probes int, err error) {
	v := cfg.variants()[0]
	ro, err := cfg.Launch(ctx, v.shape(Shape{Correct: builds}))
	if err != nil {
		return 0, 0, err
	}
	defer ro.Close()
	cc := cfg.canary(v, ro.Instances())
	cc.MaxDuration = d
	c, err := New(cc)
	if err != nil {
		return 0, 0, err
	}
	out, err := c.Run(ctx)
	if err != nil {
		return 0, 0, err
	}
	return out.Findings, out.Requests, nil
}

// variants are the settings to measure: the configured ones, or the
// canary's defaults.
func (cfg DetectConfig) variants() []DetectVariant {
	if len(cfg.Variants) == 0 {
		return []DetectVariant{{}}
	}
	return cfg.Variants
}

// canary is the canary of one variant over instances.
func (cfg DetectConfig) canary(v DetectVariant, instances []string) Config {
	return Config{Spec: cfg.Spec, Instances: instances, Rate: cfg.Rate, BurstSize: cmp.Or(v.Size, cfg.BurstSize),
		Requests: cfg.Requests, Sync: v.Sync, Bursts: v.Bursts}
}

// shape completes sh with what the variant asks of the builds: h2c for h2,
// which the default picks where the instance speaks it, and where they run.
func (v DetectVariant) shape(sh Shape) Shape {
	sh.H2 = v.Sync == syncH2 || v.Sync == ""
	sh.Builds = v.Builds
	return sh
}

// serve serves h on loopback over HTTP/1.1 and, for -sync h2, h2c too. A
// build serves h2c only when it is asked for, so that the HTTP/1.1 figures
// are those of a plain HTTP/1.1 server.
func serve(h http.Handler, h2c bool) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	if h2c {
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		srv.Config.Protocols = &p
	}
	srv.Start()
	return srv
}
