package oracle

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"

	"github.com/andybalholm/brotli"
)

// maxInflate caps what [DecodeContent] holds of one decompressed body, so
// that a small compressed bomb cannot take the memory of the harness.
const maxInflate = 32 << 20

// maxCodings is the most content codings applied to one body; real servers
// use one.
const maxCodings = 4

// maxMultipartDepth bounds multipart bodies nested inside parts.
const maxMultipartDepth = 3

// isChunked reports whether the transfer codings end in chunked framing.
func isChunked(te []string) bool {
	for _, v := range te {
		for _, c := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(c), "chunked") {
				return true
			}
		}
	}
	return false
}

// dechunk removes chunked framing. It keeps whatever it could decode from a
// truncated or damaged capture, and returns nil if not even the first chunk
// header parses.
func dechunk(b []byte) []byte {
	var out []byte
	ok := false
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			break
		}
		line := b[:nl]
		if k := bytes.IndexByte(line, ';'); k >= 0 {
			line = line[:k] // chunk extensions
		}
		size, valid := parseChunkSize(bytes.TrimSpace(line))
		if !valid {
			break
		}
		ok = true
		b = b[nl+1:]
		if size == 0 {
			break
		}
		if size > len(b) {
			out = append(out, b...)
			break
		}
		out = append(out, b[:size]...)
		b = b[size:]
		if bytes.HasPrefix(b, []byte("\r\n")) {
			b = b[2:]
		} else if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
	if !ok {
		return nil
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

func parseChunkSize(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false // 15 hex digits cannot overflow an int
	}
	n := 0
	for _, c := range b {
		d, ok := unhex(c)
		if !ok {
			return 0, false
		}
		n = n<<4 | int(d)
	}
	return n, true
}

// contentCodings lists the Content-Encoding of h in the order to undo them,
// last applied first, without "identity".
func contentCodings(h http.Header) []string {
	var cs []string
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			if c != "" && c != "identity" {
				cs = append(cs, c)
			}
		}
	}
	slices.Reverse(cs)
	return cs
}

// inflate undoes one content coding in memory, reading at most limit
// bytes, for [DecodeContent]. A truncated stream yields what was decoded
// before the damage; nil means nothing could be decoded or the coding is
// unknown.
func inflate(coding string, b []byte, limit int) (name string, out []byte) {
	name, r, err := openCoding(coding, b)
	if err != nil {
		return name, nil
	}
	out, _ = io.ReadAll(io.LimitReader(r, int64(limit)))
	if len(out) == 0 {
		return name, nil
	}
	return name, out
}

// errUnknownCoding is a content coding the oracle cannot undo.
var errUnknownCoding = errors.New("not a coding crosstalk decodes")

// openCoding returns a reader that undoes coding on the stream whose first
// bytes are prefix, and the coding's name for Match.Encoding. It reads
// prefix only to choose: the reader it returns must be built again over the
// whole stream with [newDecoder]. A non-nil error means the stream does not
// start like the coding at all.
func openCoding(coding string, prefix []byte) (string, io.Reader, error) {
	name := coding
	if coding == "x-gzip" {
		name = "gzip"
	}
	kind, err := probeCoding(coding, prefix)
	if err != nil {
		return name, nil, err
	}
	return name, newDecoder(kind, bytes.NewReader(prefix)), nil
}

// Decoder kinds: deflate comes in two forms.
const (
	kindGzip = iota
	kindZlib
	kindFlate
	kindBrotli
)

