package flagger

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	"github.com/fluxcd/flagger/pkg/controller"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/crosstalk/crosstalk/harness/canary"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Flagger's retrying client keeps idle keep-alive connections.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
		// OpenCensus, a dependency of Flagger's, starts a worker in init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

var cd = flaggerv1.Canary{ObjectMeta: metav1.ObjectMeta{Name: "webmail", Namespace: "prod"}}

// hook is a webhook as a Canary resource's analysis lists it. The timeout
// is Flagger's own default for webhooks, 10 s, cut to 2 s: the canary
// answers from what it has already seen and must not come near it.
func hook(typ flaggerv1.HookType, url string) flaggerv1.CanaryWebhook {
	return flaggerv1.CanaryWebhook{Name: "crosstalk-" + string(typ), Type: typ, URL: url, Timeout: "2s"}
}

// check calls the check endpoint as Flagger calls a gate: nil advances.
func check(typ flaggerv1.HookType, base string) error {
	phase := flaggerv1.CanaryPhaseProgressing
	return controller.CallWebhook(cd, phase, hook(typ, base+"/flagger/check"))
}

// rollback calls the rollback endpoint as Flagger does during the analysis:
// nil rolls the canary back.
func rollback(base string) error {
	return controller.CallWebhook(cd, flaggerv1.CanaryPhaseProgressing, hook(flaggerv1.RollbackHook, base+"/flagger/rollback"))
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

func live(t *testing.T, instances ...string) (*canary.Canary, string) {
	t.Helper()
	s, err := spec.Load("../webmail/webmail.yaml")
	require.NoError(t, err)
	s.Limits.Timeout = 300 * time.Millisecond
	c, err := canary.New(canary.Config{Spec: s, Instances: instances, Rate: 100, MaxDuration: time.Minute,
		Requests: []string{"profile"}, MinProbes: 30, Window: 2 * time.Second})
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
	return c, srv.URL
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFlaggerAdvancesIsolatedBuilds(t *testing.T) {
	a, b := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugNone)
	c, base := live(t, a.URL, b.URL)
	// Before the canary has measured: Flagger halts (a failed check).
	require.Error(t, check(flaggerv1.PreRolloutHook, base), "an unmeasured canary must not let Flagger advance")
	waitFor(t, 20*time.Second, "never isolated", func() bool { return c.Verdict().Verdict == "isolated" })
	for _, typ := range []flaggerv1.HookType{flaggerv1.PreRolloutHook, flaggerv1.RolloutHook} {
		assert.NoError(t, check(typ, base), "%s: Flagger advances", typ)
	}
	assert.Error(t, rollback(base), "no leak: Flagger does not roll back")
}

func TestFlaggerHaltsAndRollsBackOnALeak(t *testing.T) {
	good, bad := startBuild(t, webmail.BugNone), startBuild(t, webmail.BugLastLogin)
	c, base := live(t, good.URL, bad.URL)
	waitFor(t, 20*time.Second, "no leak seen", func() bool { return c.Verdict().Leaks > 0 })
	err := check(flaggerv1.RolloutHook, base)
	require.Error(t, err, "a leak halts the advance")
	// Flagger puts the body of a failing webhook into its event: the leak
	// summary is there for whoever reads it.
	bh := strings.TrimPrefix(bad.URL, "http://")
	assert.Contains(t, err.Error(), `"verdict": "leak"`)
	assert.Contains(t, err.Error(), `"instance": "`+bh+`"`)
	assert.NoError(t, rollback(base), "a leak rolls the canary back")
}

func TestFlaggerHaltsOnAnOutageButDoesNotRollBack(t *testing.T) {
	a := startBuild(t, webmail.BugNone)
	c, base := live(t, a.URL)
	waitFor(t, 20*time.Second, "never isolated", func() bool { return c.Verdict().Verdict == "isolated" })
	require.NoError(t, check(flaggerv1.RolloutHook, base))
	a.CloseClientConnections()
	a.Close()
	waitFor(t, 10*time.Second, "the outage never showed", func() bool { return c.Verdict().Verdict == "inconclusive" })
	err := check(flaggerv1.RolloutHook, base)
	require.Error(t, err, "an outage halts: isolation is not shown")
	// Flagger's retrying client takes a 503 for a passing trouble: it would
	// retry with the webhook's retries, then gives up, and the check fails.
	assert.Contains(t, err.Error(), "giving up")
	with := hook(flaggerv1.RolloutHook, base+"/flagger/check")
	with.Retries = 1
	assert.Error(t, controller.CallWebhook(cd, flaggerv1.CanaryPhaseProgressing, with), "retried, still inconclusive")
	assert.Error(t, rollback(base), "an outage is no leak: no rollback")
}
