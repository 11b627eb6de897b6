package wire

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Limits of the h2 strategy. Our receive windows are opened wide once, so
// that no response of a burst ever waits for a WINDOW_UPDATE from us; the
// connection window is topped up between bursts.
const (
	h2Window       = 1 << 30
	h2MaxStreamID  = 1 << 30 // redial well before stream ids run out
	h2MaxBodyBytes = 60 << 10
	// h2WarmAfter is how long a connection may idle before the next burst
	// warms it again with a PING.
	h2WarmAfter = 200 * time.Millisecond
)

// h2Pool holds the one warm HTTP/2 connection the h2 strategy fires on.
//
// Unlike HTTP/1.1, where each user has connections of its own, h2 puts
// every user's request of a burst on one connection, each stream with its
// own user's credentials. That is the point of the single-packet attack:
// only on one connection can the final frames of all requests leave in one
// write, and so reach the server in one TCP segment. A server cannot mix up
// streams of one connection unless its request handling is broken, which is
// what is being tested; each exchange records the connection, so a report
// can always tell.
type h2Pool struct {
	mu sync.Mutex
	c  *H2Conn
}

// H2Conn is a client HTTP/2 connection driven frame by frame.
type H2Conn struct {
	nc net.Conn
	// ID identifies the connection in the stream, as [Conn.ID] does.
	ID string
	fr *http2.Framer
	// wmu guards the framer's write side and wbuf: the reader answers PINGs
	// and SETTINGS while the releaser may still be writing delayed steps.
	wmu  sync.Mutex
	wbuf bytes.Buffer
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	nextID     uint32
	maxFrame   uint32
	maxStreams uint32
	unacked    uint32 // response bytes not yet returned to the server's window
	lastUsed   time.Time
	dead       atomic.Bool // set by the release and the reader goroutines alike
}

func (p *h2Pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil {
		_ = p.c.nc.Close()
		p.c = nil
	}
}

// H2 returns the dialer's HTTP/2 connection, warmed with a PING round trip,
// or dials and warms a new one. The warm-up also drains anything the server
// sent between bursts, such as a GOAWAY.
func (d *Dialer) H2(timeout time.Duration) (*H2Conn, error) {
	p := &d.h2
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.c; c != nil {
		if !c.dead.Load() && c.nextID < h2MaxStreamID {
			if time.Since(c.lastUsed) < h2WarmAfter {
				// Fresh from the last burst: a PING would only halve the
				// burst rate. Return the window and go.
				if err := c.returnWindow(time.Now().Add(timeout)); err == nil {
					return c, nil
				}
			} else if err := c.warm(time.Now().Add(timeout)); err == nil {
				return c, nil
			}
		}
		_ = c.nc.Close()
		p.c = nil
	}
	c, err := d.dialH2(timeout)
	if err != nil {
		return nil, err
	}
	p.c = c
	return c, nil
}

// dialH2 opens an HTTP/2 connection: prior knowledge (h2c) for http URLs,
// ALPN "h2" for https ones.
func (d *Dialer) dialH2(timeout time.Duration) (*H2Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := d.connect(ctx, "h2")
	if err != nil {
		return nil, err
	}
	if d.WrapH2 != nil {
		nc = d.WrapH2(nc)
	}
	c := &H2Conn{nc: nc, ID: nc.LocalAddr().String(), nextID: 1, maxFrame: 16 << 10, maxStreams: 1 << 31}
	c.fr = http2.NewFramer(&c.wbuf, bufio.NewReaderSize(nc, 64<<10))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	// The same bound as HTTP/1.1's; the framer's default is 16 MiB.
	c.fr.MaxHeaderListSize = MaxHeaderBytes
	c.enc = hpack.NewEncoder(&c.hbuf)
	deadline := time.Now().Add(timeout)
	c.wmu.Lock()
	c.wbuf.WriteString(http2.ClientPreface)
	err = errors.Join(
		c.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2Window}),
		c.fr.WriteWindowUpdate(0, h2Window))
	c.wmu.Unlock()
	if err == nil {
		err = c.warm(deadline)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("HTTP/2 handshake: %w", err)
	}
	return c, nil
}

// SetDeadline bounds every read and write of the connection.
func (c *H2Conn) SetDeadline(t time.Time) error {
	err := c.nc.SetDeadline(t)
	if err != nil {
		c.dead.Store(true)
	}
	return err
}

