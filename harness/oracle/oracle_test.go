package oracle

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsBadMarkers(t *testing.T) {
	cases := []struct {
		name    string
		markers []Marker
		want    []string // in the error
		hide    string   // never in the error
	}{
		{"no owner", []Marker{{Kind: Static, Value: "abcdef"}}, []string{"no owner"}, ""},
		{"empty value", []Marker{{Owner: "a", Kind: Static}}, []string{"empty value", `"a"`}, ""},
		{"short value", []Marker{{Owner: "a", Kind: Static, Value: "ab"}}, []string{`"ab"`, "shorter than 3"}, ""},
		{"short secret", []Marker{{Owner: "a", Kind: Identity, Value: "pw", Secret: true}}, []string{"shorter than 3"}, "pw"},
		{"unknown kind", []Marker{{Owner: "a", Kind: "guess", Value: "abcdef"}}, []string{`"guess"`}, ""},
		{"shared value", []Marker{
			{Owner: "alice", Kind: Static, Value: "Shared Corp"},
			{Owner: "bob", Kind: Learned, Value: "Shared Corp"},
		}, []string{`"alice"`, `"bob"`, `"Shared Corp"`}, ""},
		{"shared secret", []Marker{
			{Owner: "alice", Kind: Identity, Value: "s3cret-token", Secret: true},
			{Owner: "bob", Kind: Identity, Value: "s3cret-token"},
		}, []string{`"alice"`, `"bob"`}, "s3cret-token"},
		{"secret inside the redaction text", []Marker{{Owner: "a", Kind: Identity, Value: "dacte", Secret: true}}, []string{"could not be redacted"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := New(c.markers)
			require.Error(t, err)
			assert.Nil(t, o)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			if c.hide != "" {
				assert.NotContains(t, err.Error(), c.hide)
			}
		})
	}
}

func TestNewMergesDuplicatesOfOneUser(t *testing.T) {
	in := []Marker{
		{Owner: "bob", Kind: Learned, Value: "token-abc", Label: "GET /x"},
		{Owner: "bob", Kind: Identity, Value: "token-abc", Label: "api key", Secret: true},
	}
	o, err := New(in)
	require.NoError(t, err)
	assert.Equal(t, in, o.Markers(), "Markers returns what New was given")

	ms := o.Scan("alice", bodyResp([]byte("key: token-abc")))
	require.Len(t, ms, 1)
	assert.Equal(t, Identity, ms[0].Kind, "a configured kind wins over a learned one")
	assert.Equal(t, "[redacted]", ms[0].Marker, "a value secret in either copy stays secret")
	assertNoSecret(t, ms, "token-abc")
}

func TestMarkersIsACopy(t *testing.T) {
	o := testOracle(t)
	ms := o.Markers()
	require.Equal(t, testMarkers(), ms)
	ms[0].Value = "changed"
	assert.Equal(t, aliceCanary, o.Markers()[0].Value)
}

func TestScanFindsEachKind(t *testing.T) {
	o := testOracle(t)
	body := fmt.Sprintf(`<p>note %s</p><p>from bob@example.com</p><p>Bob Builder</p><p>INV-2231-BQ</p>`, bobCanary)
	ms := o.Scan("alice", bodyResp([]byte(body)))
	for _, want := range []struct {
		kind  Kind
		value string
		label string
	}{
		{Canary, bobCanary, "seed"},
		{Identity, "bob@example.com", "email"},
		{Static, "Bob Builder", "display name"},
		{Learned, "INV-2231-BQ", "GET /invoices"},
	} {
		m := findMatch(t, ms, "bob", want.value, "body")
		assert.Equal(t, want.kind, m.Kind)
		assert.Equal(t, want.label, m.Label)
		assert.Empty(t, m.Encoding)
		assert.Contains(t, m.Excerpt, want.value)
	}
	assert.Len(t, ms, 4)
}

func TestScanSkipsViewersOwnMarkers(t *testing.T) {
	o := testOracle(t)
	body := fmt.Sprintf("hello user1, alice@example.com, %s, cookie %s", aliceCanary, aliceSecret)
	r := bodyResp([]byte(body), "Set-Cookie", "sid="+aliceSecret+"; Path=/")
	assert.Empty(t, o.Scan("alice", r))
	// The same response seen by bob is alice's data.
	ms := o.Scan("bob", r)
	findMatch(t, ms, "alice", aliceCanary, "body")
	findMatch(t, ms, "alice", "[redacted]", "header:Set-Cookie")
	assertNoSecret(t, ms, aliceSecret)
}

func TestScanUnknownViewerSeesEveryone(t *testing.T) {
	o := testOracle(t)
	ms := o.Scan("mallory", bodyResp([]byte("user1 and user10")))
	findMatch(t, ms, "alice", "user1", "body")
	findMatch(t, ms, "bob", "user10", "body")
}

