package harness_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// A client outside the harness sends a user's credentials and is served as
// that user, whichever way the spec logs in.
func TestCredentialsActAsTheUser(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	tgt, err := harness.NewFixture(context.Background(), webmailSpec(t), harness.FixtureOptions{BaseURL: url}, nil)
	require.NoError(t, err)
	defer tgt.Close()
	for _, u := range []string{"user1", "user3"} {
		h, err := tgt.Credentials(u)
		require.NoError(t, err)
		assert.Regexp(t, `^sid=[0-9a-f]+$`, h.Get("Cookie"))
		req, err := http.NewRequest(http.MethodGet, url+"/api/inbox", nil)
		require.NoError(t, err)
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(body), `"user":"`+u+`"`)
	}
	_, err = tgt.Credentials("mallory")
	assert.ErrorIs(t, err, harness.ErrOptions)

	s, err := spec.Parse("token.yaml", []byte(`
base_url: `+tokenTarget(t)+`
users:
  list: [{login: alice, password: secret-alice}, {login: bob, password: secret-bob}]
login: {type: json, path: /api/login, body: '{"user":"{{login}}","pass":"{{password}}"}', session: token, token: {json: "$.token"}, auth_header: "X-Session: {{token}}"}
requests: [{name: me, path: /api/me}]
`))
	require.NoError(t, err)
	tok, err := harness.NewFixture(context.Background(), s, harness.FixtureOptions{}, nil)
	require.NoError(t, err)
	defer tok.Close()
	h, err := tok.Credentials("bob")
	require.NoError(t, err)
	assert.NotEmpty(t, h.Get("X-Session"), "the spec's auth header carries the token")
	assert.Empty(t, h.Get("Cookie"))
	http.DefaultClient.CloseIdleConnections()
}
