package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// inProcess runs a command in this process, as main would, bounded in time.
func inProcess(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code := dispatch(ctx, &env{stdout: &out, stderr: &errb}, args)
	return result{code, out.String(), errb.String()}
}

// webmailAt serves the fixed webmail on a loopback address of the test,
// wrapped by seen, which sees every request first.
func webmailAt(t *testing.T, host string, seen func(*http.Request)) string {
	t.Helper()
	srv, err := webmail.New(webmail.Options{Bug: webmail.BugNone, Users: 2})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			seen(r)
		}
		srv.ServeHTTP(w, r)
	}))
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL
}

// twoUserSpec writes a copy of the webmail spec with two users, pointing at
// base, and returns its path.
func twoUserSpec(t *testing.T, dir, base string) string {
	t.Helper()
	src, err := os.ReadFile(webmailSpec)
	require.NoError(t, err)
	y := strings.Replace(string(src), "base_url: http://127.0.0.1:8080", "base_url: "+base, 1)
	y = strings.Replace(y, "count: 8", "count: 2", 1)
	require.NotEqual(t, string(src), y)
	path := filepath.Join(dir, "webmail.yaml")
	require.NoError(t, os.WriteFile(path, []byte(y), 0o600))
	return path
}

// A plan file is shared and committed; edited to point at another host, it
// must not make replay send that host every user's password.
func TestReplayRefusesAPlanThatPointsElsewhere(t *testing.T) {
	var hostile atomic.Int64
	var forms sync.Map
	evil := webmailAt(t, "127.0.0.2", func(r *http.Request) {
		hostile.Add(1)
		if r.URL.Path == "/login" {
			_ = r.ParseForm()
			forms.Store(r.PostForm.Get("login"), r.PostForm.Get("password"))
		}
	})
	good := webmailAt(t, "127.0.0.1", nil)
	dir := t.TempDir()
	twoUserSpec(t, dir, good)
	f := &fuzz.File{Version: fuzz.FileVersion, Spec: "webmail.yaml", SpecName: "webmail", BaseURL: evil, Sync: harness.SyncBarrier,
		Plan: harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}}}}}
	planPath := filepath.Join(dir, "leak.json")
	require.NoError(t, f.WriteFile(planPath))

	r := inProcess(t, "replay", "-plan", planPath, "-n", "2", "-yield=false")
	assert.Equal(t, harness.ExitUsage, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Zero(t, hostile.Load(), "the host the plan names received requests")
	forms.Range(func(k, v any) bool { t.Errorf("the plan's host got %v's password %v", k, v); return true })
	assert.Contains(t, r.stderr, evil, "the refusal names the plan's URL")
	assert.Contains(t, r.stderr, good, "and the spec's")

	// The spec's URL, or a -url given, is where it goes.
	f.BaseURL = good
	require.NoError(t, f.WriteFile(planPath))
	r = inProcess(t, "replay", "-plan", planPath, "-n", "2", "-yield=false")
	assert.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Zero(t, hostile.Load())
}

// A password in -url must reach neither the stream, stdout, stderr, any
// report format, nor a saved plan.
func TestURLPasswordIsNeverShownOrSaved(t *testing.T) {
	const pw = "s3cret-url-pw"
	base := webmailAt(t, "127.0.0.1", nil)
	withPW := strings.Replace(base, "http://", "http://ops:"+pw+"@", 1)
	dir := t.TempDir()
	specPath := twoUserSpec(t, dir, "http://127.0.0.1:1")
	stream := filepath.Join(dir, "results.jsonl")

	r := inProcess(t, "run", "-target", specPath, "-url", withPW, "-requests", "40", "-o", stream, "-sync", "barrier")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.NotContains(t, r.stdout+r.stderr, pw)
	data, err := os.ReadFile(stream)
	require.NoError(t, err)
	assert.Contains(t, string(data), base, "the stream names the target, without its user info")
	assert.NotContains(t, string(data), pw)
	for _, format := range []string{"text", "json", "junit", "markdown"} {
		out := filepath.Join(dir, "report."+format)
		r := inProcess(t, "report", "-in", stream, "-format", format, "-o", out)
		require.Equal(t, 0, r.code, r.stderr)
		b, err := os.ReadFile(out)
		require.NoError(t, err)
		assert.NotContains(t, string(b), pw, format)
	}

	r = inProcess(t, "fuzz", "-target", specPath, "-url", withPW, "-plans", "1", "-min-steps", "2", "-max-steps", "2", "-dir", "", "-yield=false")
	assert.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "at "+base)
	assert.NotContains(t, r.stdout+r.stderr, pw)

	f := &fuzz.File{Version: fuzz.FileVersion, SpecName: "webmail", BaseURL: withPW, Sync: harness.SyncBarrier,
		Plan: harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user1", Request: "profile"}}}}}}
	plan := filepath.Join(dir, "plan.json")
	require.NoError(t, f.WriteFile(plan))
	b, err := os.ReadFile(plan)
	require.NoError(t, err)
	assert.NotContains(t, string(b), pw)
}