func TestScanTokenBoundary(t *testing.T) {
	o := testOracle(t)
	// bob's page shows his own login: alice's "user1" is a prefix of it.
	ms := o.Scan("bob", bodyResp([]byte("logged in as user10 (user100, xuser1, user1x, 2user1)")))
	assert.Empty(t, ms)

	ms = o.Scan("bob", bodyResp([]byte("logged in as user10; friend: user1.")))
	m := findMatch(t, ms, "alice", "user1", "body")
	assert.Equal(t, Identity, m.Kind)

	// A canary glued to a word is not a canary.
	assert.Empty(t, o.Scan("alice", bodyResp([]byte("x"+bobCanary+" "+bobCanary+"9"))))
}

func TestScanHeadersAndStatus(t *testing.T) {
	o, err := New(append(testMarkers(), Marker{Owner: "bob", Kind: Static, Value: "Not Found"}))
	require.NoError(t, err)
	r := Response{
		Status: http.StatusNotFound,
		Header: http.Header{
			"Location":   {"/mail/" + bobCanary},
			"X-Owner":    {"bob@example.com"},
			"Set-Cookie": {"last=user10; Path=/; HttpOnly"},
		},
	}
	ms := o.Scan("alice", r)
	findMatch(t, ms, "bob", "Not Found", "status")
	findMatch(t, ms, "bob", bobCanary, "header:Location")
	findMatch(t, ms, "bob", "bob@example.com", "header:X-Owner")
	m := findMatch(t, ms, "bob", "user10", "header:Set-Cookie")
	assert.Equal(t, "Set-Cookie: last=[redacted]; Path=/; HttpOnly", m.Excerpt, "cookie values are never shown")
}

func TestScanOnePerOwnerValueWhere(t *testing.T) {
	o := testOracle(t)
	body := strings.Repeat(bobCanary+" bob%40example.com bob@example.com ", 5)
	r := bodyResp([]byte(body), "X-A", bobCanary, "X-B", bobCanary)
	ms := o.Scan("alice", r)
	seen := map[string]int{}
	for _, m := range ms {
		seen[m.Owner+"|"+m.Marker+"|"+m.Where]++
	}
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}
	assert.Len(t, ms, 4, "canary in two headers and the body, email in the body")
	assert.Empty(t, findMatch(t, ms, "bob", "bob@example.com", "body").Encoding, "found as sent before through percent-encoding")
}

func TestSecretsNeverShown(t *testing.T) {
	o := testOracle(t)
	body := fmt.Sprintf(`{"user":"user10","session":"%s","password":"%s","note":"%s"}`, bobSecret, bobPassword, bobCanary)
	r := bodyResp([]byte(body),
		"Authorization", "Bearer "+bobSecret,
		"Cookie", "sid="+bobSecret+"; theme=dark",
		"X-Debug", "user10 "+bobPassword)
	ms := o.Scan("alice", r)
	require.NotEmpty(t, ms)
	assertNoSecret(t, ms, bobSecret, bobPassword)

	m := findMatch(t, ms, "bob", "[redacted]", "body")
	assert.Equal(t, "session cookie", m.Label, "first secret found in the body")
	assert.Contains(t, findMatch(t, ms, "bob", bobCanary, "body").Excerpt, "[redacted]")
	assert.Equal(t, "Authorization: Bearer [redacted]", findMatch(t, ms, "bob", "[redacted]", "header:Authorization").Excerpt)
	assert.Equal(t, "Cookie: sid=[redacted]; theme=[redacted]", findMatch(t, ms, "bob", "[redacted]", "header:Cookie").Excerpt)
	assert.Contains(t, findMatch(t, ms, "bob", "user10", "header:X-Debug").Excerpt, "user10 [redacted]")
}

func TestExcerptHidesSecretCutByItsEdge(t *testing.T) {
	o := testOracle(t)
	// The secret starts inside the excerpt window and ends outside it.
	text := bobCanary + strings.Repeat(".", excerptRadius-5) + bobSecret + " tail"
	ms := o.Scan("alice", bodyResp([]byte(text)))
	m := findMatch(t, ms, "bob", bobCanary, "body")
	assert.True(t, strings.HasSuffix(m.Excerpt, "[redacted]"), m.Excerpt)
	assert.NotContains(t, m.Excerpt, bobSecret[:5])
	assertNoSecret(t, ms, bobSecret)
}

func TestExcerptRedactsQuotedCredentialLines(t *testing.T) {
	o := testOracle(t)
	text := "GET /debug\r\nCookie: unknown-session=abcdef123\r\nX-User: " + bobCanary + "\r\n"
	m := findMatch(t, o.Scan("alice", bodyResp([]byte(text))), "bob", bobCanary, "body")
	assert.NotContains(t, m.Excerpt, "abcdef123")
	assert.Contains(t, m.Excerpt, "Cookie: [redacted]")
	assert.Contains(t, m.Excerpt, bobCanary)
}

