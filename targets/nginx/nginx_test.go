package nginx_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/targets/mox"
	"github.com/crosstalk/crosstalk/targets/nginx"
)

const users = 8

// target is mox behind nginx in one mode, both stopped when the test ends
// whatever happens. Failing to start either fails the test: a real-target
// test that skips proves nothing. Each test gets a mox of its own, because
// mox allows 1000 HTTP requests a minute per client IP, and behind nginx
// every request comes from 127.0.0.1.
func target(t *testing.T, m nginx.Mode) (*nginx.Server, *spec.Spec) {
	t.Helper()
	moxBin, err := mox.FindBinary()
	require.NoError(t, err)
	nginxBin, err := nginx.FindBinary()
	require.NoError(t, err)
	dir := t.TempDir()
	ms, err := mox.Start(t.Context(), moxBin, filepath.Join(dir, "mox"), mox.Accounts(users))
	if ms != nil {
		t.Cleanup(func() { _ = ms.Stop() })
	}
	require.NoError(t, err)
	ns, err := nginx.Start(t.Context(), nginxBin, filepath.Join(dir, "nginx"), m, ms.Addr)
	if ns != nil {
		t.Cleanup(func() { _ = ns.Stop() })
	}
	require.NoError(t, err)
	for n := 1; n <= users; n++ {
		t.Setenv(mox.PasswordEnv(n), mox.Password(n))
	}
	s, err := spec.Load("../mox/webapi.yaml")
	require.NoError(t, err)
	return ns, s
}

type result struct {
	out      *harness.Outcome
	records  []harness.Record
	findings []*harness.Finding
}

// run drives crosstalk through the library against nginx.
func run(t *testing.T, ns *nginx.Server, s *spec.Spec, opts harness.Options) result {
	t.Helper()
	opts.BaseURL = ns.URL() + "/webapi/v0"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var r result
	out, err := harness.Run(ctx, s, opts, func(rec harness.Record) error {
		r.records = append(r.records, rec)
		if rec.Finding != nil {
			r.findings = append(r.findings, rec.Finding)
		}
		return nil
	})
	require.NoError(t, err)
	r.out = out
	t.Logf("%s: %s: %s; %d requests, %d bursts, %v", ns.Mode, out.Verdict, out.Reason, out.Requests, out.Bursts, out.Elapsed.Round(time.Millisecond))
	if len(r.findings) > 0 {
		f := r.findings[0]
		t.Logf("%s: first finding: burst %d, %s saw %s's %s via %s, %v after the run started",
			ns.Mode, f.Burst, f.Viewer, f.Owner, f.Kind, f.Request, f.Done.Sub(r.start()).Round(time.Millisecond))
	}
	return r
}

func (r result) start() time.Time {
	for _, rec := range r.records {
		if rec.Header != nil {
			return rec.Header.Started
		}
	}
	return time.Time{}
}

// cacheStatus asks nginx for user n's MessageGet directly and returns the
// X-Cache-Status it answered with, to show the cache is really in the path.
func cacheStatus(t *testing.T, ns *nginx.Server, n int) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ns.URL()+"/webapi/v0/MessageGet",
		strings.NewReader(`request={"MsgID":1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(mox.Accounts(n)[n-1].Email, mox.Password(n))
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp.Header.Get("X-Cache-Status")
}

// TestNginxURLKeyedLeaks: a cache keyed on the URL alone hands user A's mail
// to user B; crosstalk finds it without any concurrency, and the report
// names both users.
func TestNginxURLKeyedLeaks(t *testing.T) {
	ns, s := target(t, nginx.URLKeyed)
	r := run(t, ns, s, harness.Options{MaxRequests: 200, Duration: time.Minute, Seed: 3})
	require.Equal(t, harness.Leak, r.out.Verdict, r.out.Reason)
	require.NotEmpty(t, r.findings)
	f := r.findings[0]
	assert.NotEqual(t, f.Viewer, f.Owner)
	assert.Zero(t, f.Burst, "a URL-keyed cache leaks in the sequential baseline already")

	var text bytes.Buffer
	require.NoError(t, reports.Text(&text, reports.Summarize(r.records)))
	assert.Contains(t, text.String(), f.Viewer, "the report names the viewer")
	assert.Contains(t, text.String(), f.Owner, "the report names the owner")
}

// TestNginxMicrocacheLeaksOnlyConcurrently: the coalescing microcache never
// leaks to requests made one after another (the baseline, burst 0, is clean)
// but does once requests arrive together.
func TestNginxMicrocacheLeaksOnlyConcurrently(t *testing.T) {
	ns, s := target(t, nginx.Microcache)
	r := run(t, ns, s, harness.Options{MaxRequests: 600, Duration: time.Minute, StopOnFirst: true, Seed: 5})
	require.Equal(t, harness.Leak, r.out.Verdict, r.out.Reason)
	for _, f := range r.findings {
		assert.Positive(t, f.Burst, "sequential request %s by %s leaked %s's data", f.Request, f.Viewer, f.Owner)
		assert.NotEqual(t, f.Viewer, f.Owner)
	}
}

// TestNginxCorrectIsolated: the same cache keyed on the credentials too is
// in the path (a user's second request is a hit) and keeps mail apart.
func TestNginxCorrectIsolated(t *testing.T) {
	ns, s := target(t, nginx.Correct)
	r := run(t, ns, s, harness.Options{MaxRequests: 800, Duration: time.Minute, Seed: 9})
	require.Equal(t, harness.Isolated, r.out.Verdict, r.out.Reason)
	assert.GreaterOrEqual(t, r.out.Requests, 800)
	assert.Zero(t, r.out.Errors)
	assert.Equal(t, "HIT", cacheStatus(t, ns, 1), "user1 has fetched MessageGet before, so the cache answers")
}

func TestRender(t *testing.T) {
	for _, m := range nginx.Modes() {
		conf, err := nginx.Render(m, nginx.Params{Listen: "127.0.0.1:1", Upstream: "127.0.0.1:2", Dir: "/d"})
		require.NoError(t, err)
		assert.Contains(t, string(conf), "listen 127.0.0.1:1;")
		assert.Contains(t, string(conf), "server 127.0.0.1:2;")
		assert.Contains(t, string(conf), "proxy_set_header Host $host;")
		assert.NotContains(t, string(conf), "{{")
	}
	_, err := nginx.Render("nosuch", nginx.Params{})
	assert.Error(t, err)
}
