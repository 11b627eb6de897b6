package oracle

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// maxTextDepth bounds how deeply text decodings nest (JSON escapes inside
// base64 inside percent-encoding, say). Each level multiplies the work by the
// decoders that trigger, so the bound keeps hostile input cheap.
const maxTextDepth = 3

// maxDecoded caps the bytes the text decodings of one response may produce
// together.
const maxDecoded = 64 << 20

// window is how much of a decompressed body is held at once. A body that
// decompresses to more is scanned window by window, so that the cap bounds
// memory and not what is seen.
const window = 4 << 20

// windowOverlap is carried from one window into the next, so that a marker
// (and its encoding) lying across the edge is still seen whole.
const windowOverlap = 64 << 10

// maxStreamed bounds the decompressed bytes scanned of one response: a
// compression bomb of a few MiB on the wire would otherwise cost minutes of
// scanning. Beyond it the result says the body was cut.
const maxStreamed = 256 << 20

// shortMarker is the length under which a marker must be found in text-like
// surroundings: three or four bytes match by chance in a binary body, longer
// ones practically never.
const shortMarker = 8

var hashSeed = maphash.MakeSeed()

// Result is what one [Oracle.Check] saw of a response.
type Result struct {
	// Matches are the markers of other users found, as [Oracle.Scan]
	// returns them.
	Matches []Match
	// Partial says why part of the response was not scanned ("" when all of
	// it was): a body cut short inside its compression, one larger than the
	// scan bounds, a coding crosstalk does not decode. A response that was
	// not fully scanned cannot show that the viewer saw only its own data.
	Partial string
	// Err is set when the body does not decode as its headers say, such as
	// "Content-Encoding: gzip" on bytes that are not gzip: a target error,
	// not a clean body. Partial is then set too.
	Err error
	// Own says the response carried a marker of the viewer's own that is
	// not a secret: the scan could have told a leak from this page.
	Own bool
}

// Scan returns every marker of a user other than viewer found in r: in the
// status line, in each header line ("Name: value", Set-Cookie and Location
// included) and in the body. A marker counts only at a token boundary: the
// bytes next to it must not be ASCII letters or digits.
//
// The body is scanned as sent and through the decodings its headers call
// for: chunked framing (only when r.TransferEncoding says so), then each
// Content-Encoding ("gzip", "deflate" in zlib or raw form, "br"; a body
// starting with the gzip magic is inflated too), then multipart parts with
// their Content-Transfer-Encoding. Every text, header values included, is
// also scanned through the text decodings that its bytes trigger: "json"
// escapes, "html" character references, "percent" escapes, "form" encoding
// ('+' for space), "qp" (quoted-printable) and "base64" runs of 16 or more
// characters in either alphabet. Text decodings nest up to 3 deep and
// produce at most 64 MiB per response. A decompressed body is scanned as a
// stream, 4 MiB at a time, up to 256 MiB; multipart parts are told apart in
// bodies that decompress to at most 4 MiB. Match.Encoding names the chain,
// outermost first, for example "chunked>gzip>json>base64".
//
// Scan reports each (owner, marker value, where) once, in the order found,
// the plainest encoding first. It never panics and is safe for concurrent
// use. [Oracle.Check] also says whether the whole response was scanned.
func (o *Oracle) Scan(viewer string, r Response) []Match {
	return o.Check(viewer, r).Matches
}

// ScanOwn is [Oracle.Scan] that also reports whether r carries any of the
// viewer's own markers, secrets aside (a session cookie or an echoed
// credential is not the user's data). A response with none of them is one
// where the scan could not have told a leak from a page that holds nobody's
// data: a login page, an error, an empty list.
func (o *Oracle) ScanOwn(viewer string, r Response) (matches []Match, own bool) {
	res := o.Check(viewer, r)
	return res.Matches, res.Own
}

// Check scans r as [Oracle.Scan] does and also says what it could not scan,
// and whether r carried the viewer's own data (see [Oracle.ScanOwn]).
func (o *Oracle) Check(viewer string, r Response) Result {
	s := &scan{o: o, viewer: -1, budget: maxDecoded}
	if id, ok := o.owners[viewer]; ok {
		s.viewer = id
	}
	s.visitFn = s.visit
	if r.Status != 0 {
		s.scanText("status", "", 0, []byte(strconv.Itoa(r.Status)+" "+http.StatusText(r.Status)))
	}
	s.scanHeaders(r.Header)
	s.scanBody(r)
	return Result{Matches: s.out, Partial: s.partial, Err: s.err, Own: s.own}
}

