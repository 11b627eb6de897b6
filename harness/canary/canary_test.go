package canary

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// build is one webmail instance on loopback, behind a handler that counts
// the requests in its handlers and can stall them.
type build struct {
	ts      *httptest.Server
	srv     *webmail.Server
	active  atomic.Int64
	peak    atomic.Int64
	total   atomic.Int64
	stalled atomic.Bool
	// expire, when set, answers a session as expired once in every n
	// requests that carry a session cookie.
	expireEvery atomic.Int64
	expired     sync.Map
	seen        atomic.Int64
	// blank, when set, is the body of a 200 the build answers every
	// request with: a page of nobody's data.
	blank atomic.Pointer[string]
	// arrivals are the times stalled requests reached the handler.
	mu       sync.Mutex
	arrivals []time.Time
}

func startBuild(t *testing.T, bug webmail.Bug) *build {
	t.Helper()
	srv, err := webmail.New(webmail.Options{Bug: bug, Work: webmail.DefaultWork})
	require.NoError(t, err)
	b := &build{srv: srv}
	b.ts = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() {
		b.ts.Close()
		srv.Close()
	})
	return b
}

func (b *build) serve(w http.ResponseWriter, r *http.Request) {
	n := b.active.Add(1)
	defer b.active.Add(-1)
	for p := b.peak.Load(); n > p && !b.peak.CompareAndSwap(p, n); p = b.peak.Load() {
	}
	b.total.Add(1)
	if b.stalled.Load() {
		// A stalled target: the handler hangs until the client gives up.
		b.mu.Lock()
		b.arrivals = append(b.arrivals, time.Now())
		b.mu.Unlock()
		<-r.Context().Done()
		return
	}
	if body := b.blank.Load(); body != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, *body)
		return
	}
	if c, err := r.Cookie("sid"); err == nil && b.expireEvery.Load() > 0 && r.URL.Path != "/login" {
		if _, gone := b.expired.Load(c.Value); gone || b.seen.Add(1)%b.expireEvery.Load() == 0 {
			b.expired.Store(c.Value, true)
			if strings.HasPrefix(r.URL.Path, "/api/") {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			} else {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
			}
			return
		}
	}
	b.srv.ServeHTTP(w, r)
}

func webmailSpec(t *testing.T) *spec.Spec {
	t.Helper()
	s, err := spec.Load("../../targets/webmail/webmail.yaml")
	require.NoError(t, err)
	return s
}

// collect is a result stream kept in memory.
type collect struct {
	mu   sync.Mutex
	recs []harness.Record
}

func (c *collect) sink(r harness.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
	return nil
}

func (c *collect) of(t harness.RecordType) []harness.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []harness.Record
	for _, r := range c.recs {
		if r.Type == t {
			out = append(out, r)
		}
	}
	return out
}

func urls(bs ...*build) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.ts.URL)
	}
	return out
}

func host(b *build) string { return strings.TrimPrefix(b.ts.URL, "http://") }

// start runs cn in the background; stop ends it and returns its outcome,
// the same one however often it is called. A stream error fails the test.
func start(t *testing.T, cn *Canary) (stop func() *harness.Outcome) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *harness.Outcome, 1)
	go func() {
		out, err := cn.Run(ctx)
		assert.NoError(t, err)
		done <- out
	}()
	var once sync.Once
	var out *harness.Outcome
	return func() *harness.Outcome {
		once.Do(func() {
			cancel()
			out = <-done
		})
		return out
	}
}