// Retire marks the connection unfit for another burst; with closeNow it is
// closed at once, which also ends a read in progress.
func (c *H2Conn) Retire(closeNow bool) {
	c.dead.Store(true)
	if closeNow {
		_ = c.nc.Close()
	}
}

// Used notes the end of a burst: a connection used within h2WarmAfter is
// not warmed again before the next.
func (c *H2Conn) Used() { c.lastUsed = time.Now() }

// WritePacket writes the single packet of a burst in one write.
func (c *H2Conn) WritePacket(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// Release writes a delayed stream's final frames and sets its Sent, under
// the write lock the reader also takes to see Sent.
func (c *H2Conn) Release(st *Stream) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(st.final)
	st.Sent = time.Now()
	return err
}

// flushLocked writes what the framer buffered, in one write. Callers hold wmu.
func (c *H2Conn) flushLocked() error {
	if c.wbuf.Len() == 0 {
		return nil
	}
	_, err := c.nc.Write(c.wbuf.Bytes())
	c.wbuf.Reset()
	if err != nil {
		c.dead.Store(true)
	}
	return err
}

// warm sends a PING (with whatever is buffered, such as the preface) and
// reads until its ack, handling the server's SETTINGS on the way. After it,
// the connection is known live and both sides' settings are applied.
func (c *H2Conn) warm(deadline time.Time) error {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	data := [8]byte{'c', 'r', 'o', 's', 's', 't', 'l', 'k'}
	c.wmu.Lock()
	err := c.fr.WritePing(false, data)
	if err == nil && c.unacked > 0 {
		err = c.fr.WriteWindowUpdate(0, c.unacked)
		c.unacked = 0
	}
	if err == nil {
		err = c.flushLocked()
	}
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.dead.Store(true)
			return err
		}
		if p, ok := f.(*http2.PingFrame); ok && p.IsAck() && p.Data == data {
			return nil
		}
		if err := c.control(f); err != nil {
			return err
		}
	}
}

// returnWindow gives the server back the connection window the last burst
// used, outside the timed window of the next one.
func (c *H2Conn) returnWindow(deadline time.Time) error {
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.unacked == 0 {
		return nil
	}
	err := c.fr.WriteWindowUpdate(0, c.unacked)
	c.unacked = 0
	if err == nil {
		err = c.flushLocked()
	}
	return err
}

// control handles a connection-level frame. Stream frames that arrive here
// belong to no burst any more and are dropped.
func (c *H2Conn) control(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		_ = f.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingMaxFrameSize:
				c.maxFrame = s.Val
			case http2.SettingMaxConcurrentStreams:
				c.maxStreams = s.Val
			}
			return nil
		})
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if err := c.fr.WriteSettingsAck(); err != nil {
			return err
		}
		return c.flushLocked()
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		c.wmu.Lock()
		defer c.wmu.Unlock()
		if err := c.fr.WritePing(true, f.Data); err != nil {
			return err
		}
		return c.flushLocked()
	case *http2.GoAwayFrame:
		c.dead.Store(true)
		return fmt.Errorf("the target closed the HTTP/2 connection (GOAWAY %v)", f.ErrCode)
	}
	return nil
}

// Stream is one request in flight as an HTTP/2 stream.
type Stream struct {
	// Offset and CancelAfter are the step's: final frames are staged in
	// offset order, and a stream is reset once CancelAfter has passed since
	// Sent.
	Offset, CancelAfter time.Duration
	// Sent is when the final frames left. The caller sets it: right after
	// the single packet, or through [H2Conn.Release] for a delayed stream.
	Sent time.Time
	Resp Response
	Err  error
	// Canceled is set when the client reset the stream at CancelAfter.
	Canceled bool

	req Request
	id  uint32
	// final holds the frames whose arrival lets the handler run: the whole
	// HEADERS of a body-less request, or the last byte of a body.
	final []byte
	done  bool
}

// NewStream makes a stream of a serialised request.
func NewStream(req Request, offset, cancelAfter time.Duration) *Stream {
	return &Stream{req: req, Offset: offset, CancelAfter: cancelAfter}
}

// Final is the bytes whose arrival lets the stream's handler run.
func (st *Stream) Final() []byte { return st.final }

// Fail ends a stream that never got a reply.
func (st *Stream) Fail(err error) { st.Err, st.done = err, true }