// scan is the state of one Scan call.
type scan struct {
	o      *Oracle
	viewer int32
	out    []Match
	found  map[foundKey]struct{}
	seen   map[uint64]struct{}
	budget int
	// partial and err become Result.Partial and Result.Err; the first
	// reason is kept.
	partial string
	err     error
	// own: a marker of the viewer's own, not a secret, was found.
	own bool

	// Set for the text being matched, read by visit.
	where      string
	shownWhere string // where, with any secret in a header name redacted
	chain      string
	text       []byte
	// fixedExcerpt replaces the excerpt of matches in headers whose values
	// are credentials.
	fixedExcerpt string
	visitFn      func(id int32, s, e int)
}

type foundKey struct {
	id    int32
	where string
}

func joinChain(chain, name string) string {
	if chain == "" {
		return name
	}
	return chain + ">" + name
}

func (s *scan) scanHeaders(h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		where := "header:" + name
		for _, v := range h[name] {
			line := name + ": " + v
			if credentialHeader(name) {
				s.fixedExcerpt = s.o.credentialExcerpt(name, v)
			}
			s.scanText(where, "", 0, []byte(line))
			s.fixedExcerpt = ""
		}
	}
}

// cut records why part of the response was not scanned.
func (s *scan) cut(format string, a ...any) {
	if s.partial == "" {
		s.partial = fmt.Sprintf(format, a...)
	}
}

// fail records a body that does not decode as its headers say.
func (s *scan) fail(err error) {
	if s.err == nil {
		s.err = err
		s.cut("%v", err)
	}
}

func (s *scan) scanBody(r Response) {
	body := r.Body
	if len(body) == 0 {
		return
	}
	s.match("body", "", body)
	chain := ""
	if isChunked(r.TransferEncoding) {
		if d := dechunk(body); d != nil {
			s.budget -= len(d)
			chain, body = "chunked", d
			s.match("body", chain, body)
		}
	}
	codings := contentCodings(r.Header)
	said := len(codings) > 0
	if !said && isGzip(body) {
		codings = []string{"gzip"}
	}
	if len(codings) > maxCodings {
		s.cut("%d content codings: only the first %d were undone", len(codings), maxCodings)
		codings = codings[:maxCodings]
	}
	boundary := multipartBoundary(r.Header.Get("Content-Type"))
	// Each coding reads the one before it as a stream; only the first
	// reads the body in memory.
	var in io.Reader
	var between []*windowMatcher
	inChain := chain
	for _, c := range codings {
		prefix := body
		if in != nil {
			// Read ahead only where another coding follows.
			br := bufio.NewReaderSize(in, probeBytes)
			prefix, _ = br.Peek(probeBytes)
			in = br
		}
		name := c
		kind, err := probeCoding(c, prefix)
		if err != nil {
			switch {
			case !said:
				// Bytes that only looked like gzip: binary, not a failure.
			case errors.Is(err, errUnknownCoding):
				s.cut("content coding %q is not decoded: the body was scanned as it came", c)
			default:
				s.fail(fmt.Errorf("the body does not decode as Content-Encoding %s says: %v", c, err))
			}
			break
		}
		if c == "x-gzip" {
			name = "gzip"
		}
		var src io.Reader = bytes.NewReader(body)
		if in != nil {
			// The stream before this coding is scanned as it is read,
			// as a form of the body in its own right.
			wm := &windowMatcher{s: s, chain: inChain}
			between = append(between, wm)
			src = io.TeeReader(in, wm)
		}
		in = &codingReader{name: name, r: newDecoder(kind, src)}
		inChain = joinChain(inChain, name)
	}
	if in == nil {
		s.finalForm(chain, body, boundary)
		return
	}
	s.scanStream(inChain, in, boundary)
	for _, wm := range between {
		wm.flush()
	}
}

// finalForm scans the last decoded form of a body held whole in memory:
// multipart parts first, so that a part's own Content-Transfer-Encoding
// names the chain rather than a decoder that happens to see through it too,
// then the text decodings. Framing and compressed bytes are not text, and
// decoding them would only cost time and invite chance matches, so text
// decodings run on this form only.
func (s *scan) finalForm(chain string, body []byte, boundary string) {
	if boundary != "" {
		s.scanMultipart(chain, body, boundary, 0)
	}
	s.decodeText("body", chain, 0, body)
}

