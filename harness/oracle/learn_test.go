package oracle

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func page(user, order, nonce, extra string) []byte {
	return []byte(fmt.Sprintf(`<html><body class="text-center"><h1>Welcome back</h1>
<p>Order %s placed 2024-05-01T10:00:00Z, total 1024.50, 05-Jan-2024, 10h30m</p>
<form><input name="csrf" value="%s"></form><p>Shared-Corp-2024</p>%s</body></html>`, order, nonce, extra))
}

func learnFixture() []Baseline {
	return []Baseline{
		{
			User:   "alice",
			First:  [][]byte{page("alice", "ORD-7731-AX", "Nq81zXk29aP", ""), []byte(`{"email":"alice\u0040example.com","plan":"Gold-A1"}`)},
			Second: [][]byte{page("alice", "ORD-7731-AX", "Zr02mLq77cT", ""), []byte(`{"email":"alice\u0040example.com","plan":"Gold-A1"}`)},
			Labels: []string{"GET /orders", "GET /me"},
		},
		{
			User:   "bob",
			First:  [][]byte{page("bob", "ORD-2231-BQ", "Pm55nBv31xW", "<i>Gold-A1x</i>"), []byte(`{"email":"bob@example.com","plan":"Silver"}`)},
			Second: [][]byte{page("bob", "ORD-2231-BQ", "Yt66oCw42yV", "<i>Gold-A1x</i>"), []byte(`{"email":"bob@example.com","plan":"Silver"}`)},
			Labels: []string{"GET /orders"}, // no label for the second request
		},
		{
			User: "carol",
			// carol's page shows alice's order number once: not alice's alone.
			First:  [][]byte{[]byte("ORD-7731-AX was refunded; Ticket-88QZ")},
			Second: [][]byte{[]byte("Ticket-88QZ")},
		},
	}
}

func values(ms []Marker, owner string) []string {
	var out []string
	for _, m := range ms {
		if m.Owner == owner {
			out = append(out, m.Value)
		}
	}
	return out
}

func TestLearn(t *testing.T) {
	got := Learn(learnFixture())
	assert.Equal(t, []string{"Gold-A1"}, values(got, "alice"),
		"ORD-7731-AX is in carol's baseline; nonces change; dates, numbers, words and addresses without digits are not tokens")
	assert.Equal(t, []string{"Gold-A1x", "ORD-2231-BQ"}, values(got, "bob"),
		"by request, then value; Silver is a word")
	assert.Equal(t, []string{"Ticket-88QZ"}, values(got, "carol"))
	for _, m := range got {
		assert.Equal(t, Learned, m.Kind)
		assert.False(t, m.Secret)
	}
	byValue := map[string]Marker{}
	for _, m := range got {
		byValue[m.Value] = m
	}
	assert.Equal(t, "GET /me", byValue["Gold-A1"].Label)
	assert.Equal(t, "GET /orders", byValue["ORD-2231-BQ"].Label)
	assert.Equal(t, "request 0", byValue["Ticket-88QZ"].Label)
}

func TestLearnIsDeterministic(t *testing.T) {
	first := Learn(learnFixture())
	for range 5 {
		assert.Equal(t, first, Learn(learnFixture()))
	}
	// The order of the baselines does not change the result.
	in := learnFixture()
	in[0], in[2] = in[2], in[0]
	assert.Equal(t, first, Learn(in))
}

func TestLearnedMarkersWork(t *testing.T) {
	learned := Learn(learnFixture())
	o, err := New(learned)
	require.NoError(t, err)
	ms := o.Scan("bob", bodyResp([]byte(`<p>Order ORD-7731-AX, plan Gold-A1</p>`)))
	findMatch(t, ms, "alice", "Gold-A1", "body")
	assert.False(t, hasMarker(ms, "ORD-7731-AX"))
	// Gold-A1 inside bob's own Gold-A1x is not alice's.
	assert.Empty(t, o.Scan("bob", bodyResp(page("bob", "ORD-2231-BQ", "x", "<i>Gold-A1x</i>"))))
}

func TestLearnMergesBaselinesOfOneUser(t *testing.T) {
	in := []Baseline{
		{User: "alice", First: [][]byte{[]byte("Acct-11AA")}, Second: [][]byte{[]byte("Acct-11AA")}},
		{User: "bob", First: [][]byte{[]byte("Acct-22BB")}, Second: [][]byte{[]byte("Acct-22BB")}},
		{User: "alice", First: [][]byte{[]byte("Acct-22BB Proj-33CC")}, Second: [][]byte{[]byte("Proj-33CC"), []byte("ignored: no pair")}},
	}
	got := Learn(in)
	assert.Equal(t, []string{"Acct-11AA", "Proj-33CC"}, values(got, "alice"))
	assert.Empty(t, values(got, "bob"), "Acct-22BB is in alice's baselines too")
}

func TestLearnNothing(t *testing.T) {
	assert.Empty(t, Learn(nil))
	assert.Empty(t, Learn([]Baseline{{User: "a"}}))
}

func TestKeepToken(t *testing.T) {
	for tok, want := range map[string]bool{
		"Ab1234":                  true,
		"ORD-7731-AX":             true,
		"alice@example.com":       false, // no digit: identity markers cover addresses
		"user7@example.com":       true,
		"ARN-LIS":                 false, // from a vocabulary (airport codes), however rare in a baseline
		"Harbour-View":            false,
		"Johnson":                 false, // a word
		"WARNING":                 false,
		"3f1c9a2e":                true,
		"short":                   false, // under 6 bytes
		"12345678":                false, // no letter
		"welcome":                 false, // vocabulary
		"text-center":             false,
		"2024-05-01T10":           false, // date
		"05-Jan-2024":             false,
		"1024px":                  false,
		"10h30m":                  false,
		"Mon-12-Feb":              false,
		string(make([]byte, 200)): false,
	} {
		assert.Equal(t, want, keepToken([]byte(tok)), tok)
	}
}
