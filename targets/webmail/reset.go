package webmail

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"
)

// ResetPath is where a [Resettable] takes its reset: POST, with the token
// in the [ResetHeader] header. It answers 204 once the new server is
// serving.
const ResetPath = "/_reset"

// ResetHeader carries the reset token.
const ResetHeader = "X-Reset-Token"

// Resettable serves a [Server] and, on a reset, replaces it with a new one
// built from the same [Options]: every session, mailbox, cache, pooled
// backend connection and counter is as [New] made it. It is how a test or a
// user returns the built-in webmail to a known state between two plan
// executions, the way a real target would be restarted or restored from a
// snapshot. Seeding is deterministic, so message ids and seeded mail are
// the same after a reset as before it.
type Resettable struct {
	opts  Options
	token string

	mu  sync.Mutex
	cur *served
	// retiring counts replaced servers not yet closed: each is closed once
	// the requests it was serving have finished.
	retiring sync.WaitGroup
	// live is set by [StartResettable], and alog when it logs: every
	// request is logged with the server that answered it.
	live *listening
	alog *AccessLog
}

// served is a server and the requests it is serving.
type served struct {
	s      *Server
	active sync.WaitGroup
}

// NewResettable builds the first server. A token of "" turns the reset
// endpoint off: the path is then an ordinary 404; [Resettable.Reset] still
// works from Go.
func NewResettable(opts Options, token string) (*Resettable, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	return &Resettable{opts: opts, token: token, cur: &served{s: s}}, nil
}

// Server is the server being served now.
func (r *Resettable) Server() *Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur.s
}

// Reset replaces the server with a new one. The old one is closed in the
// background once its last request has finished.
func (r *Resettable) Reset() error {
	s, err := New(r.opts)
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.cur
	r.cur = &served{s: s}
	r.retiring.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.retiring.Done()
		old.active.Wait()
		old.s.Close()
	}()
	return nil
}

// ServeHTTP answers the reset endpoint and hands every other request to the
// current server.
func (r *Resettable) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	cur := r.cur
	cur.active.Add(1)
	r.mu.Unlock()
	defer cur.active.Done()
	var h http.Handler = cur.s
	if req.URL.Path == ResetPath && r.token != "" {
		h = http.HandlerFunc(r.serveReset)
	}
	if r.alog != nil {
		r.alog.serve(cur.s, h, w, req)
		return
	}
	h.ServeHTTP(w, req)
}

var errResetToken = errors.New("webmail: wrong or missing " + ResetHeader)

func (r *Resettable) serveReset(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		methodNotAllowed(w, http.MethodPost)
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.Header.Get(ResetHeader)), []byte(r.token)) != 1 {
		http.Error(w, errResetToken.Error(), http.StatusForbidden)
		return
	}
	if err := r.Reset(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Close waits for the replaced servers to close and closes the current
// one; call it once no request can reach it (see [Server.Close]).
func (r *Resettable) Close() {
	r.retiring.Wait()
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	cur.active.Wait()
	cur.s.Close()
}
