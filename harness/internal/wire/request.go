package wire

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Request is a request serialised ahead of a burst, so that releasing it
// costs one write and nothing else.
type Request struct {
	Method string
	Path   string
	Raw    []byte
}

// Build serialises an HTTP/1.1 request by hand. Doing it ourselves, rather
// than through net/http's client, is what lets a burst hold every request
// ready on its own warm connection and release them with one write each
// (and, for the last-byte strategy, all but one byte early).
func Build(base *url.URL, method, path string, header http.Header, body []byte) Request {
	var b bytes.Buffer
	target := path
	if base.Path != "" && base.Path != "/" {
		target = strings.TrimSuffix(base.Path, "/") + path
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, base.Host)
	if header.Get("User-Agent") == "" {
		b.WriteString("User-Agent: crosstalk\r\n")
	}
	if header.Get("Accept-Encoding") == "" {
		// Ask for every encoding the oracle can see through: a target that
		// compresses must not hide a leak behind gzip or br.
		b.WriteString("Accept-Encoding: gzip, deflate, br\r\n")
	}
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return Request{Method: method, Path: path, Raw: b.Bytes()}
}

// Response is what came back on the wire, before any content decoding.
type Response struct {
	Status    int
	Header    http.Header
	Body      []byte
	FirstByte time.Time
}