// h2Request is a serialised request taken apart again for HTTP/2.
type h2Request struct {
	method, authority, path string
	header                  http.Header
	body                    []byte
}

// parseWire recovers method, target, headers and body from the HTTP/1.1 form
// every strategy is handed. It runs before the release, so its cost does not
// touch the burst.
func parseWire(w Request) (h2Request, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(w.Raw)))
	if err != nil {
		return h2Request{}, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return h2Request{}, err
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te"} {
		req.Header.Del(k)
	}
	return h2Request{method: req.Method, authority: req.Host, path: req.RequestURI, header: req.Header, body: body}, nil
}

// headerBlock HPACK-encodes a request's header list. Callers encode in the
// order the HEADERS frames go on the wire, as the server decodes them.
func (c *H2Conn) headerBlock(r h2Request, scheme string) []byte {
	c.hbuf.Reset()
	put := func(k, v string) { _ = c.enc.WriteField(hpack.HeaderField{Name: k, Value: v}) }
	put(":method", r.method)
	put(":scheme", scheme)
	put(":authority", r.authority)
	put(":path", r.path)
	keys := make([]string, 0, len(r.header))
	for k := range r.header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range r.header[k] {
			put(strings.ToLower(k), v)
		}
	}
	return slices.Clone(c.hbuf.Bytes())
}

// writeHeaders frames a header block, with CONTINUATION frames when it is
// larger than the server's frame size. Callers hold wmu.
func (c *H2Conn) writeHeaders(id uint32, block []byte, endStream bool) error {
	first := block[:min(len(block), int(c.maxFrame))]
	rest := block[len(first):]
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first,
		EndStream: endStream, EndHeaders: len(rest) == 0}); err != nil {
		return err
	}
	for len(rest) > 0 {
		chunk := rest[:min(len(rest), int(c.maxFrame))]
		rest = rest[len(chunk):]
		if err := c.fr.WriteContinuation(id, len(rest) == 0, chunk); err != nil {
			return err
		}
	}
	return nil
}

// writeData frames body bytes in chunks the server accepts. Callers hold wmu.
func (c *H2Conn) writeData(id uint32, data []byte, endStream bool) error {
	for len(data) > int(c.maxFrame) {
		if err := c.fr.WriteData(id, false, data[:c.maxFrame]); err != nil {
			return err
		}
		data = data[c.maxFrame:]
	}
	return c.fr.WriteData(id, endStream, data)
}

// take moves what the framer buffered out into a slice of its own.
func (c *H2Conn) take() []byte {
	b := slices.Clone(c.wbuf.Bytes())
	c.wbuf.Reset()
	return b
}

