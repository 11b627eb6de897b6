package webmail

import (
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// BugPool renders every page into a buffer from a [sync.Pool] and puts the
// buffer back before the page has been written to the client. Another
// request that takes the same buffer in the meantime renders its own page
// into it, and the first request sends that page instead of its own.
//
// Public reference (bug class 3 of the design brief): go-resty/resty PR #421, where a
// JSON encoder's pooled bytes.Buffer went back to the pool through a defer
// while the slice from Bytes(), which aliases it, was still to be sent as a
// request body; a concurrent request could take the buffer and overwrite it.
//
// How the model stays clean under the race detector: a real pooled buffer is
// overwritten in place, which is a data race that `go test -race` would stop
// at before any test could see the wrong page. Here the buffer's contents are
// an atomic pointer to an immutable slice: "rendering into the buffer" stores
// a new slice, "reading the buffer" loads it. Which page a request ends up
// sending is exactly what it would be with a shared byte array, without the
// memory race.
//
// Between the Put and the write, a real server loses the processor to the
// socket write, TLS or a logging hook; [runtime.Gosched] stands in for that
// hand-off. A sync.Pool hands a buffer back to the processor that put it, so
// the request that runs next on that processor is the one that takes it.
const BugPool Bug = "pool"

// pageBuf is the pooled buffer.
type pageBuf struct {
	contents atomic.Pointer[[]byte]
}

func (b *pageBuf) store(p []byte) { b.contents.Store(&p) }

func (b *pageBuf) load() []byte {
	if p := b.contents.Load(); p != nil {
		return *p
	}
	return nil
}

func newPageBufPool() *sync.Pool {
	return &sync.Pool{New: func() any { return new(pageBuf) }}
}

// servePooled is the buffering middleware of the pool mode.
func (s *Server) servePooled(w http.ResponseWriter, r *http.Request) {
	buf := s.bufs.Get().(*pageBuf)
	rec := newRecorder()
	s.route(rec, r)
	buf.store(rec.body)
	// The defect: the buffer goes back to the pool here, as a deferred Put in
	// a render helper would put it, while the caller still sends it below.
	s.bufs.Put(buf)

	h := w.Header()
	for k, vs := range rec.header {
		h[k] = vs
	}
	runtime.Gosched()
	page := buf.load()
	h["Content-Length"] = []string{strconv.Itoa(len(page))}
	st := rec.status
	if st == 0 {
		st = http.StatusOK
	}
	w.WriteHeader(st)
	_, _ = w.Write(page)
}
