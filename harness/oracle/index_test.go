package oracle

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAlnumMaskMatchesTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 64)
	for range 2000 {
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		assert.Equal(t, alnumMaskTail(b), alnumMask(b), "%q", b)
	}
	for c := range 256 {
		b := make([]byte, 64)
		b[c%64] = byte(c)
		assert.Equal(t, alnumMaskTail(b), alnumMask(b), "byte %#x", c)
	}
}

func TestMaybeBase64Block(t *testing.T) {
	for c := range 256 {
		w := uint64(0x4141414141414141)&^0xff | uint64(c)
		want := c >= '+' && c <= 'z'
		assert.Equal(t, want, maybeBase64Block(w), "byte %#x", c)
	}
}

func TestLargeGroupsOfMarkers(t *testing.T) {
	var ms []Marker
	for i := range 50 {
		ms = append(ms, Marker{Owner: "bob", Kind: Learned, Value: "ORD-" + string(rune('A'+i%26)) + string(rune('a'+i/26)) + "-x"})
	}
	ms = append(ms, Marker{Owner: "bob", Kind: Learned, Value: "ORD"}, Marker{Owner: "bob", Kind: Learned, Value: "-ORD-Zz"})
	o, err := New(ms)
	assert.NoError(t, err)
	got := o.Scan("alice", bodyResp([]byte("ORD-Ba-x ORD-Ab-x ORD-Zz-x -ORD-Zz ORD")))
	var vals []string
	for _, m := range got {
		vals = append(vals, m.Marker)
	}
	assert.ElementsMatch(t, []string{"ORD-Ba-x", "ORD-Ab-x", "-ORD-Zz", "ORD"}, vals)
}
