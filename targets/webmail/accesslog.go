package webmail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// The access log is the webmail's own, in the JSON format crosstalk
// incident reads (the same fields as the nginx log_format the README
// recommends): msec is the time of the log write with µs decimals,
// request_time the duration, so the start is msec − request_time. Beyond
// nginx it logs what only the application knows: the user of the session,
// and the owner of the data a page was rendered from, which is how a log
// can prove a leak rather than bound it.

// ownerNoter is the response writer of a logged request: a handler that
// knows whose data it rendered says so.
type ownerNoter interface{ noteOwner(login string) }

// noteOwner records on w, when it is a logged request, whose data the
// response carries.
func noteOwner(w http.ResponseWriter, login string) {
	if n, ok := w.(ownerNoter); ok {
		n.noteOwner(login)
	}
}

type connKey struct{}

type connInfo struct {
	id       uint64
	requests atomic.Uint64
}

var connSeq atomic.Uint64

// ConnContext numbers the server's connections for the access log's
// connection and connection_requests fields; set it as the
// http.Server's ConnContext.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connInfo{id: connSeq.Add(1)})
}

// AccessLog writes one line per request to out. instance names this server
// (the upstream_addr of the format). Each line is written whole in one call,
// so that lines from concurrent requests never interleave.
type AccessLog struct {
	srv      *Server
	instance string
	mu       sync.Mutex
	out      io.Writer
	seq      atomic.Uint64
	err      atomic.Value
}

// NewAccessLog wraps the server with an access log.
func NewAccessLog(srv *Server, out io.Writer, instance string) *AccessLog {
	return &AccessLog{srv: srv, out: out, instance: instance}
}

// Err returns the first write error, if any: the log never fails a request.
func (l *AccessLog) Err() error {
	if e, ok := l.err.Load().(error); ok {
		return e
	}
	return nil
}

type loggedWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	owner  string
	h      hash.Hash64
}

func (w *loggedWriter) noteOwner(login string) { w.owner = login }

func (w *loggedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	w.h.Write(b[:n])
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP serves the request and logs it.
func (l *AccessLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.serve(l.srv, l.srv, w, r)
}

// serve has h answer the request and logs it with the user srv knows the
// session by: a [Resettable] passes the server it hands the request to.
func (l *AccessLog) serve(srv *Server, h http.Handler, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	user, session := "", ""
	if ss := srv.session(r); ss != nil {
		user = ss.v.acct.Login
		// The session id is a secret: the log keeps a digest that tells
		// sessions apart and cannot be replayed.
		sum := sha256.Sum256([]byte(ss.id))
		session = hex.EncodeToString(sum[:8])
	}
	lw := &loggedWriter{ResponseWriter: w, h: fnv.New64a()}
	h.ServeHTTP(lw, r)
	end := time.Now()
	var connID, connReq uint64
	if ci, ok := r.Context().Value(connKey{}).(*connInfo); ok {
		connID, connReq = ci.id, ci.requests.Add(1)
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	status := lw.status
	if status == 0 {
		status = http.StatusOK
	}
	b := make([]byte, 0, 384)
	b = append(b, `{"msec":"`...)
	b = appendMicros(b, end.UnixMicro())
	b = append(b, `","request_time":"`...)
	b = appendMicros(b, end.Sub(start).Microseconds())
	b = append(b, `","request_id":"`...)
	b = strconv.AppendUint(b, l.seq.Add(1), 10)
	b = append(b, `","connection":"`...)
	b = strconv.AppendUint(b, connID, 10)
	b = append(b, `","connection_requests":"`...)
	b = strconv.AppendUint(b, connReq, 10)
	b = append(b, `","upstream_addr":`...)
	b = appendJSONString(b, l.instance)
	b = append(b, `,"remote_addr":`...)
	b = appendJSONString(b, client)
	b = append(b, `,"user":`...)
	b = appendJSONString(b, user)
	b = append(b, `,"session":`...)
	b = appendJSONString(b, session)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, r.URL.RequestURI())
	b = append(b, `,"status":"`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `","bytes":"`...)
	b = strconv.AppendInt(b, lw.bytes, 10)
	b = append(b, `","owner":`...)
	b = appendJSONString(b, lw.owner)
	b = append(b, `,"body_hash":"`...)
	b = strconv.AppendUint(b, lw.h.Sum64(), 16)
	b = append(b, "\"}\n"...)
	l.mu.Lock()
	_, err = l.out.Write(b)
	l.mu.Unlock()
	if err != nil {
		l.err.CompareAndSwap(nil, err)
	}
}

// appendMicros writes µs as seconds with six decimals.
func appendMicros(b []byte, us int64) []byte {
	if us < 0 {
		us = 0
	}
	b = strconv.AppendInt(b, us/1_000_000, 10)
	frac := strconv.AppendInt(nil, us%1_000_000, 10)
	b = append(b, '.')
	for i := len(frac); i < 6; i++ {
		b = append(b, '0')
	}
	return append(b, frac...)
}

// appendJSONString writes s as a JSON string, as nginx's escape=json does:
// control characters escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