// probeCoding tells which decoder undoes coding for a stream starting with
// prefix, by decoding its first byte.
func probeCoding(coding string, prefix []byte) (int, error) {
	try := func(kind int) error {
		var one [1]byte
		n, err := io.ReadFull(newDecoder(kind, bytes.NewReader(prefix)), one[:])
		if n == 1 || errors.Is(err, io.EOF) {
			return nil // a byte, or a valid empty stream
		}
		if errors.Is(err, io.ErrUnexpectedEOF) && len(prefix) < probeBytes {
			return nil // the whole body is shorter than a header: cut
		}
		return err
	}
	switch coding {
	case "gzip", "x-gzip":
		return kindGzip, try(kindGzip)
	case "deflate":
		// Servers disagree on whether deflate means zlib (as the RFC
		// says) or raw deflate, so both are tried.
		if try(kindZlib) == nil {
			return kindZlib, nil
		}
		return kindFlate, try(kindFlate)
	case "br":
		return kindBrotli, try(kindBrotli)
	}
	return 0, errUnknownCoding
}

// probeBytes is how much of a coded stream is read ahead to choose its
// decoder.
const probeBytes = 64 << 10

// newDecoder returns a decoder of kind reading r. Errors surface on Read.
func newDecoder(kind int, r io.Reader) io.Reader {
	switch kind {
	case kindGzip:
		return &lazyReader{open: func() (io.Reader, error) { return gzip.NewReader(r) }}
	case kindZlib:
		return &lazyReader{open: func() (io.Reader, error) { return zlib.NewReader(r) }}
	case kindFlate:
		return flate.NewReader(r)
	}
	return &safeReader{r: brotli.NewReader(r)}
}

// lazyReader opens its decoder, which reads a header, on the first Read.
type lazyReader struct {
	open func() (io.Reader, error)
	r    io.Reader
	err  error
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil && l.err == nil {
		l.r, l.err = l.open()
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.r.Read(p)
}

// safeReader turns a panic of the brotli decoder, a port of C code, into an
// error: a bug in it must cost one decoding, not the scan.
type safeReader struct{ r io.Reader }

func (s *safeReader) Read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("decoder failed: %v", v)
		}
	}()
	return s.r.Read(p)
}

// isGzip reports whether b starts like a gzip stream, for bodies that are
// compressed without saying so.
func isGzip(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8
}

// multipartBoundary returns the boundary of a multipart Content-Type, or "".
func multipartBoundary(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return ""
	}
	return params["boundary"]
}

// scanMultipart scans each part's headers and body, the body decoded by its
// Content-Transfer-Encoding. A damaged body is scanned as far as it parses.
func (s *scan) scanMultipart(chain string, body []byte, boundary string, depth int) {
	chain = joinChain(chain, "multipart")
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for s.budget > 0 {
		p, err := mr.NextRawPart()
		if err != nil {
			return
		}
		s.scanText("body", chain, 0, partHeader(p.Header))
		data, _ := io.ReadAll(io.LimitReader(p, int64(s.budget)))
		s.budget -= len(data)
		partChain := chain
		switch strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))) {
		case "base64":
			data = decodeBase64Body(data)
			partChain = joinChain(chain, "base64")
		case "quoted-printable":
			if d := qpDecode(data); d != nil {
				data = d
				partChain = joinChain(chain, "qp")
			}
		}
		s.match("body", partChain, data)
		if b := multipartBoundary(p.Header.Get("Content-Type")); b != "" && depth+1 < maxMultipartDepth {
			s.scanMultipart(partChain, data, b, depth+1)
		}
		s.decodeText("body", partChain, 0, data)
	}
}

// partHeader renders a part's header as text, sorted so scans repeat.
func partHeader(h map[string][]string) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return b.Bytes()
}

// DecodeContent undoes the Content-Encoding of a body (gzip, deflate, br, in
// any stack), capped like a scan's decompression. The harness uses it to
// read its own users' responses (extraction, login checks), so that what it
// reads and what the oracle scans are decoded the same way. A coding it
// cannot undo leaves the body as it was at that point.
func DecodeContent(h http.Header, body []byte) []byte {
	for i, c := range contentCodings(h) {
		if i == maxCodings {
			break
		}
		_, out := inflate(c, body, maxInflate)
		if out == nil {
			return body
		}
		body = out
	}
	return body
}
