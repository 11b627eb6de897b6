package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if binDir != "" {
			os.RemoveAll(binDir) // the built binary: 17 MB a run otherwise
		}
		os.Exit(code)
	}))
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// binary builds crosstalk once per test run, without -race: the end-to-end
// tests measure the product, and the race detector would slow the target
// ten-fold.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crosstalk-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binDir, binPath = dir, filepath.Join(dir, "crosstalk")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

type result struct {
	code           int
	stdout, stderr string
}

func crosstalk(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, out.String(), errb.String()}
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// serve starts "crosstalk serve" on a free loopback port and returns its URL.
// It is stopped with SIGINT when the test ends, as Ctrl-C would.
func serve(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	urls := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		<-drained
		assert.NoError(t, cmd.Wait(), "serve exits cleanly on Ctrl-C")
	})
	select {
	case u := <-urls:
		return u
	case <-drained:
		t.Fatal("serve exited before listening")
	case <-time.After(time.Minute):
		t.Fatal("serve did not say where it listens within a minute")
	}
	return ""
}

const webmailSpec = "../../targets/webmail/webmail.yaml"

func TestRunFindsLastLoginAgainstServe(t *testing.T) {
	url := serve(t, "-bug", "lastlogin")
	out := filepath.Join(t.TempDir(), "results.jsonl")
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-requests", "20000", "-o", out)
	require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "LEAK")
	assert.Regexp(t, `user\d+ saw user\d+'s profile`, r.stdout, "the report names viewer and owner")
	assert.Contains(t, r.stdout, "GET /profile", "the report names the request")
	assert.Contains(t, r.stderr, "the sequential baseline did not leak")

	again := crosstalk(t, "report", "-in", out)
	require.Equal(t, 0, again.code, again.stderr)
	assert.Equal(t, r.stdout, again.stdout, "report renders the saved stream exactly as run printed it")
}

func TestRunIsolatedAgainstFixedServe(t *testing.T) {
	url := serve(t, "-bug", "none")
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-requests", "100000", "-format", "json")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, `"verdict": "isolated"`)
	m := regexp.MustCompile(`"requests": (\d+)`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	assert.GreaterOrEqual(t, len(m[1]), 6, "at least 100,000 requests: %s", m[1])
	assert.Contains(t, r.stdout, `"coverage": {`)
}

// The cache-key defect leaks without any concurrency, and run says so; -v
// lists what was learned.
func TestRunSaysTheSequentialBaselineLeaked(t *testing.T) {
	url := serve(t, "-bug", "cachekey")
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-requests", "200", "-v")
	require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `the sequential baseline already leaked: \d+ responses carried another user's data without any concurrency`, r.stderr)
	assert.Regexp(t, `sequential baseline: \d+ leaks? without any concurrency`, r.stdout)
	assert.Regexp(t, `learned markers: \d+\n  user\d+ +"`, r.stderr)
}

func TestUnreachableTargetExits3(t *testing.T) {
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", "http://127.0.0.1:1", "-requests", "10")
	assert.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stdout, "cannot reach the target http://127.0.0.1:1")
}

func TestBadSpecExits2WithFileLineField(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("base_url: http://127.0.0.1:1\nusers:\n  list:\n    - login: a\n    - login: b\nlogin: {type: none}\nrequests:\n  - name: x\n    path: /x\n    weight: 0\n"), 0o644))
	r := crosstalk(t, "run", "-target", bad)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, bad+":10:")
	assert.Contains(t, r.stderr, "requests[0].weight")
	assert.NotContains(t, r.stderr, "goroutine", "no stack trace")
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	for _, c := range commands() {
		r := crosstalk(t, c.name, "-h")
		assert.Equal(t, 0, r.code, c.name)
		assert.Contains(t, r.stderr, "Examples:", c.name)
		assert.Contains(t, r.stderr, "crosstalk "+c.name, c.name)
	}
	r := crosstalk(t, "nonsense")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "unknown command")
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "-target", webmailSpec, "-format", "pdf"},
		{"run", "-target", "does-not-exist.yaml"},
		{"run", "-target", webmailSpec, "-burst", "1"},
		{"serve", "-bug", "nosuchbug"},
		{"report"},
		{"report", "-in", "does-not-exist.jsonl"},
		{"run", "-bogus-flag"},
	} {
		r := crosstalk(t, args...)
		assert.Equal(t, 2, r.code, strings.Join(args, " ")+"\n"+r.stderr)
		assert.NotContains(t, r.stderr, "panic", strings.Join(args, " "))
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	r := crosstalk(t, "demo", "-out", dir)
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, `LEAK FOUND .*: user\d+ sent GET /profile and the response carried user\d+'s data`, r.stdout)
	assert.Contains(t, r.stdout, "ISOLATED")
	assert.Regexp(t, `the fixed one is isolated, with coverage \d+(\.\d)?%: \d+ of \d+ responses carried their viewer's own data`, r.stdout)
	assert.Contains(t, r.stdout, "Coverage (responses that carried their viewer's own data)")
	assert.Contains(t, r.stdout, "Results written to "+dir)
	for _, f := range []string{"lastlogin.jsonl", "lastlogin.txt", "fixed.jsonl", "fixed.txt"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
}
