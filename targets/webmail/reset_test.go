package webmail

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// A reset through the endpoint ends every session and drops mail sent
// since, and the seeded mailboxes are as they were; a wrong token or
// method changes nothing.
func TestResetEndpointReplacesTheServer(t *testing.T) {
	r, err := NewResettable(Options{Bug: BugNone, Seed: 1}, "tok")
	require.NoError(t, err)
	ts := httptest.NewServer(r)
	defer r.Close()
	defer ts.Close()
	e := &env{t: t, srv: r.Server(), ts: ts, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	users := r.Server().Users()
	sid := e.login(users[0])
	before := e.get("/api/inbox", sid).body
	e.must("POST", "/api/send", sid, "application/json", `{"to":"user1@webmail.test","subject":"x","body":"planted-after-start"}`)
	require.Contains(t, e.get("/api/inbox", sid).body, "planted-after-start")

	reset := func(method, token string) int {
		req, err := http.NewRequest(method, ts.URL+ResetPath, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set(ResetHeader, token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusForbidden, reset("POST", "wrong"))
	assert.Equal(t, http.StatusForbidden, reset("POST", ""))
	assert.Equal(t, http.StatusMethodNotAllowed, reset("GET", "tok"))
	assert.Contains(t, e.get("/api/inbox", sid).body, "planted-after-start", "a refused reset changes nothing")

	assert.Equal(t, http.StatusNoContent, reset("POST", "tok"))
	assert.Equal(t, http.StatusUnauthorized, e.get("/api/inbox", sid).status, "the old session is gone")
	sid = e.login(users[0])
	assert.Equal(t, before, e.get("/api/inbox", sid).body, "the mailbox is as it was at the start")
}

// Without a token the reset path is an ordinary unknown page.
func TestResetEndpointIsOffWithoutToken(t *testing.T) {
	r, err := NewResettable(Options{Bug: BugNone}, "")
	require.NoError(t, err)
	ts := httptest.NewServer(r)
	defer r.Close()
	defer ts.Close()
	resp, err := http.Post(ts.URL+ResetPath, "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// webmail-reset.yaml is webmail.yaml with a reset block added, and loads
// once its token is in the environment.
func TestResetSpecIsWebmailYAMLPlusReset(t *testing.T) {
	plain, err := os.ReadFile("webmail.yaml")
	require.NoError(t, err)
	withReset, err := os.ReadFile("webmail-reset.yaml")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(withReset), string(plain)), "webmail-reset.yaml must start with webmail.yaml, unchanged")
	t.Setenv("WEBMAIL_RESET_TOKEN", "tok")
	s, err := spec.Load("webmail-reset.yaml")
	require.NoError(t, err)
	require.Len(t, s.Reset, 1)
	assert.Equal(t, ResetPath, s.Reset[0].Path)
	assert.Equal(t, "tok", s.Reset[0].Header[ResetHeader])
}
