package oracle

import (
	"bytes"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// excerptRadius is how many bytes of context an excerpt keeps on each side
// of a marker.
const excerptRadius = 60

// maxCredentialLine is how far back an excerpt looks for the start of a
// "Cookie:" or "Authorization:" line it may have landed in.
const maxCredentialLine = 4096

// span is a byte range [s, e).
type span struct{ s, e int }

// Redact replaces every Secret marker value of any user found in s with
// "[redacted]". Overlapping secrets are replaced by one "[redacted]".
func (o *Oracle) Redact(s string) string {
	if len(o.secrets) == 0 {
		return s
	}
	b := []byte(s)
	// Replacing can join the text around a secret into another secret, so
	// repeat; should that go on, nothing of the text is safe to show.
	for range 4 {
		spans := o.secretSpans(b)
		if len(spans) == 0 {
			return string(b)
		}
		b = applySpans(b, spans)
	}
	if len(o.secretSpans(b)) == 0 {
		return string(b)
	}
	return Redacted
}

// secretSpans returns where secrets occur in b, merged and sorted. Each
// position is first looked up by its two bytes in a bit set of the secrets'
// first two bytes, so the cost does not grow with the number of secrets.
func (o *Oracle) secretSpans(b []byte) []span {
	if len(o.secrets) == 0 {
		return nil
	}
	var spans []span
	for i := 0; i+minValueLen <= len(b); i++ {
		k := uint16(b[i])<<8 | uint16(b[i+1])
		if o.secretPairs[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, sec := range o.secretsByPair[k] {
			if bytes.HasPrefix(b[i:], sec) {
				spans = append(spans, span{i, i + len(sec)})
			}
		}
	}
	return mergeSpans(spans)
}

// indexSecrets fills secretPairs and secretsByPair from secrets.
func (o *Oracle) indexSecrets() {
	o.secretsByPair = map[uint16][][]byte{}
	for _, sec := range o.secrets {
		k := uint16(sec[0])<<8 | uint16(sec[1])
		o.secretPairs[k>>6] |= 1 << (k & 63)
		o.secretsByPair[k] = append(o.secretsByPair[k], sec)
	}
}

func mergeSpans(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b span) int { return a.s - b.s })
	out := spans[:1]
	for _, sp := range spans[1:] {
		last := &out[len(out)-1]
		if sp.s <= last.e {
			last.e = max(last.e, sp.e)
			continue
		}
		out = append(out, sp)
	}
	return out
}

func applySpans(b []byte, spans []span) []byte {
	out := make([]byte, 0, len(b))
	pos := 0
	for _, sp := range spans {
		out = append(out, b[pos:sp.s]...)
		out = append(out, Redacted...)
		pos = sp.e
	}
	return append(out, b[pos:]...)
}

// excerpt returns the text around text[s:e], printable, with every secret
// and every credential header value in it redacted. Secrets are looked for
// in a wider window than is shown, so that a secret cut by the edge of the
// excerpt does not show its other half.
func (o *Oracle) excerpt(text []byte, s, e int) string {
	lo := max(0, s-excerptRadius)
	hi := min(len(text), e+excerptRadius)
	for lo < s && !utf8.RuneStart(text[lo]) {
		lo++
	}
	for hi > e && hi < len(text) && !utf8.RuneStart(text[hi]) {
		hi--
	}
	// Secrets are looked for from maxSecret before the excerpt, credential
	// lines from the start of the line it begins in.
	wlo := max(0, lo-o.maxSecret)
	lineFrom := max(0, lo-maxCredentialLine)
	if k := bytes.LastIndexByte(text[lineFrom:lo], '\n'); k >= 0 {
		lineFrom += k
	}
	wlo = min(wlo, lineFrom)
	whi := min(len(text), hi+o.maxSecret)
	win := text[wlo:whi]
	secretFrom := max(0, lo-o.maxSecret) - wlo
	spans := o.secretSpans(win[secretFrom:])
	for i := range spans {
		spans[i].s += secretFrom
		spans[i].e += secretFrom
	}
	spans = mergeSpans(append(spans, credentialSpans(win[lineFrom-wlo:])...))

	var b strings.Builder
	pos, end := lo-wlo, hi-wlo
	for _, sp := range spans {
		if sp.e <= pos {
			continue
		}
		if sp.s >= end {
			break
		}
		if sp.s > pos {
			writePrintable(&b, win[pos:sp.s])
		}
		b.WriteString(Redacted)
		pos = sp.e
	}
	if pos < end {
		writePrintable(&b, win[pos:end])
	}
	if o.encodesSecret(text[max(0, lo-2*o.maxSecret):min(len(text), hi+2*o.maxSecret)], 0) {
		// A secret that the text around the marker carries in encoded form
		// (percent, JSON escapes, entities, base64 of Basic credentials)
		// would show through the excerpt as it was sent: show the marker
		// alone.
		var m strings.Builder
		writePrintable(&m, text[s:e])
		return Redacted + " " + o.Redact(m.String()) + " " + Redacted
	}
	return o.Redact(b.String())
}

