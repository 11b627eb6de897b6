package oracle

import (
	"bytes"
	"hash/maphash"
	"net/http"
	"slices"
	"strconv"
)

// maxTextDepth bounds how deeply text decodings nest (JSON escapes inside
// base64 inside percent-encoding, say). Each level multiplies the work by the
// decoders that trigger, so the bound keeps hostile input cheap.
const maxTextDepth = 3

// maxDecoded caps the bytes all decodings of one response may produce
// together, decompression included.
const maxDecoded = 64 << 20

// shortMarker is the length under which a marker must be found in text-like
// surroundings: three or four bytes match by chance in a binary body, longer
// ones practically never.
const shortMarker = 8

var hashSeed = maphash.MakeSeed()

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
// characters in either alphabet. Text decodings nest up to 3 deep, and all
// decoding of one response is capped at 64 MiB (32 MiB per decompression).
// Match.Encoding names the chain, outermost first, for example
// "chunked>gzip>json>base64".
//
// Scan reports each (owner, marker value, where) once, in the order found,
// the plainest encoding first. It never panics and is safe for concurrent
// use.
func (o *Oracle) Scan(viewer string, r Response) []Match {
	m, _ := o.ScanOwn(viewer, r)
	return m
}

// ScanOwn is [Oracle.Scan] that also reports whether r carries any of the
// viewer's own markers, secrets aside (a session cookie or an echoed
// credential is not the user's data). A response with none of them is one
// where the scan could not have told a leak from a page that holds nobody's
// data: a login page, an error, an empty list.
func (o *Oracle) ScanOwn(viewer string, r Response) (matches []Match, own bool) {
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
	return s.out, s.own
}

// scan is the state of one Scan call.
type scan struct {
	o      *Oracle
	viewer int32
	out    []Match
	found  map[foundKey]struct{}
	seen   map[uint64]struct{}
	budget int
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

func (s *scan) scanBody(r Response) {
	body := r.Body
	if len(body) == 0 {
		return
	}
	type stage struct {
		chain string
		body  []byte
	}
	stages := []stage{{"", body}}
	if isChunked(r.TransferEncoding) {
		if d := dechunk(body); d != nil {
			s.budget -= len(d)
			stages = append(stages, stage{"chunked", d})
		}
	}
	codings := contentCodings(r.Header)
	if len(codings) == 0 && isGzip(stages[len(stages)-1].body) {
		codings = []string{"gzip"}
	}
	if len(codings) > maxCodings {
		codings = codings[:maxCodings]
	}
	for _, c := range codings {
		last := stages[len(stages)-1]
		name, d := inflate(c, last.body, min(maxInflate, max(s.budget, 0)))
		if d == nil {
			break
		}
		s.budget -= len(d)
		stages = append(stages, stage{joinChain(last.chain, name), d})
	}
	// Text decodings run on the final form only: framing and compressed
	// bytes are not text, and decoding them would only cost time and
	// invite chance matches. Multipart parts go first so that a part's own
	// Content-Transfer-Encoding names the chain rather than a decoder that
	// happens to see through it too.
	for _, st := range stages {
		s.match("body", st.chain, st.body)
	}
	last := stages[len(stages)-1]
	if b := multipartBoundary(r.Header.Get("Content-Type")); b != "" {
		s.scanMultipart(last.chain, last.body, b, 0)
	}
	s.decodeText("body", last.chain, 0, last.body)
}

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