func TestExcerptIsPrintableAndShort(t *testing.T) {
	o := testOracle(t)
	pad := strings.Repeat("\x00\x01\xff\t", 100)
	m := findMatch(t, o.Scan("alice", bodyResp([]byte(pad+bobCanary+pad))), "bob", bobCanary, "body")
	assert.Contains(t, m.Excerpt, bobCanary)
	assert.LessOrEqual(t, len(m.Excerpt), 2*excerptRadius+len(bobCanary))
	for _, r := range m.Excerpt {
		assert.True(t, r >= ' ' && r < 0x7f, "byte %q in excerpt", r)
	}
}

func TestShortMarkerNeedsTextAround(t *testing.T) {
	o, err := New([]Marker{{Owner: "bob", Kind: Identity, Value: "bob", Label: "login"}})
	require.NoError(t, err)
	binary := []byte("\x00\x89\x01\xfe\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f bob \x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b")
	assert.Empty(t, o.Scan("alice", bodyResp(binary)))
	assert.Len(t, o.Scan("alice", bodyResp([]byte("from: bob, to: alice"))), 1)
}

func TestRedact(t *testing.T) {
	o := testOracle(t)
	got := o.Redact("a " + bobSecret + " b " + aliceSecret + " c " + bobPassword + bobPassword + " user10")
	assert.Equal(t, "a [redacted] b [redacted] c [redacted] user10", got)

	o2, err := New([]Marker{
		{Owner: "a", Kind: Identity, Value: "abcdef", Secret: true},
		{Owner: "b", Kind: Identity, Value: "defghi", Secret: true},
	})
	require.NoError(t, err)
	assert.Equal(t, "x [redacted] y", o2.Redact("x abcdefghi y"), "overlapping secrets are redacted whole")
	assert.Equal(t, "nothing here", o2.Redact("nothing here"))
}

func TestMarkerContainingASecretIsRedacted(t *testing.T) {
	o, err := New([]Marker{
		{Owner: "bob", Kind: Identity, Value: "tok-77x", Secret: true},
		{Owner: "bob", Kind: Learned, Value: "url-tok-77x-end"},
	})
	require.NoError(t, err)
	ms := o.Scan("alice", bodyResp([]byte("see url-tok-77x-end")))
	require.Len(t, ms, 2, "the secret itself stands between word boundaries too")
	assert.Equal(t, "url-[redacted]-end", ms[0].Marker)
	assert.Equal(t, "[redacted]", ms[1].Marker)
	assertNoSecret(t, ms, "tok-77x")
}

func TestNewCanary(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := NewCanary()
		require.True(t, IsCanary(c), c)
		require.False(t, seen[c], "repeated canary %s", c)
		seen[c] = true
	}
	for _, bad := range []string{"", "ctk", "CTK0123456789abcdefghij", "ctk0123456789abcdefghi", "ctk0123456789abcdefghijk", "ctk0123456789abcdefghiJ", "xtk0123456789abcdefghij", "ctk0123456789abcdefgh-j"} {
		assert.False(t, IsCanary(bad), bad)
	}
	assert.True(t, IsCanary(aliceCanary))
	assert.True(t, IsCanary(bobCanary))
}

func TestCanaryCharactersAreSpread(t *testing.T) {
	// Every character of the alphabet turns up in the random part: a
	// generator stuck on part of it would fail (chance: 36*(35/36)^20000).
	counts := map[rune]int{}
	for range 1000 {
		for _, r := range NewCanary()[len(canaryPrefix):] {
			counts[r]++
		}
	}
	assert.Len(t, counts, len(canaryAlphabet))
}

func TestScanConcurrent(t *testing.T) {
	o := testOracle(t)
	r := bodyResp([]byte("x "+bobCanary+" y bob%40example.com"), "Content-Type", "text/plain")
	want := o.Scan("alice", r)
	require.Len(t, want, 2)
	var wg sync.WaitGroup
	got := make([][]Match, 8)
	for i := range got {
		wg.Go(func() { got[i] = o.Scan("alice", r) })
	}
	wg.Wait()
	for _, g := range got {
		assert.Equal(t, want, g)
	}
}

func TestScanEmptyResponse(t *testing.T) {
	o := testOracle(t)
	assert.Empty(t, o.Scan("alice", Response{}))
	empty, err := New(nil)
	require.NoError(t, err)
	assert.Empty(t, empty.Scan("alice", bodyResp([]byte(bobCanary))))
	assert.Equal(t, "x", empty.Redact("x"))
}
