package oracle

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"io"
	"testing"

	"github.com/andybalholm/brotli"
)

// Fuzz flags: how the harness wraps the fuzzed body.
const (
	fuzzChunked   = 1 << iota // set Transfer-Encoding: chunked
	fuzzGzip                  // gzip the body and say so
	fuzzDeflate               // zlib the body and say so
	fuzzBr                    // brotli the body and say so
	fuzzMultipart             // say the body is multipart with boundary "b"
	fuzzSay                   // claim gzip without compressing
)

func fuzzResponse(t testing.TB, body []byte, header string, flags uint8) Response {
	h := map[string][]string{
		"X-Fuzz":     {header},
		"Location":   {header},
		"Set-Cookie": {header},
	}
	switch {
	case flags&fuzzGzip != 0:
		body = gzipped(t, body)
		h["Content-Encoding"] = []string{"gzip"}
	case flags&fuzzDeflate != 0:
		body = compress(t, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) }, body)
		h["Content-Encoding"] = []string{"deflate"}
	case flags&fuzzBr != 0:
		body = compress(t, func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }, body)
		h["Content-Encoding"] = []string{"br"}
	case flags&fuzzSay != 0:
		h["Content-Encoding"] = []string{"gzip, br"}
	}
	if flags&fuzzMultipart != 0 {
		h["Content-Type"] = []string{"multipart/mixed; boundary=b"}
	}
	r := Response{Status: 200, Header: h, Body: body}
	if flags&fuzzChunked != 0 {
		r.Body = chunked(body, 5)
		r.TransferEncoding = []string{"chunked"}
	}
	return r
}

func FuzzScan(f *testing.F) {
	secretNear := []byte("x " + bobSecret + " " + bobCanary + " " + bobPassword)
	f.Add([]byte("hello "+bobCanary+" user10 bob@example.com"), "sid="+bobSecret, uint8(0))
	f.Add(secretNear, "Bearer "+bobPassword, uint8(fuzzGzip|fuzzChunked))
	f.Add([]byte(`{"a":"`+base64.StdEncoding.EncodeToString(secretNear)+`","b":"bob\u0040example.com"}`), "", uint8(fuzzBr))
	f.Add([]byte("--b\r\nContent-Transfer-Encoding: base64\r\n\r\n"+base64.StdEncoding.EncodeToString(secretNear)+"\r\n--b--\r\n"), "", uint8(fuzzMultipart|fuzzDeflate))
	f.Add([]byte("--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+bobSecret[:5]+"=\r\n"+bobSecret[5:]+"\r\n--b"), "", uint8(fuzzMultipart))
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), "%41%", uint8(fuzzSay))
	f.Add([]byte("5\r\nab"), "=4=\r\n&#x;&#99999999;\\u12", uint8(fuzzChunked))
	f.Add([]byte(bobSecret+"\x00"+bobSecret[3:]), bobSecret[:6], uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, header string, flags uint8) {
		o := testOracle(t)
		res := o.Check("alice", fuzzResponse(t, body, header, flags))
		if res.Err != nil && res.Partial == "" {
			t.Fatalf("an undecodable body is not marked partial: %v", res.Err)
		}
		ms := res.Matches
		assertNoSecret(t, ms, bobSecret, bobPassword, aliceSecret)
		seen := map[[3]string]bool{}
		for _, m := range ms {
			if m.Owner == "alice" {
				t.Fatalf("viewer's own marker reported: %+v", m)
			}
			k := [3]string{m.Owner, m.Marker, m.Where}
			if m.Marker != Redacted && seen[k] {
				t.Fatalf("reported twice: %+v", m)
			}
			seen[k] = true
		}
	})
}

func FuzzLearn(f *testing.F) {
	f.Add([]byte("Order ORD-7731-AX"), []byte("Order ORD-7731-AX nonce Ab12Cd34"), []byte("Order ORD-2231-BQ"))
	f.Add([]byte(`{"e":"a\u0040b.example","id":"X1-22-yy"}`), []byte(`{"e":"a@b.example"}`), []byte("a@b.example"))
	f.Add([]byte("&amp;Tok-9999z&#64;"), []byte("Tok-9999z@"), []byte(""))
	f.Fuzz(func(t *testing.T, a1, a2, b []byte) {
		in := []Baseline{
			{User: "alice", First: [][]byte{a1}, Second: [][]byte{a2}},
			{User: "bob", First: [][]byte{b}, Second: [][]byte{b}},
		}
		got := Learn(in)
		again := Learn(in)
		if len(got) != len(again) {
			t.Fatalf("not deterministic: %v vs %v", got, again)
		}
		for i := range got {
			if got[i] != again[i] {
				t.Fatalf("not deterministic: %v vs %v", got, again)
			}
		}
		o, err := New(got)
		if err != nil {
			t.Fatalf("learned markers rejected: %v", err)
		}
		for _, m := range got {
			if m.Kind != Learned || len(m.Value) < minLearned {
				t.Fatalf("bad marker %+v", m)
			}
			if m.Owner == "alice" && (!bytes.Contains(normalize(a1), []byte(m.Value)) || !bytes.Contains(normalize(a2), []byte(m.Value))) {
				t.Fatalf("%q is not in both of alice's fetches", m.Value)
			}
		}
		o.ix.find(b, func(id int32, _, _ int) {
			if o.marks[id].Owner != "bob" {
				t.Fatalf("alice's %q learned though it is in bob's baseline", o.marks[id].Value)
			}
		})
	})
}