// A -url with a query sends it with every request, the login included,
// instead of dropping it.
func TestURLQueryReachesEveryRequest(t *testing.T) {
	var with, without atomic.Int64
	base := webmailAt(t, "127.0.0.1", func(r *http.Request) {
		if r.URL.Query().Get("env") == "blue" {
			with.Add(1)
		} else {
			without.Add(1)
		}
	})
	specPath := twoUserSpec(t, t.TempDir(), "http://127.0.0.1:1")
	r := inProcess(t, "run", "-target", specPath, "-url", base+"/?env=blue", "-requests", "20", "-sync", "barrier")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Positive(t, with.Load())
	assert.Zero(t, without.Load(), "requests without the -url query")
}

func TestEvidenceFilesAreOwnerOnlyAndDoNotFollowSymlinks(t *testing.T) {
	base := webmailAt(t, "127.0.0.1", nil)
	dir := t.TempDir()
	specPath := twoUserSpec(t, dir, base)
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep me"), 0o644))
	stream := filepath.Join(dir, "results.jsonl")
	require.NoError(t, os.Symlink(victim, stream))
	report := filepath.Join(dir, "report.txt")
	require.NoError(t, os.Symlink(victim, report))

	r := inProcess(t, "run", "-target", specPath, "-requests", "20", "-o", stream, "-sync", "barrier")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	r = inProcess(t, "report", "-in", stream, "-o", report)
	require.Equal(t, 0, r.code, r.stderr)
	for _, p := range []string{stream, report} {
		st, err := os.Lstat(p)
		require.NoError(t, err)
		assert.True(t, st.Mode().IsRegular(), "%s is still a symlink", p)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
	}
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(b), "written through the symlink")
}

func TestServeRefusesPublicAddressesAndZeroUsers(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "-addr", "0.0.0.0:0"},
		{"serve", "-addr", ":0"},
		{"serve", "-addr", "[::]:0"},
		{"serve", "-users", "0"},
		{"serve", "-users", "-3"},
		{"serve", "-users", "100000"},
	} {
		// Already cancelled: a serve that wrongly starts stops at once
		// instead of listening for the length of the test.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out, errb bytes.Buffer
		code := dispatch(ctx, &env{stdout: &out, stderr: &errb}, args)
		assert.Equal(t, harness.ExitUsage, code, "%v: %s", args, errb.String())
		assert.NotContains(t, errb.String(), "listening", "%v", args)
		if args[1] == "-addr" {
			assert.Contains(t, errb.String(), "-public", "%v", args)
		}
	}
}

func TestWarnsOnceWhenCredentialsGoInTheClear(t *testing.T) {
	s := &spec.Spec{BaseURL: "http://192.0.2.10:8080", Login: spec.Login{Type: spec.LoginForm}}
	var b bytes.Buffer
	warnCleartext(&env{stderr: &b}, s)
	assert.Equal(t, 1, strings.Count(b.String(), "warning"), b.String())
	for _, quiet := range []*spec.Spec{
		{BaseURL: "https://192.0.2.10", Login: spec.Login{Type: spec.LoginForm}},
		{BaseURL: "http://127.0.0.1:8080", Login: spec.Login{Type: spec.LoginForm}},
		{BaseURL: "http://[::1]:8080", Login: spec.Login{Type: spec.LoginBasic}},
		{BaseURL: "http://localhost:8080", Login: spec.Login{Type: spec.LoginBearer}},
		{BaseURL: "http://192.0.2.10", Login: spec.Login{Type: spec.LoginNone}},
	} {
		b.Reset()
		warnCleartext(&env{stderr: &b}, quiet)
		assert.Empty(t, b.String(), quiet.BaseURL)
	}
}

// With -budget alone the budget decides when a fruitless search ends, and
// the summary says which bound stopped it.
func TestFuzzSaysWhichBoundStoppedIt(t *testing.T) {
	base := webmailAt(t, "127.0.0.1", nil)
	specPath := twoUserSpec(t, t.TempDir(), base)
	args := []string{"fuzz", "-target", specPath, "-min-steps", "2", "-max-steps", "2", "-dir", "", "-yield=false"}
	r := inProcess(t, append(args, "-budget", "1500ms")...)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "(-budget 1.5s ran out)")

	r = inProcess(t, append(args, "-budget", "1m", "-plans", "3")...)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "no leak: 3 random plans")
	assert.Contains(t, r.stdout, "-plans 3 reached")
}

// -cache-bust reaches the target on fuzz's and replay's bursts.
func TestCacheBustFlag(t *testing.T) {
	var busted atomic.Int64
	base := webmailAt(t, "127.0.0.1", func(r *http.Request) {
		if r.URL.Query().Get("ctbust") != "" {
			busted.Add(1)
		}
	})
	specPath := twoUserSpec(t, t.TempDir(), base)
	r := inProcess(t, "fuzz", "-target", specPath, "-min-steps", "2", "-max-steps", "2", "-plans", "3", "-dir", "", "-yield=false", "-cache-bust", "ctbust")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Positive(t, busted.Load(), "fuzz")

	busted.Store(0)
	f := &fuzz.File{Version: fuzz.FileVersion, Spec: specPath, SpecName: "webmail", Sync: harness.SyncBarrier,
		Plan: harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}}}}}
	plan := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, f.WriteFile(plan))
	r = inProcess(t, "replay", "-plan", plan, "-n", "2", "-yield=false", "-cache-bust", "ctbust")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Positive(t, busted.Load(), "replay")
	r = inProcess(t, "replay", "-plan", plan, "-n", "1", "-cache-bust", "bad name")
	assert.Equal(t, harness.ExitUsage, r.code, r.stderr)
}
