package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Conn is one persistent HTTP/1.1 connection.
type Conn struct {
	nc net.Conn
	br *bufio.Reader
	tr *timingReader
	// ID identifies the connection in the stream (its local address), so
	// connection reuse and mix-ups can be told apart.
	ID string
	// Dead is set once the connection must not carry another request: an
	// error, a cut body or the server's Connection: close.
	Dead bool
	// interrupted is set by Interrupt, from any goroutine.
	interrupted atomic.Bool
}

func newConn(nc net.Conn) *Conn {
	tr := &timingReader{r: nc, left: -1}
	return &Conn{nc: nc, br: bufio.NewReaderSize(tr, 32<<10), tr: tr, ID: nc.LocalAddr().String()}
}

// MaxHeaderBytes bounds what is read of a response before its body: the
// status line and every header. net/http reads a header line of any length,
// so without it a target that never ends a line grows crosstalk's memory
// until the timeout. It is net/http's own default for the headers a server
// accepts.
const MaxHeaderBytes = 1 << 20

// ErrHeaderTooLarge marks a reply whose status line and headers exceed
// [MaxHeaderBytes].
var ErrHeaderTooLarge = errors.New("response headers exceed the size limit")

// timingReader notes when the first response byte arrives, which a
// bufio.Reader on top would otherwise hide, and, while left is not
// negative, lets only that many more bytes through.
type timingReader struct {
	r     io.Reader
	first time.Time
	left  int64
}

func (t *timingReader) Read(p []byte) (int, error) {
	if t.left == 0 {
		return 0, ErrHeaderTooLarge
	}
	if t.left > 0 && int64(len(p)) > t.left {
		p = p[:t.left]
	}
	n, err := t.r.Read(p)
	if n > 0 && t.first.IsZero() {
		t.first = time.Now()
	}
	if t.left > 0 {
		t.left -= int64(n)
	}
	return n, err
}

// SetDeadline bounds every read and write from now on.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline bounds the reads alone; a client cancel is one.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// Write writes raw request bytes, which may be part of a request: the
// last-byte strategy writes all but one byte early.
func (c *Conn) Write(b []byte) (int, error) { return c.nc.Write(b) }

// RoundTrip writes req and reads the reply, under one deadline. The body is
// read up to maxBody; a larger reply is cut and marks the connection dead,
// since the rest of it is still in flight.
func (c *Conn) RoundTrip(req Request, deadline time.Time, maxBody int64) (sent time.Time, resp Response, err error) {
	if err = c.nc.SetDeadline(deadline); err != nil {
		c.Dead = true
		return time.Now(), resp, err
	}
	if c.interrupted.Load() {
		// Interrupt ran before the deadline above replaced its own.
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	}
	if _, err = c.nc.Write(req.Raw); err != nil {
		c.Dead = true
		return time.Now(), resp, err
	}
	sent = time.Now()
	resp, err = c.ReadResponse(req.Method, maxBody)
	return sent, resp, err
}

// ReadResponse reads the reply to a request that is fully written. Its
// FirstByte is the first byte read from the socket after the call began:
// bytes that were already buffered (a stale reply) leave it zero.
func (c *Conn) ReadResponse(method string, maxBody int64) (Response, error) {
	c.tr.first = time.Time{}
	// Bytes a stale reply left buffered were counted when they were read.
	c.tr.left = int64(max(MaxHeaderBytes-c.br.Buffered(), 0))
	hr, err := http.ReadResponse(c.br, &http.Request{Method: method})
	c.tr.left = -1
	if err != nil {
		c.Close()
		return Response{}, fmt.Errorf("reading response: %w", err)
	}
	resp := Response{Status: hr.StatusCode, Header: hr.Header, FirstByte: c.tr.first}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
	if int64(len(body)) > maxBody {
		body = body[:maxBody]
		err = ErrBodyTooLarge
	}
	resp.Body = body
	if err != nil {
		// Not hr.Body.Close: it would read the rest of the body, up to the
		// deadline, only to throw it away. The connection is done.
		c.Close()
		return resp, err
	}
	_ = hr.Body.Close()
	if hr.Close {
		c.Dead = true
	}
	return resp, nil
}

// Interrupt ends the round trip in progress, or the next one, at once, as
// its deadline would: the work it belongs to was cancelled. It may be
// called from any goroutine; the connection is not used again.
func (c *Conn) Interrupt() {
	c.interrupted.Store(true)
	_ = c.nc.SetDeadline(time.Unix(1, 0))
}

// Close closes the connection and marks it dead.
func (c *Conn) Close() {
	c.Dead = true
	_ = c.nc.Close()
}
