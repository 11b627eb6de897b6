package argo

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/metricproviders/webmetric"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	log "github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crosstalk/crosstalk/harness/canary"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Argo's package-level HTTP transport for insecure metrics keeps
		// idle connections of its own.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		// klog, pulled in by the Kubernetes modules, flushes on a timer.
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
	)
}

// The AnalysisTemplate metric the README documents, as Argo parses it.
func metric(url string) v1alpha1.Metric {
	return v1alpha1.Metric{
		Name:             "crosstalk-isolation",
		SuccessCondition: "result.leaks == 0",
		Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{
			URL:            url,
			JSONPath:       "{$}",
			TimeoutSeconds: 5,
		}},
	}
}

// measure runs Argo's own web provider once, as the analysis controller does
// at every interval.
func measure(t *testing.T, url string) v1alpha1.Measurement {
	t.Helper()
	m := metric(url)
	client, err := webmetric.NewWebMetricHttpClient(m)
	require.NoError(t, err)
	parser, err := webmetric.NewWebMetricJsonParser(m)
	require.NoError(t, err)
	p := webmetric.NewWebMetricProvider(*log.WithField("metric", m.Name), client, parser)
	return p.Run(&v1alpha1.AnalysisRun{}, m)
}

// live starts a canary over builds of the webmail and serves its endpoints.
func live(t *testing.T, instances []string, minProbes int) (*canary.Canary, string) {
	t.Helper()
	s, err := spec.Load("../webmail/webmail.yaml")
	require.NoError(t, err)
	s.Limits.Timeout = 300 * time.Millisecond
	c, err := canary.New(canary.Config{Spec: s, Instances: instances, Rate: 100, MaxDuration: time.Minute,
		Requests: []string{"profile"}, MinProbes: minProbes, Window: 2 * time.Second})
	require.NoError(t, err)
	srv := httptest.NewServer(c.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	return c, srv.URL + "/verdict"
}

func startBuild(t *testing.T, bug webmail.Bug) *httptest.Server {
	t.Helper()
	w, err := webmail.New(webmail.Options{Bug: bug, Work: webmail.DefaultWork})
	require.NoError(t, err)
	ts := httptest.NewServer(w)
	t.Cleanup(func() {
		ts.Close()
		w.Close()
	})
	return ts
}

// until measures with Argo every 100 ms until the phase is not Error (the
// canary could not yet measure), and returns the first such measurement.
func until(t *testing.T, url string, limit time.Duration) v1alpha1.Measurement {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m := measure(t, url)
		if m.Phase != v1alpha1.AnalysisPhaseError || time.Now().After(deadline) {
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestArgoJudgesIsolatedBuildsSuccessful(t *testing.T) {
	a, b := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugNone)
	_, url := live(t, []string{a.URL, b.URL}, 30)
	m := until(t, url, 20*time.Second)
	require.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase, "message %q, value %s", m.Message, m.Value)
	var v canary.Verdict
	require.NoError(t, json.Unmarshal([]byte(m.Value), &v))
	assert.Zero(t, v.Leaks)
	assert.Len(t, v.Instances, 2)
	// Measured again later: still Successful, never Failed.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		m := measure(t, url)
		require.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase, m.Message)
	}
}

func TestArgoJudgesALeakFailed(t *testing.T) {
	good, bad := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugLastLogin)
	c, url := live(t, []string{good.URL, bad.URL}, 30)
	deadline := time.Now().Add(20 * time.Second)
	var m v1alpha1.Measurement
	for time.Now().Before(deadline) {
		if m = measure(t, url); m.Phase == v1alpha1.AnalysisPhaseFailed {
			break
		}
		// Before the leak Argo may see Error (still measuring); never Successful
		// once a leak is in, and never Failed without one.
		require.NotEqual(t, v1alpha1.AnalysisPhaseFailed, m.Phase)
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, v1alpha1.AnalysisPhaseFailed, m.Phase, "message %q, value %s", m.Message, m.Value)
	var v canary.Verdict
	require.NoError(t, json.Unmarshal([]byte(m.Value), &v), "Argo keeps the measured JSON as the value")
	assert.Positive(t, v.Leaks)
	assert.Equal(t, "leak", string(v.Verdict))
	assert.Positive(t, c.Verdict().Leaks)
	assert.Equal(t, strings.TrimPrefix(bad.URL, "http://"), c.FirstLeak().Instance)
}

func TestArgoCountsAnOutageAsAnError(t *testing.T) {
	a := startBuild(t, webmail.BugNone)
	c, url := live(t, []string{a.URL}, 20)
	m := until(t, url, 20*time.Second)
	require.Equal(t, v1alpha1.AnalysisPhaseSuccessful, m.Phase, "up: %q", m.Message)
	a.CloseClientConnections()
	a.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m = measure(t, url); m.Phase != v1alpha1.AnalysisPhaseSuccessful {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Argo counts an Error against consecutiveErrorLimit, never as Failed.
	require.Equal(t, v1alpha1.AnalysisPhaseError, m.Phase, "down: %q", m.Message)
	assert.Contains(t, m.Message, "503")
	assert.Equal(t, "inconclusive", string(c.Verdict().Verdict))
	// The canary endpoint itself gone: also an Error, not a Failure.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "http://" + ln.Addr().String() + "/verdict"
	require.NoError(t, ln.Close())
	assert.Equal(t, v1alpha1.AnalysisPhaseError, measure(t, gone).Phase)
}
