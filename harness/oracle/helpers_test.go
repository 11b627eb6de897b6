package oracle

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fixed canaries keep failures reproducible; TestNewCanary covers the
// generator.
const (
	aliceCanary = "ctkalice000000000000001"
	bobCanary   = "ctkbob0000000000000002x"
	bobSecret   = "bob-session-9f8e7d6c5b4a"
	bobPassword = "hunter2-bob"
	aliceSecret = "alice-session-1a2b3c4d5e"
)

func testMarkers() []Marker {
	return []Marker{
		{Owner: "alice", Kind: Canary, Value: aliceCanary, Label: "seed"},
		{Owner: "alice", Kind: Identity, Value: "alice@example.com", Label: "email"},
		{Owner: "alice", Kind: Identity, Value: "user1", Label: "login"},
		{Owner: "alice", Kind: Identity, Value: aliceSecret, Label: "session cookie", Secret: true},
		{Owner: "bob", Kind: Canary, Value: bobCanary, Label: "seed"},
		{Owner: "bob", Kind: Identity, Value: "bob@example.com", Label: "email"},
		{Owner: "bob", Kind: Identity, Value: "user10", Label: "login"},
		{Owner: "bob", Kind: Identity, Value: bobSecret, Label: "session cookie", Secret: true},
		{Owner: "bob", Kind: Identity, Value: bobPassword, Label: "password", Secret: true},
		{Owner: "bob", Kind: Static, Value: "Bob Builder", Label: "display name"},
		{Owner: "bob", Kind: Learned, Value: "INV-2231-BQ", Label: "GET /invoices"},
		{Owner: "carol", Kind: Identity, Value: "carol@example.com", Label: "email"},
	}
}

func testOracle(t testing.TB) *Oracle {
	t.Helper()
	o, err := New(testMarkers())
	require.NoError(t, err)
	return o
}

func bodyResp(body []byte, kv ...string) Response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return Response{Status: 200, Header: h, Body: body}
}

// findMatch returns the match of value (or of "[redacted]" for a secret
// label) at where, failing the test when there is none.
func findMatch(t *testing.T, ms []Match, owner, marker, where string) Match {
	t.Helper()
	for _, m := range ms {
		if m.Owner == owner && m.Marker == marker && m.Where == where {
			return m
		}
	}
	require.Failf(t, "marker not found", "%s's %q at %s not in %+v", owner, marker, where, ms)
	return Match{}
}

func hasMarker(ms []Match, marker string) bool {
	for _, m := range ms {
		if m.Marker == marker {
			return true
		}
	}
	return false
}

// assertNoSecret fails if any field of any match shows a secret.
func assertNoSecret(t testing.TB, ms []Match, secrets ...string) {
	t.Helper()
	for _, m := range ms {
		for _, f := range []string{m.Owner, string(m.Kind), m.Label, m.Marker, m.Where, m.Encoding, m.Excerpt} {
			for _, s := range secrets {
				if strings.Contains(f, s) {
					t.Fatalf("secret %q shown in match %+v", s, m)
				}
			}
		}
	}
}
