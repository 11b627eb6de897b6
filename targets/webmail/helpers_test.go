package webmail

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a webmail behind a loopback test server, with a client that does
// not follow redirects and keeps enough idle connections for eight users.
type env struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
	c   *http.Client
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	srv, err := New(opts)
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ts.Close()
		srv.Close()
	})
	c := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &env{t: t, srv: srv, ts: ts, c: c}
}

type reply struct {
	status int
	header http.Header
	body   string
	cookie []*http.Cookie
}

// do sends one request with the session sid ("" for none) and reads the
// whole reply. It returns an error rather than failing so goroutines may use
// it.
func (e *env) do(method, path, sid, ctype, body string) (reply, error) {
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if sid != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
	}
	resp, err := e.c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b), cookie: resp.Cookies()}, nil
}

func (e *env) must(method, path, sid, ctype, body string) reply {
	e.t.Helper()
	r, err := e.do(method, path, sid, ctype, body)
	require.NoError(e.t, err)
	return r
}

func (e *env) get(path, sid string) reply { e.t.Helper(); return e.must("GET", path, sid, "", "") }

func (e *env) postForm(path, sid string, v url.Values) reply {
	e.t.Helper()
	return e.must("POST", path, sid, "application/x-www-form-urlencoded", v.Encode())
}

// login signs a in and returns the session id.
func (e *env) login(a Account) string {
	e.t.Helper()
	r := e.postForm("/login", "", url.Values{"login": {a.Login}, "password": {a.Password}})
	require.Equal(e.t, http.StatusSeeOther, r.status, r.body)
	for _, c := range r.cookie {
		if c.Name == "sid" {
			return c.Value
		}
	}
	require.FailNow(e.t, "login set no sid cookie")
	return ""
}

// loginAll signs in every seeded user, in order.
func (e *env) loginAll() []string {
	e.t.Helper()
	var sids []string
	for _, a := range e.srv.Users() {
		sids = append(sids, e.login(a))
	}
	return sids
}

// owners returns the indexes of the users whose full name is in page.
func owners(users []Account, page string) []int {
	var out []int
	for i, a := range users {
		if strings.Contains(page, a.Name) {
			out = append(out, i)
		}
	}
	return out
}
