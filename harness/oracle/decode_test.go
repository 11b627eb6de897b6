package oracle

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func compress(t testing.TB, w func(io.Writer) io.WriteCloser, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := w(&b)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return b.Bytes()
}

func gzipped(t testing.TB, data []byte) []byte {
	return compress(t, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }, data)
}

func chunked(data []byte, size int) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(size, len(data))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, data[:n])
		data = data[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// escapeAt JSON-escapes the byte at i of s as \u00XX.
func escapeAt(s string, i int) string {
	return s[:i] + fmt.Sprintf(`\u%04x`, s[i]) + s[i+1:]
}

// wrap splits s into lines of n bytes, as MIME does with base64.
func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\r\n")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

// mustNotContain proves a case tests its decoder: the marker is nowhere in
// the bytes as sent.
func mustNotContain(t *testing.T, r Response, marker string) {
	t.Helper()
	require.NotContains(t, string(r.Body), marker)
	for k, vs := range r.Header {
		for _, v := range vs {
			require.NotContains(t, k+": "+v, marker)
		}
	}
}

// Each case plants one of bob's markers where only its decoder can see it;
// removing the decoder makes the case fail.
func TestScanDecodings(t *testing.T) {
	payload := []byte("<p>message from " + bobCanary + " for you</p>")
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"owner":"bob@example.com","note":"hi"}`))
	jsonB64 := base64.StdEncoding.EncodeToString([]byte("x: " + bobCanary + "\n"))
	cases := []struct {
		name     string
		resp     func(t *testing.T) Response
		marker   string
		where    string
		encoding string
	}{
		{"gzip", func(t *testing.T) Response {
			return bodyResp(gzipped(t, payload), "Content-Encoding", "gzip")
		}, bobCanary, "body", "gzip"},
		{"gzip without header", func(t *testing.T) Response {
			return bodyResp(gzipped(t, payload))
		}, bobCanary, "body", "gzip"},
		{"deflate zlib", func(t *testing.T) Response {
			z := compress(t, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }, payload)
			return bodyResp(z, "Content-Encoding", "deflate")
		}, bobCanary, "body", "deflate"},
		{"deflate raw", func(t *testing.T) Response {
			z := compress(t, func(w io.Writer) io.WriteCloser {
				fw, err := flate.NewWriter(w, flate.BestSpeed)
				require.NoError(t, err)
				return fw
			}, payload)
			return bodyResp(z, "Content-Encoding", "deflate")
		}, bobCanary, "body", "deflate"},
		{"br", func(t *testing.T) Response {
			z := compress(t, func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }, payload)
			return bodyResp(z, "Content-Encoding", "br")
		}, bobCanary, "body", "br"},
		{"two codings", func(t *testing.T) Response {
			z := compress(t, func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }, gzipped(t, payload))
			return bodyResp(z, "Content-Encoding", "gzip, br")
		}, bobCanary, "body", "br>gzip"},
		{"chunked", func(t *testing.T) Response {
			r := bodyResp(chunked(payload, 23))
			r.TransferEncoding = []string{"chunked"}
			return r
		}, bobCanary, "body", "chunked"},
		{"chunked gzip", func(t *testing.T) Response {
			r := bodyResp(chunked(gzipped(t, payload), 7), "Content-Encoding", "gzip")
			r.TransferEncoding = []string{"chunked"}
			return r
		}, bobCanary, "body", "chunked>gzip"},
		{"json escapes", func(t *testing.T) Response {
			return bodyResp([]byte(`{"from":"bob\u0040example.com","note":"` + escapeAt(bobCanary, 5) + `"}`))
		}, "bob@example.com", "body", "json"},
		{"html named entity", func(t *testing.T) Response {
			return bodyResp([]byte("<b>bob&commat;example&period;com</b>"))
		}, "bob@example.com", "body", "html"},
		{"html numeric entities", func(t *testing.T) Response {
			return bodyResp([]byte("<a>bob&#64;example&#x2E;com</a>"))
		}, "bob@example.com", "body", "html"},
		{"percent", func(t *testing.T) Response {
			return bodyResp([]byte("<a href=/u?m=bob%40example.com>x</a>"))
		}, "bob@example.com", "body", "percent"},
		{"form plus", func(t *testing.T) Response {
			return bodyResp([]byte("name=Bob+Builder&x=1"), "Content-Type", "application/x-www-form-urlencoded")
		}, "Bob Builder", "body", "form"},
		{"quoted-printable", func(t *testing.T) Response {
			return bodyResp([]byte("note: " + bobCanary[:10] + "=\r\n" + bobCanary[10:] + " and bob=40example.com"))
		}, bobCanary, "body", "qp"},
		{"base64 std", func(t *testing.T) Response {
			return bodyResp([]byte(`{"blob":"` + b64 + `"}`))
		}, "bob@example.com", "body", "base64"},
		{"base64 url unpadded", func(t *testing.T) Response {
			s := base64.RawURLEncoding.EncodeToString([]byte("??>>" + bobCanary + "??>>"))
			require.True(t, strings.ContainsAny(s, "-_"), "the test must use the URL alphabet")
			return bodyResp([]byte("token=" + s + ";"))
		}, bobCanary, "body", "base64"},
		{"base64 glued to a word", func(t *testing.T) Response {
			s := base64.StdEncoding.EncodeToString([]byte("owner " + bobCanary))
			return bodyResp([]byte("<i>id_" + s + "</i>"))
		}, bobCanary, "body", "base64"},
		{"multipart base64 part", func(t *testing.T) Response {
			enc := wrap(base64.StdEncoding.EncodeToString(payload), 20)
			body := "--XyZ\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" + enc + "\r\n--XyZ--\r\n"
			return bodyResp([]byte(body), "Content-Type", `multipart/mixed; boundary="XyZ"`)
		}, bobCanary, "body", "multipart>base64"},
		{"multipart qp part", func(t *testing.T) Response {
			body := "--b1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nto: bob=40example.com\r\n--b1--\r\n"
			return bodyResp([]byte(body), "Content-Type", "multipart/form-data; boundary=b1")
		}, "bob@example.com", "body", "multipart>qp"},
		{"multipart part header", func(t *testing.T) Response {
			body := "--b1\r\nContent-Disposition: attachment; filename*=UTF-8''bob%40example.com.pdf\r\n\r\nx\r\n--b1--\r\n"
			return bodyResp([]byte(body), "Content-Type", "multipart/mixed; boundary=b1")
		}, "bob@example.com", "body", "multipart>percent"},
		{"nested multipart", func(t *testing.T) Response {
			inner := "--in\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrap(base64.StdEncoding.EncodeToString(payload), 20) + "\r\n--in--\r\n"
			body := "--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n" + inner + "\r\n--out--\r\n"
			return bodyResp([]byte(body), "Content-Type", "multipart/mixed; boundary=out")
		}, bobCanary, "body", "multipart>multipart>base64"},
		{"nested gzip json base64", func(t *testing.T) Response {
			// An escape in the middle of the base64 text hides it from
			// a base64 decoder that has not undone JSON first.
			body := `{"data":"` + escapeAt(jsonB64, len(jsonB64)/2) + `"}`
			return bodyResp(gzipped(t, []byte(body)), "Content-Encoding", "gzip")
		}, bobCanary, "body", "gzip>json>base64"},
		{"nested gzip base64", func(t *testing.T) Response {
			return bodyResp(gzipped(t, []byte(`{"data":"`+jsonB64+`"}`)), "Content-Encoding", "gzip")
		}, bobCanary, "body", "gzip>base64"},
		{"nested percent base64 json", func(t *testing.T) Response {
			inner := base64.URLEncoding.EncodeToString([]byte(`{"m":"bob\u0040example.com"}`))
			return bodyResp([]byte("next=%2Fx%3Fs%3D" + strings.ReplaceAll(inner, "=", "%3D")))
		}, "bob@example.com", "body", "percent>base64>json"},
		{"location header percent", func(t *testing.T) Response {
			return bodyResp(nil, "Location", "/login?next=%2Fmail%2F"+url(bobCanary))
		}, bobCanary, "header:Location", "percent"},
		{"set-cookie base64", func(t *testing.T) Response {
			v := base64.StdEncoding.EncodeToString([]byte(`{"email":"bob@example.com","id":7}`))
			return bodyResp(nil, "Set-Cookie", "prefs="+v+"; Path=/")
		}, "bob@example.com", "header:Set-Cookie", "base64"},
	}
	o := testOracle(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.resp(t)
			if c.encoding != "" {
				mustNotContain(t, r, c.marker)
			}
			ms := o.Scan("alice", r)
			m := findMatch(t, ms, "bob", c.marker, c.where)
			assert.Equal(t, c.encoding, m.Encoding)
			if !strings.HasPrefix(c.where, "header:Set-Cookie") {
				assert.Contains(t, m.Excerpt, c.marker, "the excerpt is decoded text")
			}
			assert.Empty(t, o.Scan("bob", r), "bob's own data")
		})
	}
}

// url percent-encodes the middle byte of s, so that s is found only
// through percent-decoding.
func url(s string) string {
	i := len(s) / 2
	return s[:i] + fmt.Sprintf("%%%02X", s[i]) + s[i+1:]
}

func TestChunkedOnlyWhenSaid(t *testing.T) {
	o := testOracle(t)
	body := chunked([]byte("x "+bobCanary+" y"), 9)
	assert.False(t, hasMarker(o.Scan("alice", bodyResp(body)), bobCanary))
	r := bodyResp(body)
	r.TransferEncoding = []string{"gzip", "chunked"}
	assert.True(t, hasMarker(o.Scan("alice", r), bobCanary))
}

// gzipBomb compresses pad bytes of padding (zeros compress ~1000:1) with
// tail after them.
func gzipBomb(t *testing.T, pad int, tail string) []byte {
	t.Helper()
	var raw bytes.Buffer
	zw, err := gzip.NewWriterLevel(&raw, gzip.BestSpeed)
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for ; pad > 0; pad -= len(zeros) {
		_, err := zw.Write(zeros[:min(pad, len(zeros))])
		require.NoError(t, err)
	}
	_, err = zw.Write([]byte(tail))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return raw.Bytes()
}

// A leak placed after 40 MiB of gzip padding, 40 KB on the wire, is found:
// the body is scanned as a stream, and the cap bounds the memory it takes,
// not what is seen.
func TestLeakAfterGzipPaddingIsFound(t *testing.T) {
	o := testOracle(t)
	z := gzipBomb(t, 40<<20, " "+bobCanary+` bob\u0040example.com `)
	require.Less(t, len(z), 1<<20)
	r := bodyResp(z, "Content-Encoding", "gzip")

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := o.Check("alice", r)
	runtime.ReadMemStats(&after)
	m := findMatch(t, res.Matches, "bob", bobCanary, "body")
	assert.Equal(t, "gzip", m.Encoding)
	assert.Equal(t, "gzip>json", findMatch(t, res.Matches, "bob", "bob@example.com", "body").Encoding,
		"text decodings run on every window, not only the first")
	assert.Empty(t, res.Partial)
	assert.NoError(t, res.Err)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(24<<20), "a 40 MiB body was held in memory")
}

// A marker that lies across the edge of two windows is seen whole.
func TestMarkerAcrossWindowsIsFound(t *testing.T) {
	o := testOracle(t)
	for _, at := range []int{window - len(bobCanary)/2, 2*window - windowOverlap - 3} {
		data := bytes.Repeat([]byte{'.'}, at)
		data = append(data, []byte(" "+bobCanary+" ")...)
		data = append(data, bytes.Repeat([]byte{'.'}, 1000)...)
		res := o.Check("alice", bodyResp(gzipped(t, data), "Content-Encoding", "gzip"))
		assert.True(t, hasMarker(res.Matches, bobCanary), "at %d", at)
		assert.Empty(t, res.Partial)
	}
}

// Beyond the scan bound the body is cut, and the result says so.
func TestBodyBeyondTheStreamBoundIsPartial(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 257 MiB")
	}
	o := testOracle(t)
	res := o.Check("alice", bodyResp(gzipBomb(t, maxStreamed+1<<20, " "+bobCanary+" "), "Content-Encoding", "gzip"))
	assert.False(t, hasMarker(res.Matches, bobCanary))
	assert.Contains(t, res.Partial, "more than 256 MiB")
	assert.NoError(t, res.Err, "a large body is not a broken one")
}

func TestTruncatedGzipIsScannedAsFarAsItGoes(t *testing.T) {
	o := testOracle(t)
	data := append([]byte("start "+bobCanary+" "), bytes.Repeat([]byte("filler text that goes on "), 4000)...)
	z := gzipped(t, data)
	res := o.Check("alice", bodyResp(z[:len(z)/2], "Content-Encoding", "gzip"))
	m := findMatch(t, res.Matches, "bob", bobCanary, "body")
	assert.Equal(t, "gzip", m.Encoding)
	assert.Contains(t, res.Partial, "cut short", "a cut body was not fully scanned")
	assert.NoError(t, res.Err)

	full := o.Check("alice", bodyResp(z, "Content-Encoding", "gzip"))
	assert.Empty(t, full.Partial)
}

// A body whose headers say gzip but which is not gzip is an error, not a
// clean body; what it carries as sent is still found.
func TestUndecodableBodyIsAnError(t *testing.T) {
	o := testOracle(t)
	for _, ce := range []string{"gzip", "br", "gzip, gzip"} {
		res := o.Check("alice", bodyResp([]byte("plain "+bobCanary+" text, not compressed"), "Content-Encoding", ce))
		assert.Error(t, res.Err, ce)
		assert.NotEmpty(t, res.Partial, ce)
		assert.True(t, hasMarker(res.Matches, bobCanary), ce)
	}
	corrupt := gzipped(t, bytes.Repeat([]byte("some text to compress "), 2000))
	corrupt[len(corrupt)/2] ^= 0xff
	corrupt[len(corrupt)/2+1] ^= 0xff
	res := o.Check("alice", bodyResp(corrupt, "Content-Encoding", "gzip"))
	assert.Error(t, res.Err, "corrupt data inside a gzip stream")

	unknown := o.Check("alice", bodyResp([]byte("x "+bobCanary), "Content-Encoding", "zstd"))
	assert.NoError(t, unknown.Err, "a coding crosstalk does not know is not the target's fault")
	assert.Contains(t, unknown.Partial, "zstd")

	clean := o.Check("alice", bodyResp(gzipped(t, []byte("nothing here")), "Content-Encoding", "gzip"))
	assert.NoError(t, clean.Err)
	assert.Empty(t, clean.Partial)
	binary := o.Check("alice", bodyResp([]byte("\x1f\x8b\x08 binary that starts like gzip")))
	assert.NoError(t, binary.Err, "no header claimed gzip")
}

func TestBadEncodingsDoNotStopTheScan(t *testing.T) {
	o := testOracle(t)
	for _, ce := range []string{"gzip", "deflate", "br", "zstd", "gzip, gzip, gzip, gzip, gzip, gzip"} {
		ms := o.Scan("alice", bodyResp([]byte("plain "+bobCanary+" text"), "Content-Encoding", ce))
		assert.True(t, hasMarker(ms, bobCanary), ce)
	}
	r := bodyResp([]byte("zz\r\nnot chunked " + bobCanary))
	r.TransferEncoding = []string{"chunked"}
	assert.True(t, hasMarker(o.Scan("alice", r), bobCanary))
	mp := bodyResp([]byte("--b\r\nbroken "+bobCanary), "Content-Type", "multipart/mixed; boundary=b")
	assert.True(t, hasMarker(o.Scan("alice", mp), bobCanary))
}

func TestBinaryBase64IsNotDecoded(t *testing.T) {
	// Random-looking bytes that happen to contain a short marker, as
	// base64 in a data URI: an image is not text and is not matched.
	o, err := New([]Marker{{Owner: "bob", Kind: Identity, Value: "bob", Label: "login"}})
	require.NoError(t, err)
	blob := []byte{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0xfe, ' ', 'b', 'o', 'b', ' ', 0x01, 0x9c, 0xff, 0x00, 0x80, 0x7f}
	page := `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(blob) + `">`
	assert.Empty(t, o.Scan("alice", bodyResp([]byte(page))))
	text := base64.StdEncoding.EncodeToString([]byte("message from bob to you"))
	assert.Len(t, o.Scan("alice", bodyResp([]byte(text))), 1)
}

