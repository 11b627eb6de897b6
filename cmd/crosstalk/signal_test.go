package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// watchedWebmail serves the fixed webmail and announces on the returned
// channel the first time two requests are in flight at once: a burst,
// since setup requests go one at a time. With hang set, every request of a
// burst then waits until the test ends, as on a hung target.
func watchedWebmail(t *testing.T, hang bool) (string, <-chan struct{}) {
	srv, err := webmail.New(webmail.Options{Bug: webmail.BugNone, Users: 8, Seed: 1})
	require.NoError(t, err)
	burst := make(chan struct{})
	stop := make(chan struct{})
	var once, stopOnce sync.Once
	var inFlight atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer inFlight.Add(-1)
		if inFlight.Add(1) >= 2 {
			once.Do(func() { close(burst) })
			if hang {
				<-stop
				return
			}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { stopOnce.Do(func() { close(stop) }); ts.Close() })
	return ts.URL, burst
}

// startRun starts "crosstalk run" with a result stream and returns the
// command and the stream's path.
func startRun(t *testing.T, url string, extra ...string) (*exec.Cmd, string) {
	out := filepath.Join(t.TempDir(), "results.jsonl")
	args := append([]string{"run", "-target", webmailSpec, "-url", url, "-duration", "2m", "-sync", "barrier", "-o", out}, extra...)
	cmd := exec.Command(binary(t), args...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not happen within a minute", what)
	}
}

func streamTypes(t *testing.T, path string) []harness.RecordType {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var types []harness.RecordType
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r harness.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "line %q", sc.Text())
		types = append(types, r.Type)
	}
	return types
}

// SIGHUP (the terminal closed) stops a run as Ctrl-C does: the stream ends
// with its verdict and the exit code is the verdict's.
func TestSIGHUPLeavesAVerdict(t *testing.T) {
	url, burst := watchedWebmail(t, false)
	cmd, out := startRun(t, url)
	waitFor(t, burst, "a burst")
	require.NoError(t, cmd.Process.Signal(syscall.SIGHUP))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "an isolated-so-far run cut short is inconclusive, not exit 0")
	assert.Equal(t, harness.ExitInconclusive, ee.ExitCode(), "killed by the signal instead: %v", ee)
	types := streamTypes(t, out)
	require.NotEmpty(t, types)
	assert.Equal(t, harness.RecordHeader, types[0])
	assert.Equal(t, harness.RecordVerdict, types[len(types)-1])
}

// The header is on disk as soon as the bursts begin: a run killed while a
// burst waits on a hung target (a second Ctrl-C, SIGKILL) leaves a stream
// that says what was tested, not an empty file.
func TestHeaderIsFlushedAtOnce(t *testing.T) {
	url, burst := watchedWebmail(t, true)
	cmd, out := startRun(t, url)
	waitFor(t, burst, "a burst")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	types := streamTypes(t, out)
	require.NotEmpty(t, types, "the stream was empty")
	assert.Equal(t, harness.RecordHeader, types[0])
}

// fuzz's -budget bounds its setup, as run's -duration does: against a login
// that hangs for good, a 1 s budget used to wait out the 10 s timeout once
// per user.
func TestFuzzSetupIsBoundedByTheBudget(t *testing.T) {
	stop := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	t.Cleanup(func() { close(stop); ts.Close() })
	raw, err := os.ReadFile(webmailSpec)
	require.NoError(t, err)
	spec := filepath.Join(t.TempDir(), "slow.yaml")
	require.NoError(t, os.WriteFile(spec, append(raw, "\nlimits: {timeout: 10s}\n"...), 0o600))
	start := time.Now()
	r := crosstalk(t, "fuzz", "-target", spec, "-url", ts.URL, "-budget", "1s", "-dir", "", "-yield=false")
	assert.Equal(t, harness.ExitInconclusive, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Less(t, time.Since(start), 10*time.Second, "the setup waited out a whole timeout")
}
