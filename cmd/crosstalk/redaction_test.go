package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/reports"
)

// leakySecrets is a target whose leaks carry every kind of credential: its
// pages show their owner's password, session cookie, bearer token and the
// Authorization header and -H header the request came with. /api/peek
// shows the other user's page on every call; /api/me shows the caller's
// own, except right after someone logged in again: the next other user to
// ask gets the page of whoever re-logged in, with the token that re-login
// issued. Issued lists every credential it handed out.
type leakySecrets struct {
	mu        sync.Mutex
	logins    int
	pending   string            // who re-logged in, until another user's /api/me
	tokens    map[string]string // token → user
	tok, sid  map[string]string // user → current token, cookie
	issued    []string
	passwords map[string]string
}

const waf = "waf-bypass-7f3a9c2e"

func newLeakySecrets(t *testing.T) (*leakySecrets, string) {
	ls := &leakySecrets{tokens: map[string]string{}, tok: map[string]string{}, sid: map[string]string{},
		passwords: map[string]string{"alice": "pw-alice-Hunter2x", "bob": "pw-bob-Tr0ub4dor"}}
	other := map[string]string{"alice": "bob", "bob": "alice"}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		if r.URL.Path == "/api/login" {
			var in struct{ User, Pass string }
			if json.NewDecoder(r.Body).Decode(&in) != nil || ls.passwords[in.User] == "" || in.Pass != ls.passwords[in.User] {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			tok, sid := "tk"+rand.Text(), "sd"+rand.Text()
			ls.tokens[tok], ls.tok[in.User], ls.sid[in.User] = in.User, tok, sid
			ls.issued = append(ls.issued, tok, sid)
			if ls.logins++; ls.logins > len(ls.passwords) {
				ls.pending = in.User
			}
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid})
			_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
			return
		}
		auth := r.Header.Get("Authorization")
		user, ok := ls.tokens[strings.TrimPrefix(auth, "Bearer ")]
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		shown := user
		switch {
		case r.URL.Path == "/api/peek":
			shown = other[user]
		case r.URL.Path == "/api/me" && ls.pending != "" && ls.pending != user:
			shown, ls.pending = ls.pending, ""
		case r.URL.Path != "/api/me":
			http.NotFound(w, r)
			return
		}
		cookie, _ := r.Cookie("sid")
		// Every credential within an excerpt's reach of the owner's name.
		page := fmt.Sprintf("X-Waf: %s pw %s %s Authorization: Bearer %s Cookie: sid=%s\n"+
			"<p>token %s, cookie %s</p>\n<p>private notes of %s</p>",
			r.Header.Get("X-Waf"), ls.passwords[shown], shown, ls.tok[shown], ls.sid[shown], ls.tok[shown], ls.sid[shown], shown)
		if shown == user && cookie != nil {
			page += "\nyour cookie " + cookie.Value + " and your header " + auth
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(ts.Close)
	return ls, ts.URL
}

const leakySpec = `
name: leaky-secrets
base_url: %s
users:
  list:
    - {login: alice, password: pw-alice-Hunter2x, email: alice@secrets.test}
    - {login: bob, password: pw-bob-Tr0ub4dor, email: bob@secrets.test}
login:
  type: json
  path: /api/login
  body: '{"user":"{{login}}","pass":"{{password}}"}'
  session: token
  token: {json: "$.token"}
  auth_header: "Authorization: Bearer {{token}}"
learn: false
requests:
  - {name: me, path: /api/me, data: notes}
%s`

// formatNames lists every report format the reports package offers, so
// that a format added there is swept here without a change.
func formatNames(t *testing.T) []string {
	names := reports.Names()
	require.Contains(t, names, "text")
	return names
}

// No password, session cookie, bearer token or Authorization header, nor a
// -H value, reaches any output: the run's summary, the -trace stream, every
// report format rendered from it, fuzz's output, its plan file and the test
// it emits. The target leaks all of them, those issued by re-logins during
// fuzz's plans included, so the evidence is full of them.
func TestNoSecretInAnyOutput(t *testing.T) {
	// One target each, so that the run's logins do not count as re-logins
	// in fuzz's setup.
	lsRun, runURL := newLeakySecrets(t)
	lsFuzz, fuzzURL := newLeakySecrets(t)
	dir := t.TempDir()
	runSpec := filepath.Join(dir, "run.yaml")
	fuzzSpec := filepath.Join(dir, "fuzz.yaml")
	require.NoError(t, os.WriteFile(runSpec, fmt.Appendf(nil, leakySpec, runURL, "  - {name: peek, path: /api/peek, data: notes}\n"), 0o600))
	require.NoError(t, os.WriteFile(fuzzSpec, fmt.Appendf(nil, leakySpec, fuzzURL, ""), 0o600))
	outputs := map[string]string{}

	stream := filepath.Join(dir, "results.jsonl")
	r := crosstalk(t, "run", "-target", runSpec, "-requests", "40", "-sync", "barrier", "-trace", "-o", stream, "-H", "X-Waf: "+waf)
	require.Equal(t, 1, r.code, "the peek leak is found\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	outputs["run stdout"], outputs["run stderr"] = r.stdout, r.stderr
	raw, err := os.ReadFile(stream)
	require.NoError(t, err)
	outputs["the -trace stream"] = string(raw)
	require.Contains(t, string(raw), `"type":"exchange"`)
	require.Contains(t, string(raw), "X-Waf: [redacted] pw [redacted]", "the evidence, credentials around it, is in the stream")
	for _, f := range formatNames(t) {
		rep := crosstalk(t, "report", "-in", stream, "-format", f)
		require.Equal(t, 0, rep.code, "format %s: %s", f, rep.stderr)
		outputs["report -format "+f] = rep.stdout + rep.stderr
	}

	plan := filepath.Join(dir, "plan.json")
	emitted := filepath.Join(dir, "svc", "leak_crosstalk_test.go")
	fz := crosstalk(t, "fuzz", "-target", fuzzSpec, "-budget", "20s", "-plans", "30", "-measure", "3", "-dir", "",
		"-o", plan, "-emit-test", emitted, "-yield=false", "-seed", "1")
	require.Equal(t, 1, fz.code, "a plan with a re-login leaks\nstdout:\n%s\nstderr:\n%s", fz.stdout, fz.stderr)
	outputs["fuzz stdout"], outputs["fuzz stderr"] = fz.stdout, fz.stderr
	for name, path := range map[string]string{"the plan file": plan, "the emitted test": emitted} {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		outputs[name] = string(b)
	}
	require.Contains(t, outputs["the plan file"], "X-Waf:", "the plan file carries the evidence")

	secrets := []string{waf}
	for _, ls := range []*leakySecrets{lsRun, lsFuzz} {
		ls.mu.Lock()
		secrets = append(secrets, ls.passwords["alice"], ls.passwords["bob"])
		secrets = append(secrets, ls.issued...)
		if ls == lsFuzz {
			require.Greater(t, len(ls.issued), 4, "fuzz's re-logins issued credentials beyond the setup's")
		}
		ls.mu.Unlock()
	}
	found := 0
	for name, text := range outputs {
		for _, s := range secrets {
			if piece := pieceOf(text, s); piece != "" {
				found++
				t.Errorf("%s holds %q, a piece of the secret %q", name, piece, s)
			}
		}
	}
	assert.Zero(t, found)
}

// pieceOf returns 8 bytes in a row of secret that text holds, or "": an
// excerpt that ends inside a token shows the part it holds.
func pieceOf(text, secret string) string {
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+8]) {
			return secret[i : i+8]
		}
	}
	return ""
}