// encodesSecret reports whether any text decoding of b, to the scan's depth,
// contains a secret.
func (o *Oracle) encodesSecret(b []byte, depth int) bool {
	if len(o.secrets) == 0 || depth >= maxTextDepth {
		return false
	}
	for _, d := range textDecoders {
		out := d.decode(b)
		if out == nil || bytes.Equal(out, b) {
			continue
		}
		if len(o.secretSpans(out)) > 0 || o.encodesSecret(out, depth+1) {
			return true
		}
	}
	return false
}

// credentialNames end the names of the lines whose values an excerpt
// never shows when a body quotes them (a debug page, a multipart part's
// header): Cookie, Set-Cookie, Authorization, Proxy-Authorization.
var credentialNames = []string{"cookie", "authorization"}

// credentialSpans returns the values of credential lines in b, any case, up
// to the end of the line.
func credentialSpans(b []byte) []span {
	var spans []span
	for i := 0; i < len(b); {
		k := bytes.IndexByte(b[i:], ':')
		if k < 0 {
			break
		}
		colon := i + k
		i = colon + 1
		if !endsWithCredentialName(b[:colon]) {
			continue
		}
		v := colon + 1
		for v < len(b) && (b[v] == ' ' || b[v] == '\t') {
			v++
		}
		e := v
		for e < len(b) && b[e] != '\n' && b[e] != '\r' {
			e++
		}
		if e > v {
			spans = append(spans, span{v, e})
		}
		i = max(i, e)
	}
	return spans
}

func endsWithCredentialName(b []byte) bool {
	for _, name := range credentialNames {
		if len(b) >= len(name) && strings.EqualFold(string(b[len(b)-len(name):]), name) {
			return true
		}
	}
	return false
}

// credentialHeader reports whether a header's values are credentials.
func credentialHeader(name string) bool {
	for _, n := range []string{"Cookie", "Set-Cookie", "Authorization", "Proxy-Authorization"} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// credentialExcerpt is the excerpt of a match in a credential header: the
// header line with cookie values and credentials replaced, keeping the
// cookie names, the attributes of Set-Cookie and the authorization scheme,
// which say what the value was without showing it.
func (o *Oracle) credentialExcerpt(name, value string) string {
	var shown string
	switch {
	case strings.EqualFold(name, "Set-Cookie"):
		pair, attrs, hasAttrs := strings.Cut(value, ";")
		shown = redactCookiePair(pair)
		if hasAttrs {
			shown += ";" + attrs
		}
	case strings.EqualFold(name, "Cookie"):
		pairs := strings.Split(value, ";")
		for i, p := range pairs {
			pairs[i] = redactCookiePair(p)
		}
		shown = strings.Join(pairs, ";")
	default:
		if scheme, _, ok := strings.Cut(strings.TrimSpace(value), " "); ok {
			shown = scheme + " " + Redacted
		} else {
			shown = Redacted
		}
	}
	var b strings.Builder
	writePrintable(&b, []byte(name+": "+shown))
	out := b.String()
	if len(out) > 2*excerptRadius+40 {
		cut := 2*excerptRadius + 40
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut]
	}
	return o.Redact(out)
}

func redactCookiePair(p string) string {
	k, _, ok := strings.Cut(p, "=")
	if !ok {
		return Redacted
	}
	return k + "=" + Redacted
}

// writePrintable writes b with white space turned into spaces and control
// bytes and invalid UTF-8 into '.', so an excerpt is one safe line.
func writePrintable(w *strings.Builder, b []byte) {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			w.WriteByte(' ')
		case r == utf8.RuneError && size <= 1, !unicode.IsPrint(r):
			w.WriteByte('.')
		default:
			w.Write(b[:size])
		}
		b = b[size:]
	}
}