// waitFor polls cond until it holds or the deadline passes; the canary runs
// on its own goroutines, and its state is all a test can watch.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLeakIsAttributedToTheLeakingInstanceAlone(t *testing.T) {
	a, bad, c := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugLastLogin), startBuild(t, webmail.BugNone)
	var st collect
	var leaks atomic.Int32
	var got Leak
	cn, err := New(Config{Spec: webmailSpec(t), Instances: urls(a, bad, c), Rate: 150, MaxDuration: 20 * time.Second,
		Requests: []string{"profile"}, MinProbes: 40, Sink: st.sink,
		OnLeak: func(_ context.Context, l Leak) { got = l; leaks.Add(1) }})
	require.NoError(t, err)
	stop := start(t, cn)
	defer stop()
	// Until the leak is seen and every clean instance has earned its verdict.
	waitFor(t, 15*time.Second, "no leak on the lastlogin build, or too few probes on the others", func() bool {
		v := cn.Verdict()
		// Two leaks at least, so that "once" is put to the test.
		return v.Leaks > 1 && v.Instances[0].Probes >= 40 && v.Instances[2].Probes >= 40
	})
	out := stop()
	v := cn.Verdict()
	require.Len(t, v.Instances, 3)
	assert.Equal(t, harness.Leak, v.Verdict)
	assert.Equal(t, host(bad), v.Instances[1].Instance)
	assert.Equal(t, harness.Leak, v.Instances[1].Verdict, v.Instances[1].Reason)
	assert.Positive(t, v.Instances[1].Leaks)
	for _, i := range []int{0, 2} {
		assert.Equal(t, harness.Isolated, v.Instances[i].Verdict, "%s: %s", v.Instances[i].Instance, v.Instances[i].Reason)
		assert.Zero(t, v.Instances[i].Leaks)
	}
	assert.Equal(t, host(bad), v.FirstLeak.Instance)
	assert.Equal(t, int32(1), leaks.Load(), "-on-leak runs exactly once however many leaks follow")
	assert.Equal(t, host(bad), got.Instance)
	assert.Equal(t, harness.Leak, out.Verdict)

	// The stream: one header naming every instance, bursts numbered across
	// the canary, one verdict that agrees.
	hs := st.of(harness.RecordHeader)
	require.Len(t, hs, 1)
	for _, u := range urls(a, bad, c) {
		assert.Contains(t, hs[0].Header.BaseURL, u)
	}
	vs := st.of(harness.RecordVerdict)
	require.Len(t, vs, 1)
	assert.Equal(t, harness.Leak, vs[0].Outcome.Verdict)
	assert.Equal(t, v.Leaks, vs[0].Outcome.Findings)
	seen := map[int]bool{}
	for _, r := range st.of(harness.RecordBurst) {
		assert.False(t, seen[r.Burst.Burst], "burst %d numbered twice", r.Burst.Burst)
		seen[r.Burst.Burst] = true
	}
	fs := st.of(harness.RecordFinding)
	require.NotEmpty(t, fs)
	for _, f := range fs {
		assert.True(t, seen[f.Finding.Burst], "finding points at burst %d, which the stream lacks", f.Finding.Burst)
	}
}

func TestCorrectBuildsAreIsolatedAndServedSo(t *testing.T) {
	a, b := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugNone)
	// Long enough for setup under -race on a busy machine; the verdict
	// covers the whole run.
	cn, err := New(Config{Spec: webmailSpec(t), Instances: urls(a, b), Rate: 100, MaxDuration: 6 * time.Second, MinProbes: 20})
	require.NoError(t, err)
	srv := httptest.NewServer(cn.Handler())
	defer srv.Close()

	// Before any probe: could not measure.
	assert.Equal(t, http.StatusServiceUnavailable, get(t, srv.URL+"/verdict").status)
	out, err := cn.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	assert.Positive(t, out.Requests)

	r := get(t, srv.URL+"/verdict")
	assert.Equal(t, http.StatusOK, r.status)
	var v Verdict
	require.NoError(t, json.Unmarshal(r.body, &v))
	assert.Equal(t, 0, v.Leaks)
	assert.Equal(t, harness.Isolated, v.Verdict)
	assert.Len(t, v.Instances, 2)
	assert.Equal(t, http.StatusOK, post(t, srv.URL+"/flagger/check").status)
	assert.Equal(t, http.StatusPreconditionFailed, post(t, srv.URL+"/flagger/rollback").status, "no leak: no rollback")
	m := get(t, srv.URL+"/metrics")
	assert.Contains(t, string(m.body), `crosstalk_canary_verdict{verdict="isolated"} 1`)
	assert.Contains(t, string(m.body), `crosstalk_canary_findings_total{backend="`+host(a)+`",kind="canary"} 0`)
}

