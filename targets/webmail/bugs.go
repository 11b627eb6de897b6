package webmail

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The bug variants hook into the server at four places only, so that the
// correct server stays readable and each defect is in its own file:
//
//   - Server.front, the middleware every request passes (cachekey,
//     microcache, pool, conndesync, outbox);
//   - [Server.sessionID], where a login names its session (sessionmix);
//   - [Server.submit], where sent mail is handed over for delivery
//     (afterreturn);
//   - [Server.batchJSON], the batch endpoint (loopvar).

// installBug wires the state and middleware of the server's bug variant.
// It runs in New, before the server is shared.
func (s *Server) installBug() {
	switch s.bug {
	case BugCacheKey:
		s.cache = &urlCache{entries: map[string]urlCacheEntry{}}
		s.front = s.serveURLCached
	case BugMicrocache:
		s.micro = &microcache{entries: map[string]microEntry{}, flight: map[string]*microCall{}}
		s.front = s.serveMicrocached
	case BugPool:
		s.bufs = newPageBufPool()
		s.front = s.servePooled
	case BugConnDesync:
		s.backend = &freeList[backendConn]{max: backendMaxIdle}
		s.front = s.serveViaBackend
	case BugAfterReturn:
		s.ctxs = &freeList[reqCtx]{max: 64}
	case BugLoopVar:
		s.batcher = &batchCoalescer{}
	case BugOutbox:
		s.front = s.outboxFront()
	}
}

// sessionID names a new session.
func (s *Server) sessionID(now time.Time) string {
	if s.bug == BugSessionMix {
		return s.clockCounterID(now)
	}
	return newSessionID()
}

// submit delivers mail a signed-in user sent. The correct server delivers
// before it answers, so the sender's next page already shows the effect.
func (s *Server) submit(rcpt *account, d draft) {
	if s.bug == BugAfterReturn {
		s.submitLater(rcpt, d)
		return
	}
	s.deliver(rcpt, d)
}

// Close waits for work the server still has in flight after its responses
// went out: mail queued for delivery in the afterreturn mode. Call it once
// the server has stopped taking requests (after httptest.Server.Close or
// http.Server.Shutdown): a request that queues more work while Close waits
// would race with it.
func (s *Server) Close() {
	s.async.Wait()
}

// recorder captures what a handler writes, for the middlewares that keep,
// forward or delay a response instead of writing it at once.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(status int) {
	if rc.status == 0 {
		rc.status = status
	}
}

func (rc *recorder) Write(p []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	rc.body = append(rc.body, p...)
	return len(p), nil
}

// recorded is a finished response. It is never changed once made, so any
// number of requests may write it out at once.
type recorded struct {
	status int
	header http.Header
	body   []byte
}

func (rc *recorder) finish() *recorded {
	st := rc.status
	if st == 0 {
		st = http.StatusOK
	}
	return &recorded{status: st, header: rc.header, body: rc.body}
}

// writeTo sends the response. Headers are copied value by value: net/http
// may add to the map of w, which must not touch a response others share.
func (rd *recorded) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range rd.header {
		h[k] = append([]string(nil), vs...)
	}
	h["Content-Length"] = []string{strconv.Itoa(len(rd.body))}
	w.WriteHeader(rd.status)
	_, _ = w.Write(rd.body)
}

// cacheable says whether a middleware cache may consider r at all: a read of
// a signed-in user's page. Logins, writes and signed-out visits always go to
// the router.
func cacheable(r *http.Request) (sid string, ok bool) {
	if r.Method != http.MethodGet || r.URL.Path == "/login" {
		return "", false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// freeList keeps objects for reuse, last released first, up to max of them:
// the backend connections of conndesync and the request contexts of
// afterreturn. Last-in-first-out is what makes those defects show: the
// object a request just gave back is the next one handed out.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
	max  int
}

func (l *freeList[T]) get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		x := l.free[n-1]
		l.free = l.free[:n-1]
		return x
	}
	return new(T)
}

func (l *freeList[T]) put(x *T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.free) < l.max {
		l.free = append(l.free, x)
	}
}
