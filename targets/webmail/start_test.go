package webmail

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartServesHTTP1AndH2CUntilStop(t *testing.T) {
	s, err := Start("", Options{Bug: BugAfterReturn, Users: 2, ReportArrival: true})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:"), s.URL())

	for _, h2 := range []bool{false, true} {
		var p http.Protocols
		p.SetHTTP1(!h2)
		p.SetUnencryptedHTTP2(h2)
		tr := &http.Transport{Protocols: &p}
		c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.PostForm(s.URL()+"/login", url.Values{"login": {"user1"}, "password": {"pw-user1"}})
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, map[bool]int{false: 1, true: 2}[h2], resp.ProtoMajor)
		assert.NotEmpty(t, resp.Header.Get("X-Arrival-Ns"), "the options reach the server")
		// afterreturn queues mail for later delivery: Stop must wait for it.
		req, err := http.NewRequest(http.MethodPost, s.URL()+"/api/send", strings.NewReader(`{"to":"user2@webmail.test","subject":"s","body":"b"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(resp.Cookies()[0])
		resp, err = c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		tr.CloseIdleConnections()
	}

	require.NoError(t, s.Stop())
	s.mu.RLock()
	got := len(s.byLogin["user2"].mbox.msgs)
	s.mu.RUnlock()
	assert.Equal(t, 5+2, got, "Stop returns once the queued mail (one per protocol) is delivered")
	_, err = http.Get(s.URL() + "/login")
	assert.Error(t, err, "a stopped server takes no connections")
}

func TestStartRejectsBadOptionsAndAddresses(t *testing.T) {
	_, err := Start("", Options{Bug: "bogus"})
	assert.ErrorContains(t, err, "unknown bug")
	s, err := Start("", Options{})
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Stop()) }()
	_, err = Start(strings.TrimPrefix(s.URL(), "http://"), Options{})
	assert.ErrorContains(t, err, "cannot listen on 127.0.0.1:")
}

func TestNewServerHasNoURL(t *testing.T) {
	s, err := New(Options{})
	require.NoError(t, err)
	assert.Empty(t, s.URL())
	assert.NoError(t, s.Stop())
}

// Every row of the bug table is complete: a unique name, a description and,
// but for the two defects that live in the handlers, an install function.
func TestBugTableIsComplete(t *testing.T) {
	seen := map[Bug]bool{}
	for _, r := range bugs {
		assert.False(t, seen[r.bug], "%s twice", r.bug)
		seen[r.bug] = true
		assert.NotEmpty(t, r.description, r.bug)
		assert.Equal(t, r.bug != BugNone && r.bug != BugLastLogin, r.install != nil, "%s: install", r.bug)
	}
	assert.Equal(t, len(bugs), len(Bugs()))
}
