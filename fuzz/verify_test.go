package fuzz

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// fakeTB records what VerifyIsolation reports instead of failing the test.
type fakeTB struct {
	errors, logs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Logf(format string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }

func loadWebmailSpec(t *testing.T) *spec.Spec {
	t.Helper()
	s, err := spec.Load("../targets/webmail/webmail.yaml")
	require.NoError(t, err)
	return s
}

func newWebmail(t testing.TB, bug webmail.Bug) *webmail.Server {
	t.Helper()
	srv, err := webmail.New(webmail.Options{Bug: bug, Work: webmail.DefaultWork, Seed: 1})
	require.NoError(t, err)
	return srv
}

// webmailMaker is the constructor VerifyIsolation takes; made counts its
// calls.
func webmailMaker(t testing.TB, bug webmail.Bug, made *int) func() http.Handler {
	return func() http.Handler {
		if made != nil {
			*made++
		}
		return newWebmail(t, bug)
	}
}

func TestVerifyIsolationFailsOnLastLogin(t *testing.T) {
	tb := &fakeTB{}
	dir := t.TempDir()
	res := VerifyIsolation(tb, webmailMaker(t, webmail.BugLastLogin, nil), loadWebmailSpec(t),
		WithSeed(1), WithBudget(time.Minute), WithMeasure(10), WithDir(dir))
	require.Len(t, tb.errors, 1, "logs: %v", tb.logs)
	require.NotNil(t, res)
	require.True(t, res.Found)
	msg := tb.errors[0]
	assert.Contains(t, msg, "webmail leaks across users")
	assert.Contains(t, msg, "/profile")
	assert.Contains(t, msg, `"request": "profile"`, "the report carries the minimal plan")
	assert.Contains(t, msg, "reproduced in")
	assert.LessOrEqual(t, res.Shrink.Plan.Len(), res.Original.Len())
	saved, problems := LoadSaved(dir, "webmail")
	require.Empty(t, problems)
	require.Len(t, saved, 1, "the failing plan is kept for the next run")

	// The next run re-runs the saved plan first (see TestSearchRerunsSavedPlansFirst
	// for the order); either way it fails again.
	tb = &fakeTB{}
	res = VerifyIsolation(tb, webmailMaker(t, webmail.BugLastLogin, nil), loadWebmailSpec(t),
		WithSeed(1000), WithBudget(time.Minute), WithMeasure(5), WithDir(dir))
	require.Len(t, tb.errors, 1)
	require.True(t, res.Found)
}

func TestVerifyIsolationPassesOnNone(t *testing.T) {
	made := 0
	res := VerifyIsolation(t, webmailMaker(t, webmail.BugNone, &made), loadWebmailSpec(t), WithSeed(1), WithPlans(20))
	require.NotNil(t, res)
	assert.False(t, res.Found)
	assert.Equal(t, 20, res.Plans)
	assert.Equal(t, 20, made, "one handler for the setup and the first plan, a new one for each of the other 19")
}

// With a new handler for every execution, a session that one execution's
// concurrent logins collided cannot leak into the next, so the minimal plan
// keeps its cause: two logins in one burst.
func TestVerifyIsolationFailsOnSessionMixWithLogins(t *testing.T) {
	tb := &fakeTB{}
	made := 0
	// The id's window is widened to 1 ms: this test is about what survives
	// the shrink, and go test runs other packages on the same cores.
	newServer := func() http.Handler {
		made++
		srv, err := webmail.New(webmail.Options{Bug: webmail.BugSessionMix, Work: time.Millisecond, Seed: 1})
		require.NoError(t, err)
		return srv
	}
	res := VerifyIsolation(tb, newServer, loadWebmailSpec(t),
		WithSeed(1), WithBudget(45*time.Second), WithMeasure(10), WithDir(""))
	require.NotNil(t, res, "logs: %v", tb.logs)
	require.True(t, res.Found, "logs: %v", tb.logs)
	require.Len(t, tb.errors, 1)
	assert.Greater(t, made, 2, "a handler per execution")
	assert.GreaterOrEqual(t, loginsInOneBurst(res.Shrink.Plan), 2, "the minimal plan keeps the concurrent logins: %+v", res.Shrink.Plan)
	assert.Contains(t, tb.errors[0], "reset before each run (a new handler)")
}

// loginsInOneBurst is the most login steps any burst of p has.
func loginsInOneBurst(p harness.Plan) int {
	most := 0
	for _, b := range p.Bursts {
		n := 0
		for _, st := range b.Steps {
			if st.Request == harness.LoginStep {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// FuzzIsolationNone is the go test -fuzz entry point on the correct
// webmail; plain go test runs its seed corpus.
func FuzzIsolationNone(f *testing.F) {
	s, err := spec.Load("../targets/webmail/webmail.yaml")
	require.NoError(f, err)
	FuzzHandler(f, newWebmail(f, webmail.BugNone), s)
}

// The emitted regression test, compiled and run by go test in a package of
// its own inside this module, fails against lastlogin and passes against
// none.
func TestEmittedTestFailsOnLastLoginAndPassesOnNone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs another test binary")
	}
	f, err := ParseFile([]byte(goodPlan))
	require.NoError(t, err)
	f.Plan.Bursts = f.Plan.Bursts[:1]
	f.Plan.Bursts[0].Steps = f.Plan.Bursts[0].Steps[:2]
	f.Plan.Bursts[0].Steps[1].Offset, f.Plan.Bursts[0].Steps[1].CancelAfter = 0, 0
	// Inside the module, so the emitted test builds against this very code;
	// under testdata, so ./... never picks it up. A fresh clone has no
	// testdata folder here yet.
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	dir, err := os.MkdirTemp("testdata", "emitted-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	src, err := EmitTest(f, EmitOptions{Package: "emitted_test", SpecPath: "../../../targets/webmail/webmail.yaml", Runs: 200})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "regression_test.go"), src, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "handler_test.go"), []byte(`package emitted_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/crosstalk/crosstalk/targets/webmail"
)

func crosstalkHandler(t testing.TB) http.Handler {
	srv, err := webmail.New(webmail.Options{Bug: webmail.Bug(os.Getenv("CROSSTALK_BUG")), Work: webmail.DefaultWork})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}
`), 0o644))
	run := func(bug string) (string, error) {
		cmd := exec.Command("go", "test", "-count=1", "./"+filepath.ToSlash(dir))
		cmd.Env = append(os.Environ(), "CROSSTALK_BUG="+bug)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("lastlogin")
	require.Error(t, err, out)
	assert.Contains(t, out, "the plan leaked another user's data")
	out, err = run("none")
	require.NoError(t, err, out)
	assert.True(t, strings.HasPrefix(out, "ok"), out)
}

func TestEmitTestRejectsBadNames(t *testing.T) {
	f, err := ParseFile([]byte(goodPlan))
	require.NoError(t, err)
	_, err = EmitTest(f, EmitOptions{Package: "not a package"})
	assert.Error(t, err)
	_, err = EmitTest(f, EmitOptions{Handler: "x-y"})
	assert.Error(t, err)
	src, err := EmitTest(f, EmitOptions{})
	require.NoError(t, err)
	assert.Contains(t, string(src), "func TestCrosstalkWebmail6(t *testing.T)")
	assert.Contains(t, string(src), `spec.Load("targets/webmail/webmail.yaml")`)
}