// Stage assigns stream ids, HPACK-encodes every request, writes the early
// part of requests with a body, and keeps each stream's final frames for the
// release. Ids and header blocks follow the order the HEADERS frames will
// reach the wire, as the protocol requires. name labels a stream in errors.
func (c *H2Conn) Stage(streams []*Stream, scheme string, name func(i int) string) error {
	if uint32(len(streams)) > c.maxStreams {
		return fmt.Errorf("a burst of %d is more than the %d concurrent streams the target allows", len(streams), c.maxStreams)
	}
	reqs := make([]h2Request, len(streams))
	for i, st := range streams {
		r, err := parseWire(st.req)
		if err != nil {
			return err
		}
		if len(r.body) > h2MaxBodyBytes {
			return fmt.Errorf("request %s: a body of %d bytes exceeds the h2 strategy's limit of %d", name(i), len(r.body), h2MaxBodyBytes)
		}
		reqs[i] = r
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	next := func() uint32 { id := c.nextID; c.nextID += 2; return id }
	for i, st := range streams {
		r := reqs[i]
		if len(r.body) == 0 {
			continue
		}
		st.id = next()
		if err := c.writeHeaders(st.id, c.headerBlock(r, scheme), false); err != nil {
			return err
		}
		if err := c.writeData(st.id, r.body[:len(r.body)-1], false); err != nil {
			return err
		}
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	order := slices.Clone(streams)
	slices.SortStableFunc(order, func(a, b *Stream) int { return int(a.Offset - b.Offset) })
	byShot := map[*Stream]int{}
	for i, st := range streams {
		byShot[st] = i
	}
	for _, st := range order {
		r := reqs[byShot[st]]
		var err error
		if len(r.body) == 0 {
			st.id = next()
			err = c.writeHeaders(st.id, c.headerBlock(r, scheme), true)
		} else {
			err = c.fr.WriteData(st.id, true, r.body[len(r.body)-1:])
		}
		if err != nil {
			return err
		}
		st.final = c.take()
	}
	return nil
}

// Read collects the responses of a burst's streams until all are complete,
// the deadline passes or the connection fails. Streams with CancelAfter are
// reset with CANCEL when their time is up, as a client that gives up would.
func (c *H2Conn) Read(list []*Stream, deadline time.Time, maxBody int64) {
	streams := make(map[uint32]*Stream, len(list))
	for _, st := range list {
		streams[st.id] = st
	}
	open := 0
	for _, st := range streams {
		if !st.done {
			open++
		}
	}
	finish := func(st *Stream, err error) {
		if !st.done {
			st.done = true
			st.Err = err
			open--
		}
	}
	for open > 0 {
		limit := deadline
		c.wmu.Lock()
		for _, st := range streams {
			if ca := st.CancelAfter; !st.done && ca > 0 && !st.Sent.IsZero() && st.Sent.Add(ca).Before(limit) {
				limit = st.Sent.Add(ca)
			}
		}
		c.wmu.Unlock()
		_ = c.nc.SetReadDeadline(limit)
		f, err := c.fr.ReadFrame()
		now := time.Now()
		if err != nil {
			if IsTimeout(err) && now.Before(deadline) {
				c.cancelExpired(streams, now, finish)
				continue
			}
			c.dead.Store(true)
			for _, st := range streams {
				finish(st, err)
			}
			return
		}
		st := streams[f.Header().StreamID]
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if st == nil || st.done {
				continue
			}
			if st.Resp.Header == nil {
				status, _ := strconv.Atoi(f.PseudoValue("status"))
				if status >= 100 && status < 200 {
					continue // an interim response; the real one follows
				}
				st.Resp.Status, st.Resp.FirstByte, st.Resp.Header = status, now, http.Header{}
				for _, hf := range f.RegularFields() {
					st.Resp.Header.Add(hf.Name, hf.Value)
				}
			}
			if f.StreamEnded() {
				finish(st, nil)
			}
		case *http2.DataFrame:
			c.unacked += f.Length
			if st == nil || st.done {
				continue
			}
			if st.Resp.FirstByte.IsZero() {
				st.Resp.FirstByte = now
			}
			st.Resp.Body = append(st.Resp.Body, f.Data()...)
			if int64(len(st.Resp.Body)) > maxBody {
				st.Resp.Body = st.Resp.Body[:maxBody]
				c.reset(st.id, http2.ErrCodeCancel)
				finish(st, ErrBodyTooLarge)
				continue
			}
			if f.StreamEnded() {
				finish(st, nil)
			}
		case *http2.RSTStreamFrame:
			if st != nil {
				finish(st, fmt.Errorf("the target reset the stream (%v)", f.ErrCode))
			}
		case *http2.GoAwayFrame:
			c.dead.Store(true)
			for id, st := range streams {
				if id > f.LastStreamID {
					finish(st, fmt.Errorf("the target refused the stream (GOAWAY %v)", f.ErrCode))
				}
			}
		default:
			if err := c.control(f); err != nil {
				c.dead.Store(true)
				for _, st := range streams {
					finish(st, err)
				}
				return
			}
		}
	}
}

// cancelExpired resets the streams whose CancelAfter has passed.
// A read that timed out in the middle of a frame would leave the framer out
// of step, so the connection is retired after the burst.
func (c *H2Conn) cancelExpired(streams map[uint32]*Stream, now time.Time, finish func(*Stream, error)) {
	var expired []*Stream
	c.wmu.Lock() // Sent of delayed steps is written under wmu
	for _, st := range streams {
		ca := st.CancelAfter
		if !st.done && ca > 0 && !st.Sent.IsZero() && !now.Before(st.Sent.Add(ca)) {
			expired = append(expired, st)
		}
	}
	c.wmu.Unlock()
	c.dead.Store(true)
	for _, st := range expired {
		c.reset(st.id, http2.ErrCodeCancel)
		st.Canceled = true
		finish(st, errCanceledStream)
	}
}

var errCanceledStream = errors.New("stream canceled by the client")

func (c *H2Conn) reset(id uint32, code http2.ErrCode) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fr.WriteRSTStream(id, code) == nil {
		_ = c.flushLocked()
	}
}
