package harness_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// reloginTarget issues a fresh bearer token (and session cookie) on every
// login, and once any user has logged in a second time, shows every other
// user the page of whoever logged in last, token included: a session mix-up
// after a re-login. Issued lists every token and cookie it handed out.
type reloginTarget struct {
	URL string

	mu      sync.Mutex
	logins  int
	last    string
	tokens  map[string]string // token → user
	current map[string]string // user → token
	issued  []string
}

func newReloginTarget(t *testing.T, users int) *reloginTarget {
	rt := &reloginTarget{tokens: map[string]string{}, current: map[string]string{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		switch r.URL.Path {
		case "/api/login":
			var in struct{ User, Pass string }
			if json.NewDecoder(r.Body).Decode(&in) != nil || in.Pass != "pw-"+in.User+"-secret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			tok, sid := "tk"+rand.Text(), "sd"+rand.Text()
			rt.tokens[tok], rt.current[in.User], rt.last = in.User, tok, in.User
			rt.issued = append(rt.issued, tok, sid)
			rt.logins++
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid})
			_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
		case "/api/me":
			user, ok := rt.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if rt.logins > users {
				user = rt.last
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"name": user, "token": rt.current[user], "note": "private notes of " + user})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	rt.URL = ts.URL
	return rt
}

const reloginSpec = `
name: relogin
base_url: %s
users:
  list:
    - {login: alice, password: pw-alice-secret, email: alice@relogin.test}
    - {login: bob, password: pw-bob-secret, email: bob@relogin.test}
login:
  type: json
  path: /api/login
  body: '{"user":"{{login}}","pass":"{{password}}"}'
  session: token
  token: {json: "$.token"}
  auth_header: "Authorization: Bearer {{token}}"
learn: false
requests:
  - {name: me, path: /api/me}
`

// A token issued by a plan's re-login step is as secret as the ones the
// setup saw: it never reaches the stream, though the leaked page that
// carries it is the evidence.
func TestReloginTokensAreRedacted(t *testing.T) {
	rt := newReloginTarget(t, 2)
	s, err := spec.Parse("relogin.yaml", []byte(fmt.Sprintf(reloginSpec, rt.URL)))
	require.NoError(t, err)
	fx, err := harness.NewFixture(context.Background(), s, harness.FixtureOptions{}, nil)
	require.NoError(t, err)
	defer fx.Close()
	var recs []harness.Record
	out, err := fx.Execute(context.Background(), harness.Plan{Bursts: []harness.Burst{
		{Steps: []harness.Step{{User: "alice", Request: harness.LoginStep}}},
		{Steps: []harness.Step{{User: "bob", Request: "me"}}},
	}}, func(r harness.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	raw, err := json.Marshal(recs)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `private notes of alice`, "the evidence is there")
	rt.mu.Lock()
	defer rt.mu.Unlock()
	require.Len(t, rt.issued, 10, "two logins in the setup, two fresh ones before the execution and one in the plan, two credentials each")
	for _, v := range rt.issued {
		assertNoPieceOf(t, string(raw), v)
	}
}

// assertNoPieceOf fails if text holds 8 bytes in a row of secret: an
// excerpt that ends inside a token shows the part it holds.
func assertNoPieceOf(t *testing.T, text, secret string) {
	t.Helper()
	for i := 0; i+8 <= len(secret); i++ {
		if !assert.NotContains(t, text, secret[i:i+8], "a piece of %q", secret) {
			return
		}
	}
}

// A value extracted from a response is the target's: one with a CR or LF
// must not add a header (or a request) to the request it is written into.
func TestExtractedCRLFIsNotWritten(t *testing.T) {
	var mu sync.Mutex
	injected, refused := 0, 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("X-Injected") != "" || strings.Contains(r.URL.Path, "Injected") {
			injected++
		}
		if r.URL.Path == "/ref" {
			_ = json.NewEncoder(w).Encode(map[string]string{"ref": "r1\r\nX-Injected: yes", "user": user})
			return
		}
		refused++
		_, _ = fmt.Fprintf(w, "page of %s", user)
	}))
	t.Cleanup(ts.Close)
	s, err := spec.Parse("crlf.yaml", []byte(`
base_url: `+ts.URL+`
users:
  list:
    - {login: u-carol, password: pw-carol}
    - {login: u-dave, password: pw-dave}
login: {type: basic}
learn: false
requests:
  - {name: ref, path: /ref, extract: [{var: ref, json: "$.ref"}]}
  - {name: by-header, path: /h, headers: {X-Ref: "{{ref}}"}}
  - {name: by-path, path: "/p/{{ref}}"}
`))
	require.NoError(t, err)
	out, recs := collect(t, context.Background(), s, harness.Options{MaxRequests: 200, Trace: true})
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, injected, "the target saw an injected header")
	assert.Zero(t, refused, "no request that carries the value was sent")
	refusedHere := 0
	for _, r := range recs {
		if x := r.Exchange; x != nil && strings.Contains(x.Err, "CR, LF or NUL") {
			refusedHere++
		}
	}
	assert.Positive(t, refusedHere, "the requests that would carry it are refused, saying why")
	assert.Positive(t, out.Errors)
}
