package webmail

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// loadSpec decodes webmail.yaml strictly into the committed spec types, so a
// misspelt key fails here rather than being silently dropped.
func loadSpec(t *testing.T) *spec.Spec {
	t.Helper()
	data, err := os.ReadFile("webmail.yaml")
	require.NoError(t, err)
	var s spec.Spec
	require.NoError(t, yaml.UnmarshalWithOptions(data, &s, yaml.Strict()))
	return &s
}

// TestSpecMatchesServer plays the spec by hand against the server: log every
// user in as the spec says, plant a canary with the seed request, and make
// every request of the spec. The harness does the same with far more care;
// this only proves the spec and the server agree.
func TestSpecMatchesServer(t *testing.T) {
	s := loadSpec(t)
	assert.Equal(t, "http://127.0.0.1:8080", s.BaseURL)
	require.NotNil(t, s.Users.Pattern)
	p := s.Users.Pattern
	assert.Equal(t, DefaultUsers, p.Count)
	require.Equal(t, spec.LoginForm, s.Login.Type)
	assert.Equal(t, spec.SessionCookie, s.Login.Session)
	failIf := regexp.MustCompile(s.Login.FailIf)

	e := newEnv(t, Options{Users: p.Count})
	users := e.srv.Users()
	start := max(p.Start, 1)
	for i, u := range users {
		n := strconv.Itoa(start + i)
		expand := func(text string, extra ...string) string {
			kv := append([]string{"{{n}}", n, "{{login}}", u.Login, "{{password}}", u.Password, "{{email}}", u.Email}, extra...)
			return strings.NewReplacer(kv...).Replace(text)
		}
		require.Equal(t, u.Login, expand(p.Login))
		require.Equal(t, u.Password, expand(p.Password))
		require.Equal(t, u.Email, expand(p.Email))

		form := url.Values{}
		for k, v := range s.Login.Form {
			form.Set(k, expand(v))
		}
		r := e.postForm(s.Login.Path, "", form)
		require.Equal(t, http.StatusSeeOther, r.status)
		assert.False(t, failIf.MatchString(r.body))
		require.NotEmpty(t, r.cookie)
		sid := r.cookie[0].Value
		form.Set("password", "not-"+u.Password)
		assert.True(t, failIf.MatchString(e.postForm(s.Login.Path, "", form).body), "fail_if spots a failed login")

		canary := "CT-CANARY-" + u.Login
		for _, sr := range s.Seed {
			r := e.must(sr.Method, expand(sr.Path), sid, sr.Headers["Content-Type"], expand(sr.Body, "{{canary}}", canary))
			require.Equal(t, http.StatusOK, r.status, r.body)
		}

		var ids []string
		for _, rq := range s.Requests {
			require.NotEmpty(t, rq.Data, rq.Name)
			if rq.Action != "" && rq.Action != spec.ActionRead {
				// Writes and logouts are for plans; the seed above already
				// proved a write works.
				continue
			}
			if rq.Action == spec.ActionWrite || rq.Action == spec.ActionLogout {
				continue // writes and logouts are for plans; they change the mailbox
			}
			path := expand(rq.Path, "{{msg_id}}", "1")
			assert.NotContains(t, path, "{{", "every variable is known")
			r := e.get(path, sid)
			require.Equal(t, http.StatusOK, r.status, "%s %s", rq.Name, path)
			for _, x := range rq.Extract {
				require.Equal(t, "$.messages[*].id", x.JSON)
				var d inboxDoc
				require.NoError(t, json.Unmarshal([]byte(r.body), &d))
				for _, m := range d.Messages {
					ids = append(ids, strconv.Itoa(m.ID))
				}
			}
		}
		assert.Len(t, ids, 6, "five seeded messages and the planted note")
		inbox := e.get("/api/inbox", sid).body
		assert.Contains(t, inbox, canary)
		assert.Contains(t, e.get("/profile", sid).body, canary)
		for _, o := range users {
			if o != u {
				assert.NotContains(t, inbox, "CT-CANARY-"+o.Login+`"`)
			}
		}
	}
}
