package canary

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/targets/webmail"
)

// taggedBuild is a webmail build that says in a header which build it is,
// so that a test can see where the front sent a read.
func taggedBuild(buggy bool) (http.Handler, func(), error) {
	w, err := webmail.New(webmail.Options{Seed: 1})
	if err != nil {
		return nil, nil, err
	}
	tag := "correct"
	if buggy {
		tag = "leaking"
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Build", tag)
		w.ServeHTTP(rw, r)
	}), w.Close, nil
}

const childShapeEnv = "CROSSTALK_TEST_ROLLOUT_CHILD"

// TestRolloutChild is not a test: it is the child process of the tests
// below, serving a rollout over its standard input and output.
func TestRolloutChild(t *testing.T) {
	shape := os.Getenv(childShapeEnv)
	if shape == "" {
		t.Skip("the child process of TestProcessRollout")
	}
	var sh Shape
	require.NoError(t, json.Unmarshal([]byte(shape), &sh))
	if err := ServeRollout(taggedBuild, sh, os.Stdin, os.Stdout); err != nil {
		os.Stderr.WriteString("child: " + err.Error() + "\n")
		os.Exit(1)
	}
}

func childLaunch() Launch {
	return ProcessLaunch(func(sh Shape) *exec.Cmd {
		b, _ := json.Marshal(sh)
		cmd := exec.Command(os.Args[0], "-test.run=^TestRolloutChild$")
		cmd.Env = append(os.Environ(), childShapeEnv+"="+string(b))
		return cmd
	})
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

// A rollout in a process of its own lists its instances, sends the reads of
// one of them to the leaking build from Start on and of no other, and ends
// when closed.
func TestProcessRolloutSwitchesOneInstanceAtStart(t *testing.T) {
	for _, launch := range []struct {
		name string
		l    Launch
	}{{"process", childLaunch()}, {"inline", LocalLaunch(taggedBuild)}} {
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

// A child that cannot serve its rollout is an error that quotes it.
func TestProcessRolloutQuotesAChildThatFails(t *testing.T) {
	_, err := childLaunch()(context.Background(), Shape{Mode: "sideways", Share: 0.5})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rollout mode "sideways"`)
}
