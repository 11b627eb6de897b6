package webmail

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The bug variants hook into the server at four places only, so that the
// correct server stays readable and each defect is in its own file:
//
//   - Server.front, the middleware every request passes (cachekey,
//     microcache, pool, conndesync, outbox);
//   - Server.newID, where a login names its session (sessionmix);
//   - Server.submit, where sent mail is handed over for delivery
//     (afterreturn);
//   - Server.batcher, which the batch endpoint hands its work to (loopvar).
//
// lastlogin is the exception that proves the rule: the 2008 defect is a line
// in the /profile handler itself, because that is where it was.

// bugs is the one list of variants: its order is the order of [Bugs], help
// text and tests. Adding a variant is a row here and a bug_<name>.go file
// with its constant, doc comment and install function.
var bugs = []struct {
	bug         Bug
	description string
	// install wires the variant's state and hooks into a new server. It
	// runs in New, before the server is shared; nil installs nothing.
	install func(*Server)
}{
	{BugNone, "no defect: every page is rendered for the user who asked", nil},
	{BugLastLogin, "the 2008 \"last login\" bug: /profile renders from a user shared by all requests", nil},
	{BugCacheKey, "a page cache keyed on the URL alone: the first user's page is served to everyone", func(s *Server) {
		s.cache = &urlCache{entries: map[string]urlCacheEntry{}}
		s.front = s.serveURLCached
	}},
	{BugMicrocache, "a 1 s microcache whose request coalescing ignores the session: only concurrent requests leak", func(s *Server) {
		s.micro = &microcache{entries: map[string]microEntry{}, flight: map[string]*microCall{}}
		s.front = s.serveMicrocached
	}},
	{BugPool, "a sync.Pool page buffer put back before the page is written", func(s *Server) {
		s.bufs = newPageBufPool()
		s.front = s.servePooled
	}},
	{BugConnDesync, "a backend connection pooled again after a client cancel, its reply unread", func(s *Server) {
		s.backend = &freeList[backendConn]{max: backendMaxIdle}
		s.front = s.serveViaBackend
	}},
	{BugSessionMix, "session ids from a coarse clock and a racy counter collide under concurrent logins", func(s *Server) {
		s.newID = s.clockCounterID
	}},
	{BugAfterReturn, "sent mail delivered later from a recycled request context: wrong sender and body", func(s *Server) {
		s.ctxs = &freeList[reqCtx]{max: 64}
		s.submit = s.submitLater
	}},
	{BugLoopVar, "/api/batch dispatch goroutines capture a shared loop variable across users", func(s *Server) {
		s.batcher = &batchCoalescer{}
	}},
	{BugOutbox, "a \"Sending…\" banner on the inbox kept in one slot for all users: reads during another user's send show that mail", func(s *Server) {
		s.front = s.outboxFront()
	}},
}

// Bugs lists the known bugs, for help text and validation.
func Bugs() []Bug {
	out := make([]Bug, len(bugs))
	for i, b := range bugs {
		out[i] = b.bug
	}
	return out
}

// Description says in one line what the bug does, for help text.
func (b Bug) Description() string {
	for _, r := range bugs {
		if r.bug == b {
			return r.description
		}
	}
	return "unknown bug"
}

// ParseBug returns the bug named s.
func ParseBug(s string) (Bug, error) {
	names := make([]string, len(bugs))
	for i, r := range bugs {
		if string(r.bug) == s {
			return r.bug, nil
		}
		names[i] = string(r.bug)
	}
	return "", fmt.Errorf("webmail: unknown bug %q (known: %s)", s, strings.Join(names, ", "))
}

// installBug sets up the correct server's hooks, then lets the server's bug
// variant replace what it needs.
func (s *Server) installBug() {
	s.front = s.route
	s.newID = func(time.Time) string { return newSessionID() }
	s.submit = s.deliver
	for _, r := range bugs {
		if r.bug == s.bug && r.install != nil {
			r.install(s)
		}
	}
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
