package webmail

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// BugConnDesync serves signed-in pages through a pool of connections to a
// backend (a mail store in another process, modelled in-process). A handler
// borrows a connection, sends its query and waits for the reply. When the
// client goes away first, the handler gives up, as it should, but puts the
// connection back into the pool with the reply still on its way. The next
// borrower sends its own query and reads the first reply on the connection:
// the previous user's page. From then on the connection stays one reply
// behind, and every borrower reads the page of the one before.
//
// Public references (bug class 4 of the design brief): the ChatGPT incident of March
// 2023, caused by redis-py issue #2624 (an async command cancelled after it
// was sent left its reply on a pooled connection, for the next command to
// read); and lib/pq #1001, where a query's cancellation raced with the
// connection going back to the pool, so that the cancel hit the next query on
// that connection. Finding it needs client cancels that land after the query
// went out and before its reply came back.
//
// The correct handling, for reference: a connection whose reply is unread is
// closed, never pooled.
const BugConnDesync Bug = "conndesync"

// backendRTT is how long the backend takes to answer a query: a round trip
// to another host and a mailbox read. It is what leaves room for a cancel
// between a query and its reply.
const backendRTT = 3 * time.Millisecond

// backendMaxIdle bounds the idle connections the pool keeps.
const backendMaxIdle = 32

// backendReply is a reply on its way back, readable from ready on.
type backendReply struct {
	ready time.Time
	resp  *recorded
}

// backendConn is one connection to the backend: replies come back in the
// order the queries were sent, as on any request-response protocol without
// ids, such as RESP or the Postgres wire protocol.
type backendConn struct {
	mu     sync.Mutex
	queued []backendReply
}

// send writes a query; the backend computes its reply at once (it is the
// state of the mailbox when the query arrived) and delivers it after
// [backendRTT].
func (c *backendConn) send(reply *recorded) {
	c.mu.Lock()
	c.queued = append(c.queued, backendReply{ready: time.Now().Add(backendRTT), resp: reply})
	c.mu.Unlock()
}

// receive reads the next reply on the connection, or returns false when ctx
// ends first; the reply is then still unread.
func (c *backendConn) receive(ctx context.Context) (*recorded, bool) {
	c.mu.Lock()
	if len(c.queued) == 0 {
		c.mu.Unlock()
		return nil, false
	}
	head := c.queued[0]
	c.mu.Unlock()
	if d := time.Until(head.ready); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, false
		}
	}
	c.mu.Lock()
	c.queued = c.queued[1:]
	c.mu.Unlock()
	return head.resp, true
}

// serveViaBackend answers signed-in GETs from the backend.
func (s *Server) serveViaBackend(w http.ResponseWriter, r *http.Request) {
	if _, ok := cacheable(r); !ok {
		s.route(w, r)
		return
	}
	// The backend's answer to this query is the page the router renders for
	// the request's own session.
	rec := newRecorder()
	s.route(rec, r)

	c := s.backend.get()
	c.send(rec.finish())
	reply, ok := c.receive(r.Context())
	// The defect: the connection is pooled again whether or not its reply
	// was read. A canceled request leaves its reply queued for the next one.
	s.backend.put(c)
	if !ok {
		return
	}
	reply.writeTo(w)
}
