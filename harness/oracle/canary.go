package oracle

import (
	"bytes"
	"crypto/rand"
)

// A canary is canaryPrefix followed by canaryRandLen characters of
// canaryAlphabet: 23 bytes, about 103 random bits. The prefix is rare in real
// text, so a scan can jump from one occurrence of it to the next with the
// vectorised [bytes.Index] and only then look the whole token up. Lower-case
// letters and digits survive every encoding the oracle decodes, URL paths,
// JSON and HTML unchanged, and contain no separator, so the token is always
// one word at a token boundary.
const (
	canaryPrefix   = "ctk"
	canaryRandLen  = 20
	canaryLen      = len(canaryPrefix) + canaryRandLen
	canaryAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// NewCanary returns a fresh canary token: "ctk" followed by 20 characters of
// [0-9a-z] drawn from crypto/rand, for example "ctk3v9q0m2x7d1k8p4z6w5ra".
// Tokens of this shape are recognised by [IsCanary] and found by a fast path
// in [Oracle.Scan].
func NewCanary() string {
	b := make([]byte, canaryLen)
	copy(b, canaryPrefix)
	// Rejection sampling keeps every character equally likely: 252 is the
	// largest multiple of 36 that fits in a byte.
	var pool [64]byte
	used := len(pool)
	for i := len(canaryPrefix); i < canaryLen; {
		if used == len(pool) {
			// crypto/rand.Read never fails on supported platforms; it
			// crashes the program rather than return weak bytes.
			_, _ = rand.Read(pool[:])
			used = 0
		}
		c := pool[used]
		used++
		if c >= 252 {
			continue
		}
		b[i] = canaryAlphabet[c%36]
		i++
	}
	return string(b)
}

// IsCanary reports whether s has the shape of a token from [NewCanary].
func IsCanary(s string) bool {
	if len(s) != canaryLen || s[:len(canaryPrefix)] != canaryPrefix {
		return false
	}
	for i := len(canaryPrefix); i < len(s); i++ {
		if !canaryChar(s[i]) {
			return false
		}
	}
	return true
}

func canaryChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z'
}

// scanCanaries reports every known canary in text at a token boundary. It
// jumps between occurrences of 'k', the rarest byte of the prefix in text,
// with the vectorised [bytes.IndexByte], and looks at little else.
func (x *index) scanCanaries(text []byte, visit func(id int32, s, e int)) {
	const anchor = len(canaryPrefix) - 1
	n := len(text)
	for i := anchor; i < n; {
		k := bytes.IndexByte(text[i:], canaryPrefix[anchor])
		if k < 0 {
			return
		}
		p := i + k - anchor
		i += k + 1
		end := p + canaryLen
		if end > n || string(text[p:p+anchor]) != canaryPrefix[:anchor] {
			continue
		}
		if (p > 0 && alnum[text[p-1]]) || (end < n && alnum[text[end]]) {
			continue
		}
		if id, ok := x.canary[string(text[p:end])]; ok {
			visit(id, p, end)
			i = end + anchor
		}
	}
}
