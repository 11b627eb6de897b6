package oracle

import (
	"bytes"
	"encoding/binary"
	"html"
	"unicode/utf8"
)

// A textDecoder undoes one text encoding. It returns nil at once when its
// trigger is absent from src, so that plain text costs no more than a few
// vectorised byte searches. When the trigger is there it decodes the whole
// text, keeping what is not encoded as it is: a marker half escaped and half
// plain ("alice%40example.com") is then found whole.
type textDecoder struct {
	name   string
	decode func(src []byte) []byte
}

// textDecoders are tried in this order on every text, to a nesting depth of
// maxTextDepth. The names make up Match.Encoding.
var textDecoders = []textDecoder{
	{"json", jsonUnescape},
	{"html", htmlUnescape},
	{"percent", percentDecode},
	{"form", formDecode},
	{"qp", qpDecode},
	{"base64", base64Runs},
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isHex(c byte) bool {
	_, ok := unhex(c)
	return ok
}

// jsonUnescape undoes JSON string escapes: \" \\ \/ \b \f \n \r \t and
// \uXXXX, with UTF-16 surrogate pairs. Anything else is left as it is.
func jsonUnescape(src []byte) []byte {
	first := -1
	for i := 0; ; {
		k := bytes.IndexByte(src[i:], '\\')
		if k < 0 || i+k+1 >= len(src) {
			break
		}
		i += k
		if jsonEscapeStart(src[i+1]) {
			first = i
			break
		}
		i++
	}
	if first < 0 {
		return nil
	}
	out := make([]byte, 0, len(src))
	out = append(out, src[:first]...)
	for i := first; i < len(src); {
		k := bytes.IndexByte(src[i:], '\\')
		if k < 0 {
			out = append(out, src[i:]...)
			break
		}
		out = append(out, src[i:i+k]...)
		i += k
		if i+1 >= len(src) {
			out = append(out, '\\')
			break
		}
		switch c := src[i+1]; c {
		case '"', '\\', '/':
			out = append(out, c)
			i += 2
		case 'b':
			out = append(out, '\b')
			i += 2
		case 'f':
			out = append(out, '\f')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'u':
			r, ok := hex4(src[i+2:])
			if !ok {
				out = append(out, '\\')
				i++
				continue
			}
			i += 6
			if r >= 0xd800 && r < 0xdc00 && i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
				if lo, ok := hex4(src[i+2:]); ok && lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, '\\')
			i++
		}
	}
	return out
}

func jsonEscapeStart(c byte) bool {
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't', 'u':
		return true
	}
	return false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// htmlUnescape decodes HTML character references: named ones ("&amp;",
// also the legacy forms without ';'), "&#64;" and "&#x40;".
func htmlUnescape(src []byte) []byte {
	found := false
	for i := 0; ; {
		k := bytes.IndexByte(src[i:], '&')
		if k < 0 || i+k+1 >= len(src) {
			break
		}
		i += k + 1
		if c := src[i]; c == '#' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	return []byte(html.UnescapeString(string(src)))
}

// percentDecode decodes %XX escapes and leaves '+' alone, as in URL paths.
func percentDecode(src []byte) []byte {
	if firstPercent(src) < 0 {
		return nil
	}
	return unpercent(src, false)
}

// formDecode decodes form encoding: %XX escapes and '+' for a space. It runs
// apart from percentDecode because a '+' outside a form is a real plus, as
// in "alice+news@example.com".
func formDecode(src []byte) []byte {
	if bytes.IndexByte(src, '+') < 0 {
		return nil
	}
	return unpercent(src, true)
}

func firstPercent(src []byte) int {
	for i := 0; ; {
		k := bytes.IndexByte(src[i:], '%')
		if k < 0 {
			return -1
		}
		i += k
		if i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]) {
			return i
		}
		i++
	}
}

func unpercent(src []byte, plus bool) []byte {
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '%' && i+2 < len(src):
			hi, ok1 := unhex(src[i+1])
			lo, ok2 := unhex(src[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		case c == '+' && plus:
			c = ' '
		}
		out = append(out, c)
	}
	return out
}

// qpDecode decodes quoted-printable: "=XX" escapes and the soft line breaks
// "=\r\n" and "=\n" that split long lines.
func qpDecode(src []byte) []byte {
	found := false
	for i := 0; ; {
		k := bytes.IndexByte(src[i:], '=')
		if k < 0 {
			break
		}
		i += k
		if qpEscapeAt(src, i) > 0 {
			found = true
			break
		}
		i++
	}
	if !found {
		return nil
	}
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); {
		k := bytes.IndexByte(src[i:], '=')
		if k < 0 {
			out = append(out, src[i:]...)
			break
		}
		out = append(out, src[i:i+k]...)
		i += k
		switch n := qpEscapeAt(src, i); n {
		case 0:
			out = append(out, '=')
			i++
		case 3:
			if hi, ok := unhex(src[i+1]); ok {
				if lo, ok := unhex(src[i+2]); ok {
					out = append(out, hi<<4|lo)
					i += 3
					continue
				}
			}
			i += n // "=\r\n", a soft line break
		default:
			i += n
		}
	}
	return out
}

