package oracle

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An excerpt is cut from the text the marker was found in; a secret next to
// it that the response encodes must not show through in its encoded form.
func TestExcerptHidesEncodedSecrets(t *testing.T) {
	o, err := New([]Marker{
		{Owner: "bob", Kind: Identity, Value: "bob@x.test", Label: "email"},
		{Owner: "bob", Kind: Identity, Value: "hunter2pw!", Label: "password", Secret: true},
		{Owner: "bob", Kind: Identity, Value: "Ym9iOmh1bnRlcjJwdyE=", Label: "basic credentials", Secret: true},
	})
	require.NoError(t, err)
	for name, body := range map[string]string{
		"percent":       `user=bob@x.test&pw=hunter2pw%21`,
		"json escape":   `{"user":"bob@x.test","pw":"hunter2pw\u0021"}`,
		"html entity":   `<p>bob@x.test</p><input value="hunter2pw&#33;">`,
		"basic in json": `{"headers":{"Authorization":"Basic Ym9iOmh1bnRlcjJwdyE="},"email":"bob@x.test"}`,
		"base64 only":   `{"blob":"aHVudGVyMnB3IQ==aHVudGVyMnB3IQ==","email":"bob@x.test"}`,
	} {
		ms := o.Scan("alice", bodyResp([]byte(body)))
		require.NotEmpty(t, ms, name)
		for _, m := range ms {
			for _, leaked := range []string{"hunter2pw", "Ym9iOmh1bnRlcjJwdyE", "dXNlcj1ib2ImcGFzc3dv"} {
				assert.NotContains(t, m.Excerpt, leaked, "%s: %s", name, m.Excerpt)
			}
		}
		assert.True(t, hasMarker(ms, "bob@x.test"), name)
	}
}

// A secret several users share is no marker, but is still redacted.
func TestRedactAlso(t *testing.T) {
	o, err := New([]Marker{{Owner: "bob", Kind: Identity, Value: "bob@x.test"}}, RedactAlso("common-pw", "ab"))
	require.NoError(t, err)
	ms := o.Scan("alice", bodyResp([]byte(`bob@x.test logged in with common-pw`)))
	require.Len(t, ms, 1)
	assert.NotContains(t, ms[0].Excerpt, "common-pw")
	assert.Equal(t, "pw [redacted]", o.Redact("pw common-pw"))
	assert.Equal(t, "ab", o.Redact("ab"), "values under 3 bytes would blank ordinary text")
	assert.False(t, strings.Contains(o.Redact("xx common-pw yy"), "common"))
}
