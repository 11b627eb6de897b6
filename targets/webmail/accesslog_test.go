package webmail

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/incident"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// The access log writes the JSON format crosstalk incident reads: every
// request a line, the session's user, whose data /profile was rendered from,
// and nothing of the session cookie itself.
func TestAccessLogLinesParse(t *testing.T) {
	srv, err := New(Options{Bug: BugNone, Users: 2})
	require.NoError(t, err)
	var out lockedBuffer
	ts := httptest.NewUnstartedServer(NewAccessLog(srv, &out, "web-1"))
	ts.Config.ConnContext = ConnContext
	ts.Start()
	defer ts.Close()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(ts.URL+"/login", url.Values{"login": {"user1"}, "password": {"pw-user1"}})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var sid string
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			sid = ck.Value
		}
	}
	require.NotEmpty(t, sid)
	for _, p := range []string{"/profile", "/api/inbox", "/nowhere?q=\"x"} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+p, nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sid})
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	c.CloseIdleConnections()
	log := out.b.String()
	assert.NotContains(t, log, sid, "the session cookie is a secret")
	var entries []incident.Entry
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var e incident.Entry
		require.NoError(t, incident.ParseJSONLine(sc.Bytes(), &e), sc.Text())
		e.User, e.Owner, e.Path, e.Instance, e.Session = bytes.Clone(e.User), bytes.Clone(e.Owner), bytes.Clone(e.Path), bytes.Clone(e.Instance), bytes.Clone(e.Session)
		entries = append(entries, e)
	}
	require.Len(t, entries, 4)
	assert.Empty(t, entries[0].User, "the login request has no session yet")
	assert.Equal(t, http.StatusSeeOther, entries[0].Status)
	prof := entries[1]
	assert.Equal(t, "user1", string(prof.User))
	assert.Equal(t, "user1", string(prof.Owner), "the profile says whose data it shows")
	assert.Equal(t, "/profile", string(prof.Path))
	assert.Equal(t, "web-1", string(prof.Instance))
	assert.Equal(t, int64(1), prof.Res, "µs timestamps")
	assert.LessOrEqual(t, prof.Start, prof.End)
	assert.Positive(t, prof.Bytes)
	assert.Len(t, prof.Session, 16)
	assert.Empty(t, entries[2].Owner, "only pages that know say whose data they carry")
	assert.Equal(t, "/nowhere", string(entries[3].Path))
	assert.Equal(t, http.StatusNotFound, entries[3].Status)
	assert.Equal(t, prof.ConnRequests+1, entries[2].ConnRequests, "requests on one keep-alive connection are counted")
}

// A resettable server logs across resets: the reset is a line of its own,
// a session of before the reset is unknown after it (the log has no user
// for it), and a new login's requests carry their user again.
func TestResettableAccessLogSpansResets(t *testing.T) {
	var out lockedBuffer
	srv, err := StartResettable("", Options{Bug: BugNone, Users: 2, AccessLog: &out, Instance: "web-r"}, "tok")
	require.NoError(t, err)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) int {
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	login := func() string {
		resp, err := c.PostForm(srv.URL()+"/login", url.Values{"login": {"user1"}, "password": {"pw-user1"}})
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for _, ck := range resp.Cookies() {
			if ck.Name == sessionCookie {
				return ck.Value
			}
		}
		t.Fatal("no session cookie")
		return ""
	}
	profile := func(sid string) int {
		req, err := http.NewRequest(http.MethodGet, srv.URL()+"/profile", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sid})
		return do(req)
	}
	old := login()
	require.Equal(t, http.StatusOK, profile(old))
	req, err := http.NewRequest(http.MethodPost, srv.URL()+ResetPath, nil)
	require.NoError(t, err)
	req.Header.Set(ResetHeader, "tok")
	require.Equal(t, http.StatusNoContent, do(req))
	profile(old)
	require.Equal(t, http.StatusOK, profile(login()))
	c.CloseIdleConnections()
	require.NoError(t, srv.Stop())

	type line struct{ user, owner, path, instance string }
	var got []line
	sc := bufio.NewScanner(strings.NewReader(out.b.String()))
	for sc.Scan() {
		var e incident.Entry
		require.NoError(t, incident.ParseJSONLine(sc.Bytes(), &e), sc.Text())
		got = append(got, line{string(e.User), string(e.Owner), string(e.Path), string(e.Instance)})
	}
	assert.Equal(t, []line{
		{"", "", "/login", "web-r"},
		{"user1", "user1", "/profile", "web-r"},
		{"", "", ResetPath, "web-r"},
		{"", "", "/profile", "web-r"},
		{"", "", "/login", "web-r"},
		{"user1", "user1", "/profile", "web-r"},
	}, got)
}