func TestOutageIsInconclusiveNeverIsolated(t *testing.T) {
	a := startBuild(t, webmail.BugNone)
	s := webmailSpec(t)
	s.Limits.Timeout = 300 * time.Millisecond
	cn, err := New(Config{Spec: s, Instances: urls(a), Rate: 100, MaxDuration: 20 * time.Second, MinProbes: 10, Window: time.Second})
	require.NoError(t, err)
	srv := httptest.NewServer(cn.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *harness.Outcome, 1)
	go func() {
		out, _ := cn.Run(ctx)
		done <- out
	}()
	waitFor(t, 10*time.Second, "never isolated while up", func() bool { return cn.Verdict().Verdict == harness.Isolated })
	// The target goes down: connections are refused from now on.
	a.ts.CloseClientConnections()
	a.ts.Close()
	waitFor(t, 5*time.Second, "still isolated after the outage", func() bool { return cn.Verdict().Verdict == harness.Inconclusive })
	for range 20 {
		v := cn.Verdict()
		require.Equal(t, harness.Inconclusive, v.Verdict, "an outage must never read as isolated")
		r := get(t, srv.URL+"/verdict")
		require.Equal(t, http.StatusServiceUnavailable, r.status, "could not measure: non-2xx for Argo")
		require.Equal(t, http.StatusServiceUnavailable, post(t, srv.URL+"/flagger/check").status)
		time.Sleep(20 * time.Millisecond)
	}
	assert.Positive(t, cn.Verdict().Instances[0].WindowErrors)
	cancel()
	out := <-done
	assert.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
}

