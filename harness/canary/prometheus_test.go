package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/targets/process"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// A real Prometheus (Debian's, installed by test.sh) scrapes a canary that
// probes a lastlogin build; its query API must see the leak counter turn
// positive. promtool must accept the exposition as it is served. Missing
// binaries fail the test: a real-component test that skips proves nothing.
func TestPrometheusScrapesTheLeakCounter(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	require.NoError(t, err, "install Debian's prometheus package (./test.sh does)")
	bad := startBuild(t, webmail.BugLastLogin)
	cn, err := New(Config{Spec: webmailSpec(t), Instances: urls(bad), Rate: 100, MaxDuration: 60 * time.Second,
		Requests: []string{"profile"}})
	require.NoError(t, err)
	srv := httptest.NewServer(cn.Handler())
	defer srv.Close()

	dir := t.TempDir()
	port, err := process.FreePort()
	require.NoError(t, err)
	target := srv.Listener.Addr().String()
	cfg := fmt.Sprintf("global: {scrape_interval: 200ms, scrape_timeout: 150ms}\nscrape_configs:\n  - job_name: crosstalk-canary\n    static_configs: [{targets: [%q]}]\n", target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	p, err := process.Start("prometheus", cmd, filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	t.Cleanup(func() { p.Stop(syscall.SIGTERM, 5*time.Second) })
	require.NoError(t, p.WaitReady(t.Context(), 30*time.Second, 50*time.Millisecond, func(ctx context.Context) bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}), "prometheus did not become ready; its log is %s", filepath.Join(dir, "prometheus.log"))

	query := func(q string) (float64, bool) {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
		require.NoError(t, err)
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		require.Equal(t, "success", r.Status)
		if len(r.Data.Result) == 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
		require.NoError(t, err)
		return v, true
	}
	// Scraped before any probe: the counter exists, at zero.
	waitFor(t, 20*time.Second, "prometheus never scraped the canary", func() bool {
		_, ok := query(`sum(crosstalk_canary_findings_total)`)
		return ok
	})
	v, _ := query(`sum(crosstalk_canary_findings_total)`)
	assert.Zero(t, v, "no probe has run yet")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = cn.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, 30*time.Second, "the leak counter never turned positive in prometheus", func() bool {
		v, _ := query(`sum(crosstalk_canary_findings_total{backend="` + host(bad) + `"})`)
		return v > 0
	})
	vd, ok := query(`crosstalk_canary_verdict{verdict="leak"}`)
	assert.True(t, ok)
	assert.Equal(t, 1.0, vd, "the verdict gauge says leak")

	// promtool accepts the exposition exactly as served, leak and all.
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool comes with Debian's prometheus package")
	m := get(t, srv.URL+"/metrics")
	require.Equal(t, http.StatusOK, m.status)
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(m.body)
	out, err := check.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics:\n%s", out)
	assert.Empty(t, string(bytes.TrimSpace(out)), "promtool found lint problems")
}
