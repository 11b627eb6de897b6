package canary

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/targets/webmail"
)

// taggedBuild is one build of the simulated rollout, the webmail with the
// 2008 defect or without, and says in a header which it is, so that a test
// can see where the front sent a read.
func taggedBuild(buggy bool) (http.Handler, func(), error) {
	bug, tag := webmail.BugNone, "correct"
	if buggy {
		bug, tag = webmail.BugLastLogin, "leaking"
	}
	w, err := webmail.New(webmail.Options{Bug: bug, Work: webmail.DefaultWork, Seed: 1})
	if err != nil {
		return nil, nil, err
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Build", tag)
		w.ServeHTTP(rw, r)
	}), w.Close, nil
}

const childEnv = "CROSSTALK_TEST_ROLLOUT_CHILD"

// TestRolloutChild is not a test: it is the child process of the tests
// below, serving rollouts over its standard input and output.
func TestRolloutChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the child process of TestProcessRollout")
	}
	if err := ServeRollouts(taggedBuild, os.Stdin, os.Stdout); err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		os.Exit(1)
	}
}

func startChild(t *testing.T) *RolloutProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRolloutChild$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	p, err := StartRolloutProcess(cmd)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

// whichBuild logs user1 in through the instance at base and reports which
// build served its profile.
func whichBuild(t *testing.T, base string) string {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	r, err := c.PostForm(base+"/login", url.Values{"login": {"user1"}, "password": {"pw-user1"}})
	require.NoError(t, err)
	r.Body.Close()
	r, err = c.Get(base + "/profile")
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusOK, r.StatusCode, "a login through the front must hold on the build its reads go to")
	return r.Header.Get("X-Build")
}

// A rollout, in a process of its own or in this one, lists its instances,
// sends the reads of one of them to the leaking build from Start on and of
// no other, and ends when closed; the process then serves the next trial.
func TestProcessRolloutSwitchesOneInstanceAtStart(t *testing.T) {
	child := startChild(t)
	for _, launch := range []struct {
		name string
		l    Launch
	}{{"process", child.Launch}, {"process, next trial", child.Launch}, {"inline", LocalLaunch(taggedBuild)}} {
		t.Run(launch.name, func(t *testing.T) {
			ro, err := launch.l(context.Background(), Shape{Mode: ModeInstance, Share: 0.5})
			require.NoError(t, err)
			urls := ro.Instances()
			require.Len(t, urls, 2, "round(1/share) instances")
			for _, u := range urls {
				assert.Equal(t, "correct", whichBuild(t, u), "before T0")
			}
			require.NoError(t, ro.Start())
			assert.Equal(t, "leaking", whichBuild(t, urls[0]), "the first instance after T0")
			assert.Equal(t, "correct", whichBuild(t, urls[1]), "every other instance after T0")
			require.NoError(t, ro.Close())
			_, err = http.Get(urls[0] + "/login")
			assert.Error(t, err, "a closed rollout serves nothing")
		})
	}
}

// A rollout the child cannot serve is an error that quotes it, and the
// child serves the next one.
func TestProcessRolloutQuotesAChildThatFails(t *testing.T) {
	child := startChild(t)
	_, err := child.Launch(context.Background(), Shape{Mode: "sideways", Share: 0.5})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rollout mode "sideways"`)
	ro, err := child.Launch(context.Background(), Shape{Correct: 2})
	require.NoError(t, err)
	assert.Len(t, ro.Instances(), 2)
	require.NoError(t, ro.Close())
}

// By default each instance gets h2 where it speaks HTTP/2 and lastbyte
// where it does not; a configured strategy is kept everywhere.
func TestDefaultSyncIsChosenPerInstance(t *testing.T) {
	ro, err := LocalLaunch(taggedBuild)(context.Background(), Shape{Correct: 1, H2: true})
	require.NoError(t, err)
	defer ro.Close()
	h1 := httptest.NewServer(http.NotFoundHandler())
	defer h1.Close()
	assert.Equal(t, syncH2, pickSync(ro.Instances()[0], &Config{}))
	assert.Equal(t, "lastbyte", pickSync(h1.URL, &Config{}))
	assert.Equal(t, "barrier", pickSync(ro.Instances()[0], &Config{Sync: "barrier"}))
}

// A share too small for a trial to serve is refused before anything starts.
func TestRolloutRefusesTooManyInstances(t *testing.T) {
	for _, sh := range []Shape{{Mode: ModeInstance, Share: 0.001}, {Correct: 1000}} {
		_, err := LocalLaunch(taggedBuild)(context.Background(), sh)
		require.ErrorIs(t, err, ErrConfig, "%+v", sh)
		assert.Contains(t, err.Error(), "at most 100 instances")
	}
}