// A target whose answers carry nobody's data shows nothing about
// isolation: answered with an empty 200 or a login page served as 200,
// every probe looks clean whatever the target does. Such a canary says it
// could not measure, with the coverage as its reason, and is never
// isolated.
func TestAnswersOfNobodysDataAreInconclusive(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"empty 200", ""},
		{"login page", `<!doctype html><title>Sign in</title><form method="post" action="/login">` +
			`<input name="login"><input name="password" type="password"><button>Sign in</button></form>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := startBuild(t, webmail.BugNone)
			cn, err := New(Config{Spec: webmailSpec(t), Instances: urls(a), Rate: 100, MaxDuration: 20 * time.Second,
				MinProbes: 10, Window: time.Second})
			require.NoError(t, err)
			srv := httptest.NewServer(cn.Handler())
			defer srv.Close()
			stop := start(t, cn)
			defer stop()
			// Enough good probes first that the whole run's coverage stays
			// above the minimum: the end must still not be vouched for.
			waitFor(t, 10*time.Second, "never isolated while the pages carried their users' data", func() bool {
				v := cn.Verdict()
				return v.Verdict == harness.Isolated && v.Probes >= 150
			})
			a.blank.Store(&tc.body)
			waitFor(t, 5*time.Second, "still isolated on pages of nobody's data", func() bool {
				return cn.Verdict().Verdict == harness.Inconclusive
			})
			for range 10 {
				v := cn.Verdict()
				require.Equal(t, harness.Inconclusive, v.Verdict, v.Reason)
				assert.Contains(t, v.Reason, "coverage")
				assert.Contains(t, v.Instances[0].Reason, "carried their viewer's own data")
				assert.Positive(t, v.Instances[0].Coverage.Lost, "the baseline had the viewers' data, the probes lost it")
				assert.Zero(t, v.Errors, "a 200 of nobody's data is no target error: coverage is what catches it")
				r := get(t, srv.URL+"/verdict")
				require.Equal(t, http.StatusServiceUnavailable, r.status, "could not measure: non-2xx for Argo")
				assert.Contains(t, string(r.body), "coverage")
				require.Equal(t, http.StatusServiceUnavailable, post(t, srv.URL+"/flagger/check").status)
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("live: %s", cn.Verdict().Reason)
			out := stop()
			t.Logf("final: %s", out.Reason)
			assert.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
			assert.Contains(t, out.Reason, "coverage")
			require.NotNil(t, out.Coverage)
			assert.Positive(t, out.Coverage.Lost)
		})
	}
}

func TestTargetDownFromTheStartIsInconclusive(t *testing.T) {
	a := startBuild(t, webmail.BugNone)
	url := a.ts.URL
	a.ts.Close()
	cn, err := New(Config{Spec: webmailSpec(t), Instances: []string{url}, MaxDuration: 300 * time.Millisecond})
	require.NoError(t, err)
	var st collect
	cn.cfg.Sink = st.sink
	out, err := cn.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, harness.Inconclusive, out.Verdict)
	assert.Contains(t, out.Reason, "setup failed")
	assert.Len(t, st.of(harness.RecordHeader), 1, "the stream opens with a header even so")
	assert.Len(t, st.of(harness.RecordVerdict), 1)
}

// The ceiling holds at the target while it stalls: requests time out, and
// the canary neither piles new ones on nor exceeds its ceiling.
func TestCeilingHoldsAtAStalledTarget(t *testing.T) {
	a, b, c := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugNone), startBuild(t, webmail.BugNone)
	s := webmailSpec(t)
	s.Limits.Timeout = 150 * time.Millisecond
	// Three instances with bursts of two could have six requests out at
	// once; the ceiling allows four.
	const ceiling = 4
	cn, err := New(Config{Spec: s, Instances: urls(a, b, c), Rate: 1000, BurstSize: 2, MaxInFlight: ceiling,
		MaxDuration: 20 * time.Second, Requests: []string{"profile"}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = cn.Run(ctx)
	}()
	waitFor(t, 10*time.Second, "no bursts", func() bool { return cn.Verdict().Probes > 50 })
	builds := []*build{a, b, c}
	for _, x := range builds {
		x.stalled.Store(true)
	}
	// Let several timeouts go by at the stalled targets.
	waitFor(t, 10*time.Second, "too few stalled requests", func() bool {
		n := 0
		for _, x := range builds {
			x.mu.Lock()
			n += len(x.arrivals)
			x.mu.Unlock()
		}
		return n >= 5*ceiling
	})
	cancel()
	<-done
	// Concurrency is counted from arrivals, not from handlers still
	// running: a handler learns of the client's close only when the
	// server's reader is scheduled, which under load may come after the
	// canary has already sent the next burst. A request that reached the
	// handler at t was sent before t, and its client gives up no earlier
	// than Timeout after sending it; so, as long as sending and arriving lie
	// less than half a Timeout apart, it is in flight at the client over
	// all of [t, t+Timeout/2]. The peak overlap of those windows is
	// concurrency the canary really had.
	var at []time.Time
	for _, x := range builds {
		x.mu.Lock()
		at = append(at, x.arrivals...)
		x.mu.Unlock()
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	var peak int64
	for i := range at {
		n := int64(0)
		for j := i; j >= 0 && at[i].Sub(at[j]) < s.Limits.Timeout/2; j-- {
			n++
		}
		peak = max(peak, n)
	}
	t.Logf("peak concurrency at the stalled targets: %d (ceiling %d)", peak, ceiling)
	assert.GreaterOrEqual(t, peak, int64(2), "the stall was never reached")
	assert.LessOrEqual(t, peak, int64(ceiling))
	v := cn.Verdict()
	assert.NotEqual(t, harness.Isolated, v.Verdict)
}

func TestRateIsBounded(t *testing.T) {
	a := startBuild(t, webmail.BugNone)
	const rate = 40.0
	cn, err := New(Config{Spec: webmailSpec(t), Instances: urls(a), Rate: rate, MaxDuration: 20 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = cn.Run(ctx)
	}()
	waitFor(t, 10*time.Second, "no probe", func() bool { return cn.Verdict().Probes > 0 })
	start, n0 := time.Now(), a.total.Load()
	time.Sleep(1500 * time.Millisecond)
	n, el := a.total.Load()-n0, time.Since(start)
	cancel()
	<-done
	limit := rate*el.Seconds() + float64(cn.cfg.BurstSize) // one burst may straddle the start
	t.Logf("%d requests in %v at -rate %g/s (limit %.0f)", n, el.Round(time.Millisecond), rate, limit)
	assert.LessOrEqual(t, float64(n), limit)
	assert.GreaterOrEqual(t, float64(n), 0.7*rate*el.Seconds(), "the canary should use most of its rate")
}

func TestExpiredSessionsAreLoggedInAgain(t *testing.T) {
	a := startBuild(t, webmail.BugNone)
	cn, err := New(Config{Spec: webmailSpec(t), Instances: urls(a), Rate: 200, MaxDuration: 3 * time.Second, MinProbes: 20})
	require.NoError(t, err)
	done := make(chan *harness.Outcome, 1)
	go func() {
		out, err := cn.Run(context.Background())
		assert.NoError(t, err)
		done <- out
	}()
	// Sessions start expiring once setup is done: a seed or a baseline
	// refused is a failed setup, rightly.
	waitFor(t, 10*time.Second, "no probe", func() bool { return cn.Verdict().Probes > 0 })
	a.expireEvery.Store(15)
	out := <-done
	v := cn.Verdict()
	t.Logf("refreshes %d, probes %d, errors %d", v.Refreshes, v.Probes, v.Errors)
	assert.Positive(t, v.Refreshes)
	assert.Zero(t, v.Errors, "an expired session is refreshed, not a target error")
	assert.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	// After a refresh the user's probes go through again: most probes were
	// answered by the webmail, not by the expiry.
	assert.Greater(t, v.Probes, 3*v.Refreshes)
}

func TestConfigErrors(t *testing.T) {
	s := webmailSpec(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no duration", Config{Spec: s}, "maximum duration"},
		{"write request", Config{Spec: s, MaxDuration: time.Second, Requests: []string{"send"}}, "only reads"},
		{"needs extracted value", Config{Spec: s, MaxDuration: time.Second, Requests: []string{"message"}}, "{{msg_id}}"},
		{"unknown request", Config{Spec: s, MaxDuration: time.Second, Requests: []string{"nope"}}, `no request "nope"`},
		{"ceiling below burst", Config{Spec: s, MaxDuration: time.Second, BurstSize: 4, MaxInFlight: 3}, "ceiling"},
		{"auto", Config{Spec: s, MaxDuration: time.Second, Sync: "auto"}, "auto"},
		{"bad instance", Config{Spec: s, MaxDuration: time.Second, Instances: []string{"10.0.0.1:80"}}, "not an absolute"},
		{"negative rate", Config{Spec: s, MaxDuration: time.Second, Rate: -1}, "rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorIs(t, err, ErrConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	cn, err := New(Config{Spec: s, MaxDuration: time.Second})
	require.NoError(t, err)
	var names []string
	for _, q := range cn.reads {
		names = append(names, q.Name)
	}
	assert.Equal(t, []string{"profile", "inbox", "inbox_html"}, names, "by default only reads that need no extracted value")
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, h string) ([]string, error) {
	if a, ok := f[h]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
}

func TestResolveInstances(t *testing.T) {
	r := fakeResolver{"web.ns.svc": {"127.0.0.3", "127.0.0.2", "::1", "127.0.0.2"}}
	got, err := ResolveInstances(context.Background(), r, "dns:web.ns.svc", "http://web:8080/app/")
	require.NoError(t, err)
	assert.Equal(t, []string{"http://127.0.0.2:8080/app", "http://127.0.0.3:8080/app", "http://[::1]:8080/app"}, got)
	got, err = ResolveInstances(context.Background(), r, "dns:web.ns.svc:9000", "https://web")
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.2:9000", got[0])
	_, err = ResolveInstances(context.Background(), r, "dns:gone", "http://web")
	assert.ErrorContains(t, err, "gone")
	_, err = ResolveInstances(context.Background(), r, "srv:web", "http://web")
	assert.ErrorIs(t, err, ErrConfig)
	// The real resolver, on a name every machine has.
	got, err = ResolveInstances(context.Background(), nil, "dns:localhost", "http://x:8080")
	require.NoError(t, err)
	assert.Contains(t, got, "http://127.0.0.1:8080")
}

type reply struct {
	status int
	body   []byte
}

func get(t *testing.T, u string) reply { return do(t, http.MethodGet, u) }

func post(t *testing.T, u string) reply { return do(t, http.MethodPost, u) }

func do(t *testing.T, method, u string) reply {
	t.Helper()
	body := `{"name":"podinfo","namespace":"test","phase":"Progressing","metadata":{}}`
	if method == http.MethodGet {
		body = ""
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, body: b}
}
