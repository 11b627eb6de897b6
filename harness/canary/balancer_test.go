package canary

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/nginx"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// balancedSpec is the webmail spec for users behind a sticky balancer: every
// request carries the user's login in the balancer's key header, so that a
// user stays on the build that holds their session, and the balancer names
// the backend that answered in its header.
const balancedSpec = `
name: webmail-balanced
base_url: http://127.0.0.1:1
backend_header: ` + nginx.UpstreamHeader + `
users:
  pattern: {count: 16, login: "user{{n}}", password: "pw-user{{n}}", email: "user{{n}}@webmail.test"}
login:
  type: form
  path: /login
  form: {login: "{{login}}", password: "{{password}}"}
  headers: {` + nginx.StickyHeader + `: "{{login}}"}
  fail_if: invalid login
seed:
  - name: plant
    method: POST
    path: /api/send
    headers: {Content-Type: application/json, ` + nginx.StickyHeader + `: "{{login}}"}
    body: '{"to":"{{email}}","subject":"note","body":"{{canary}}"}'
    action: write
requests:
  - {name: profile, path: /profile, data: profile, headers: {` + nginx.StickyHeader + `: "{{login}}"}}
`

// Probing through a real nginx in front of a lastlogin build and a correct
// one, the canary sees one instance, the balancer; the header nginx adds
// from $upstream_addr attributes the leak to the lastlogin build, and the
// correct build, which answered too, to none.
func TestLeakThroughABalancerIsAttributedToItsBackend(t *testing.T) {
	bin, err := nginx.FindBinary()
	require.NoError(t, err)
	serve := func(bug webmail.Bug) string {
		w, err := webmail.New(webmail.Options{Bug: bug, Users: 16, Work: webmail.DefaultWork, Seed: 1})
		require.NoError(t, err)
		ts := httptest.NewServer(w)
		t.Cleanup(func() {
			ts.Close()
			w.Close()
		})
		return strings.TrimPrefix(ts.URL, "http://")
	}
	bad, good := serve(webmail.BugLastLogin), serve(webmail.BugNone)
	ns, err := nginx.Start(t.Context(), bin, t.TempDir(), nginx.Balancer, bad, good)
	if ns != nil {
		t.Cleanup(func() { _ = ns.Stop() })
	}
	require.NoError(t, err)
	s, err := spec.Parse("balanced.yaml", []byte(balancedSpec))
	require.NoError(t, err)

	var st collect
	cn, err := New(Config{Spec: s, Instances: []string{ns.URL()}, Rate: 200, MaxDuration: 30 * time.Second,
		MinProbes: 20, Sink: st.sink})
	require.NoError(t, err)
	srv := httptest.NewServer(cn.Handler())
	defer srv.Close()
	stop := start(t, cn)
	defer stop()
	served := func(v Verdict, b string) BackendCount {
		for _, c := range v.Instances[0].Backends {
			if c.Backend == b {
				return c
			}
		}
		return BackendCount{}
	}
	waitFor(t, 20*time.Second, "no leak seen through the balancer, or one build never answered", func() bool {
		v := cn.Verdict()
		return v.Leaks > 1 && served(v, good).Responses >= 20
	})
	m := get(t, srv.URL+"/metrics")
	out := stop()
	v := cn.Verdict()
	t.Logf("backends: %+v", v.Instances[0].Backends)
	require.Len(t, v.Instances, 1)
	assert.Equal(t, ns.Addr, v.Instances[0].Instance, "the canary probed the balancer")
	assert.Equal(t, harness.Leak, out.Verdict)
	assert.Positive(t, served(v, bad).Leaks)
	assert.Positive(t, served(v, bad).Responses)
	assert.Zero(t, served(v, good).Leaks, "the correct build never leaked")
	assert.Len(t, v.Instances[0].Backends, 2, "every response named one of the two builds")
	require.NotNil(t, v.FirstLeak)
	assert.Equal(t, bad, v.FirstLeak.Backend)
	assert.Equal(t, ns.Addr, v.FirstLeak.Instance)

	// The stream: every finding names the lastlogin build as nginx wrote it.
	fs := st.of(harness.RecordFinding)
	require.NotEmpty(t, fs)
	for _, f := range fs {
		assert.Equal(t, bad, f.Finding.Backend)
	}

	// The metrics: the leak counter rises on the lastlogin build's label
	// alone; the correct build's series exist at zero.
	body := string(m.body)
	sum := func(b string) (n float64, series int) {
		re := regexp.MustCompile(`(?m)^` + MetricFindings + `\{backend="` + regexp.QuoteMeta(b) + `",kind="[a-z]+"\} (\S+)$`)
		for _, g := range re.FindAllStringSubmatch(body, -1) {
			x, err := strconv.ParseFloat(g[1], 64)
			require.NoError(t, err)
			n += x
			series++
		}
		return n, series
	}
	nb, _ := sum(bad)
	ng, series := sum(good)
	assert.Positive(t, nb, "findings on %s", bad)
	assert.Zero(t, ng)
	assert.Equal(t, len(markerKinds), series, "the correct build's series exist, at zero")
	assert.Contains(t, body, fmt.Sprintf(`%s{backend=%q}`, MetricResponses, good))
}