// qpEscapeAt returns the length of the quoted-printable escape at src[i]
// (which is '='), or 0 if there is none.
func qpEscapeAt(src []byte, i int) int {
	if i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]) {
		return 3
	}
	if i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n' {
		return 3
	}
	if i+1 < len(src) && src[i+1] == '\n' {
		return 2
	}
	return 0
}

// minBase64Run is the shortest run of base64 characters worth decoding.
// Shorter runs are mostly ordinary words, and 16 characters already hold 12
// bytes, more than most markers.
const minBase64Run = 16

// b64val maps both the standard and the URL-safe alphabet to 6-bit values,
// so a run is decoded the same whichever alphabet it uses; -1 marks other
// bytes. '=' padding ends a run.
var b64val = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = int8(i)
	}
	t['-'] = 62
	t['_'] = 63
	return t
}()

// base64Runs decodes every run of at least 16 base64 characters that mixes
// upper and lower case (which every base64 text of that length does, and
// paths, CSS classes and words mostly do not) and whose decoding is mostly
// text. A run may be glued to a word in front of it ("id_" + base64), so when
// the decoding from its first byte is not text the three other alignments
// are tried. Binary decodings (images in data URIs, compressed blobs) are
// dropped: their random bytes would match short markers by chance. The
// decoded runs are joined by newlines.
func base64Runs(src []byte) []byte {
	var out []byte
	n := len(src)
	lo := 0 // runs before lo are done
	// Any run of 15 or more bytes covers a whole 8-byte block at an offset
	// divisible by 8, so blocks are tested eight bytes at a time, with
	// a superset of the alphabet, and bytes are looked at one by one only
	// around a block that passes.
	for i := 0; i+8 <= n; i += 8 {
		if !maybeBase64Block(binary.LittleEndian.Uint64(src[i:])) {
			continue
		}
		// The block before failed, or was scanned: no run starts
		// before i-8 that is not already done.
		p := max(lo, i-8)
		for p < i+8 {
			for p < n && b64val[src[p]] < 0 {
				p++
			}
			e := p
			for e < n && b64val[src[e]] >= 0 {
				e++
			}
			if e-p >= minBase64Run && mixedCase(src[p:e]) {
				out = appendBase64Run(out, src[p:e])
			}
			p = max(e, p+1)
		}
		lo = p
		i = (p &^ 7) - 8 // the loop steps to the block holding p
	}
	return out
}

// maybeBase64Block reports whether the eight bytes of x all lie in
// '+'..'z', which holds both base64 alphabets. Spaces, quotes, newlines and
// other bytes outside it, common in text, make most blocks fail.
func maybeBase64Block(x uint64) bool {
	const ones = 0x0101010101010101
	const high = 0x8080808080808080
	below := (x - ones*'+') & ^x & high        // a byte < '+'
	above := ((x + ones*(127-'z')) | x) & high // a byte > 'z'
	return below|above == 0
}

func mixedCase(b []byte) bool {
	upper, lower := false, false
	for _, c := range b {
		upper = upper || c >= 'A' && c <= 'Z'
		lower = lower || c >= 'a' && c <= 'z'
		if upper && lower {
			return true
		}
	}
	return false
}

func appendBase64Run(out, run []byte) []byte {
	for shift := 0; shift < 4 && len(run)-shift >= minBase64Run; shift++ {
		start := len(out)
		if start > 0 {
			out = append(out, '\n')
		}
		body := len(out)
		out = appendBase64(out, run[shift:])
		if texty(out[body:]) {
			return out
		}
		out = out[:start]
	}
	return out
}

// appendBase64 decodes run, whose bytes are all in the base64 alphabets,
// with or without padding; a last lone character is dropped.
func appendBase64(out, run []byte) []byte {
	i := 0
	for ; i+4 <= len(run); i += 4 {
		v := uint32(b64val[run[i]])<<18 | uint32(b64val[run[i+1]])<<12 | uint32(b64val[run[i+2]])<<6 | uint32(b64val[run[i+3]])
		out = append(out, byte(v>>16), byte(v>>8), byte(v))
	}
	switch len(run) - i {
	case 2:
		v := uint32(b64val[run[i]])<<18 | uint32(b64val[run[i+1]])<<12
		out = append(out, byte(v>>16))
	case 3:
		v := uint32(b64val[run[i]])<<18 | uint32(b64val[run[i+1]])<<12 | uint32(b64val[run[i+2]])<<6
		out = append(out, byte(v>>16), byte(v>>8))
	}
	return out
}

// decodeBase64Body decodes a base64 body such as a MIME part, which may be
// split into lines and padded.
func decodeBase64Body(b []byte) []byte {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		if b64val[c] >= 0 {
			clean = append(clean, c)
		}
	}
	return appendBase64(make([]byte, 0, len(clean)*3/4+2), clean)
}

// texty reports whether at least 80% of b is printable ASCII, white space
// or valid UTF-8: what decoded text looks like and random bytes do not.
func texty(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	good := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c < 0x7f || c == '\t' || c == '\n' || c == '\r' {
				good++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			good += size
		}
		i += size
	}
	return good*5 >= len(b)*4
}
