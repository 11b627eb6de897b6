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