// scanStream scans a decompressed body window by window. A body that fits
// in one window is scanned exactly as one held in memory.
func (s *scan) scanStream(chain string, r io.Reader, boundary string) {
	bp := windows.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		// Matches copy what they show, so the window can serve the next
		// scan; keeping it spares a decompressed body's allocations.
		*bp = buf[:0]
		windows.Put(bp)
	}()
	total, streamed := 0, false
	var err error
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), window-cap(buf)))
		}
		var n int
		n, err = r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		total += n
		if len(buf) >= window && err == nil {
			s.match("body", chain, buf)
			s.decodeText("body", chain, 0, buf)
			streamed = true
			buf = buf[:copy(buf, buf[len(buf)-windowOverlap:])]
		}
		if total > maxStreamed {
			s.cut("the body decompresses to more than %d MiB; the rest was not scanned", maxStreamed>>20)
			break
		}
		if err != nil {
			break
		}
	}
	s.match("body", chain, buf)
	if streamed {
		if boundary != "" {
			s.cut("the multipart body decompresses to more than %d MiB: its parts were scanned as text, not one by one", window>>20)
		}
		s.decodeText("body", chain, 0, buf)
	} else {
		s.finalForm(chain, buf, boundary)
	}
	if c, ok := r.(interface{ Close() error }); ok {
		_ = c.Close()
	}
	var ce *codingError
	switch {
	case err == nil || errors.Is(err, io.EOF):
	case errors.Is(err, io.ErrUnexpectedEOF):
		// What was sent decoded well; it stops early, as a body cut at
		// max_body or by a dropped connection does.
		s.cut("the body ends inside its compressed stream: it was cut short, and what was sent was scanned")
	case errors.As(err, &ce):
		s.fail(fmt.Errorf("the body does not decode as Content-Encoding %s says: %v", ce.name, ce.err))
	default:
		s.fail(fmt.Errorf("the body does not decode: %v", err))
	}
}

// windows recycles the buffers decompressed bodies are scanned in.
var windows = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// codingReader names the coding whose decoder failed.
type codingReader struct {
	name string
	r    io.Reader
}

type codingError struct {
	name string
	err  error
}

func (e *codingError) Error() string { return e.name + ": " + e.err.Error() }
func (e *codingError) Unwrap() error { return e.err }

func (c *codingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		var ce *codingError
		if !errors.As(err, &ce) && !errors.Is(err, io.ErrUnexpectedEOF) {
			err = &codingError{c.name, err}
		}
	}
	return n, err
}

// windowMatcher matches markers in a stream as it is written, window by
// window with an overlap, for the forms between two codings.
type windowMatcher struct {
	s     *scan
	chain string
	buf   []byte
}

func (w *windowMatcher) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n := min(len(rest), window-len(w.buf))
		w.buf = append(w.buf, rest[:n]...)
		rest = rest[n:]
		if len(w.buf) == window {
			w.s.match("body", w.chain, w.buf)
			w.buf = w.buf[:copy(w.buf, w.buf[len(w.buf)-windowOverlap:])]
		}
	}
	return len(p), nil
}

// flush matches what is left once the stream has ended.
func (w *windowMatcher) flush() { w.s.match("body", w.chain, w.buf) }

// scanText matches markers in text and in every text decoding that text
// triggers, recursively.
func (s *scan) scanText(where, chain string, depth int, text []byte) {
	s.match(where, chain, text)
	s.decodeText(where, chain, depth, text)
}

// decodeText scans every text decoding that text triggers.
func (s *scan) decodeText(where, chain string, depth int, text []byte) {
	if depth >= maxTextDepth {
		return
	}
	for _, d := range textDecoders {
		if s.budget <= 0 {
			return
		}
		out := d.decode(text)
		if out == nil {
			continue
		}
		s.budget -= len(out)
		if len(out) == 0 || bytes.Equal(out, text) || s.seenBefore(where, out) {
			continue
		}
		s.scanText(where, joinChain(chain, d.name), depth+1, out)
	}
}

// seenBefore reports whether the same text was already scanned at where,
// as happens when two decoders commute ("percent>html" and "html>percent").
func (s *scan) seenBefore(where string, text []byte) bool {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	h.WriteString(where)
	h.WriteByte(0)
	h.Write(text)
	sum := h.Sum64()
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
	}
	if _, ok := s.seen[sum]; ok {
		return true
	}
	s.seen[sum] = struct{}{}
	return false
}

func (s *scan) match(where, chain string, text []byte) {
	if s.where != where {
		s.where = where
		s.shownWhere = s.o.Redact(where)
	}
	s.chain = chain
	s.text = text
	s.o.ix.find(text, s.visitFn)
	s.text = nil
}

func (s *scan) visit(id int32, start, end int) {
	m := &s.o.marks[id]
	if m.owner == s.viewer {
		if !s.own && !m.Secret && (end-start >= shortMarker || texty(s.text[max(0, start-16):min(len(s.text), end+16)])) {
			s.own = true
		}
		return
	}
	key := foundKey{id, s.where}
	if _, ok := s.found[key]; ok {
		return
	}
	if end-start < shortMarker && !texty(s.text[max(0, start-16):min(len(s.text), end+16)]) {
		return
	}
	if s.found == nil {
		s.found = map[foundKey]struct{}{}
	}
	s.found[key] = struct{}{}
	excerpt := s.fixedExcerpt
	if excerpt == "" {
		excerpt = s.o.excerpt(s.text, start, end)
	}
	s.out = append(s.out, Match{
		Owner:    m.Owner,
		Kind:     m.Kind,
		Label:    m.Label,
		Marker:   m.display,
		Where:    s.shownWhere,
		Encoding: s.chain,
		Excerpt:  excerpt,
	})
}
