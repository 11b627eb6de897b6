package wire

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
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
}

func newConn(nc net.Conn) *Conn {
	tr := &timingReader{r: nc}
	return &Conn{nc: nc, br: bufio.NewReaderSize(tr, 32<<10), tr: tr, ID: nc.LocalAddr().String()}
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
	hr, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.Dead = true
		return Response{}, fmt.Errorf("reading response: %w", err)
	}
	defer hr.Body.Close()
	resp := Response{Status: hr.StatusCode, Header: hr.Header, FirstByte: c.tr.first}
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
	if int64(len(body)) > maxBody {
		body = body[:maxBody]
		c.Dead = true
		err = ErrBodyTooLarge
	}
	resp.Body = body
	if err != nil {
		c.Dead = true
		return resp, err
	}
	if hr.Close {
		c.Dead = true
	}
	return resp, nil
}

// Close closes the connection and marks it dead.
func (c *Conn) Close() {
	c.Dead = true
	_ = c.nc.Close()
}
