package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// wireRequest is a request serialised ahead of a burst, so that releasing it
// costs one write and nothing else.
type wireRequest struct {
	method string
	path   string
	raw    []byte
}

// buildRequest serialises an HTTP/1.1 request by hand. Doing it ourselves,
// rather than through net/http's client, is what lets a burst hold every
// request ready on its own warm connection and release them with one write
// each (and, for the last-byte strategy, all but one byte early).
func buildRequest(base *url.URL, method, path string, header http.Header, body []byte) wireRequest {
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
	return wireRequest{method: method, path: path, raw: b.Bytes()}
}

// conn is one persistent HTTP/1.1 connection.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	tr   *timingReader
	id   string
	dead bool
}

// timingReader notes when the first response byte arrives, which a
// bufio.Reader on top would otherwise hide.
type timingReader struct {
	r     io.Reader
	first time.Time
}

func (t *timingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 && t.first.IsZero() {
		t.first = time.Now()
	}
	return n, err
}

// dialer opens connections to one target.
type dialer struct {
	base     *url.URL
	addr     string
	tls      *tls.Config
	timeout  time.Duration
	maxBody  int64
	netDial  net.Dialer
	mu       sync.Mutex
	accepted int    // connections opened, for the conn ids of the stream
	h2       h2Pool // the h2 strategy's shared connection (strategy_h2.go)
}

func newDialer(base *url.URL, timeout time.Duration, maxBody int64, insecure bool) *dialer {
	host := base.Hostname()
	port := base.Port()
	if port == "" {
		port = "80"
		if base.Scheme == "https" {
			port = "443"
		}
	}
	d := &dialer{base: base, addr: net.JoinHostPort(host, port), timeout: timeout, maxBody: maxBody}
	if base.Scheme == "https" {
		d.tls = &tls.Config{ServerName: host, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: insecure} //nolint:gosec // opt-in for self-signed staging targets
	}
	d.netDial.Timeout = timeout
	return d
}

func (d *dialer) dial(ctx context.Context) (*conn, error) {
	nc, err := d.netDial.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		// Small requests must leave at once, not wait for Nagle.
		_ = tc.SetNoDelay(true)
	}
	if d.tls != nil {
		tc := tls.Client(nc, d.tls)
		hctx, cancel := context.WithTimeout(ctx, d.timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	tr := &timingReader{r: nc}
	return &conn{nc: nc, br: bufio.NewReaderSize(tr, 32<<10), tr: tr, id: nc.LocalAddr().String()}, nil
}

// response is what came back on the wire, before any content decoding.
type response struct {
	status    int
	header    http.Header
	body      []byte
	firstByte time.Time
}

var errBodyTooLarge = errors.New("response body exceeds the size limit")

// roundTrip writes req and reads the reply, under one deadline. The body is
// read up to maxBody; a larger reply is cut and marks the connection dead,
// since the rest of it is still in flight.
func (c *conn) roundTrip(req wireRequest, deadline time.Time, maxBody int64) (sent time.Time, resp response, err error) {
	c.tr.first = time.Time{}
	if err = c.nc.SetDeadline(deadline); err != nil {
		c.dead = true
		return time.Now(), resp, err
	}
	if _, err = c.nc.Write(req.raw); err != nil {
		c.dead = true
		return time.Now(), resp, err
	}
	sent = time.Now()
	resp, err = c.readResponse(req.method, maxBody)
	return sent, resp, err
}

func (c *conn) readResponse(method string, maxBody int64) (response, error) {
	hr, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.dead = true
		return response{}, fmt.Errorf("reading response: %w", err)
	}
	defer hr.Body.Close()
	resp := response{status: hr.StatusCode, header: hr.Header, firstByte: c.tr.first}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
	if int64(len(body)) > maxBody {
		body = body[:maxBody]
		c.dead = true
		err = errBodyTooLarge
	}
	resp.body = body
	if err != nil {
		c.dead = true
		return resp, err
	}
	if hr.Close {
		c.dead = true
	}
	return resp, nil
}

func (c *conn) close() {
	c.dead = true
	_ = c.nc.Close()
}

// describeErr turns network errors into a sentence a user can act on.
func describeErr(err error, timeout time.Duration) string {
	switch {
	case err == nil:
		return ""
	case isTimeout(err):
		return "no complete response within " + timeout.String()
	default:
		return err.Error()
	}
}

// statusIsError decides which replies count against the error budget: server
// errors; 401/403, which mean the session was lost; and 429, a rate limit.
// Each would otherwise turn responses that carry no data at all into
// "isolated" ones that prove nothing.
func statusIsError(status int) bool {
	return status >= 500 || status == http.StatusUnauthorized || status == http.StatusForbidden ||
		status == http.StatusTooManyRequests
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