func TestDecoders(t *testing.T) {
	cases := []struct {
		name string
		fn   func([]byte) []byte
		in   string
		want string // "" means no trigger: nil
	}{
		{"json none", jsonUnescape, `plain \x text`, ""},
		{"json all", jsonUnescape, `a\"b\\c\/d\b\f\n\r\te\u00e9\ud83d\ude00\u12 \q\`, "a\"b\\c/d\b\f\n\r\te\u00e9\U0001F600\\u12 \\q\\"},
		{"html none", htmlUnescape, "a & b &1", ""},
		{"html", htmlUnescape, "&lt;&#65;&#x42;&amp;&unknown;", "<AB&&unknown;"},
		{"percent none", percentDecode, "100% %zz a+b", ""},
		{"percent", percentDecode, "a%40b%2fc+d%4", "a@b/c+d%4"},
		{"form", formDecode, "a+b%2Bc", "a b+c"},
		{"form none", formDecode, "a%20b", ""},
		{"qp none", qpDecode, `a="b" c=zz`, ""},
		{"qp", qpDecode, "a=3Db=\r\nc=\nd=e9=", "a=bcd\xe9="},
		{"base64 none", base64Runs, "short AbCdEf and all-lowercase-path-names-here", ""},
		{"base64", base64Runs, "x " + base64.StdEncoding.EncodeToString([]byte("hello world, again")) + " y", "hello world, again"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.fn([]byte(c.in))
			if c.want == "" {
				assert.Nil(t, got)
				return
			}
			assert.Equal(t, c.want, string(got))
		})
	}
}

func TestDechunk(t *testing.T) {
	assert.Equal(t, "hello world", string(dechunk([]byte("5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"))))
	assert.Equal(t, "hel", string(dechunk([]byte("a\r\nhel"))), "truncated capture")
	assert.Nil(t, dechunk([]byte("not chunked")))
	assert.Nil(t, dechunk([]byte("ffffffffffffffffff\r\nx")), "size overflow")
}

func TestContentCodings(t *testing.T) {
	h := http.Header{"Content-Encoding": {"gzip, identity", " BR "}}
	assert.Equal(t, []string{"br", "gzip"}, contentCodings(h))
}

func TestDecodeContent(t *testing.T) {
	plain := []byte(`{"token":"abc"}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(plain)
	require.NoError(t, zw.Close())
	h := http.Header{"Content-Encoding": {"gzip"}}
	assert.Equal(t, plain, DecodeContent(h, gz.Bytes()))
	assert.Equal(t, plain, DecodeContent(http.Header{}, plain), "no coding: as is")
	assert.Equal(t, []byte("not gzip"), DecodeContent(h, []byte("not gzip")), "a broken coding leaves the body")
}
