package webmail

import (
	"sync/atomic"
	"time"
)

// BugAfterReturn hands sent mail to an asynchronous delivery that reads the
// sender, subject and body from the request's context object after the
// handler has returned. The server recycles context objects as soon as their
// request is answered, so by the time delivery reads them they may hold the
// fields of a later request by another user: the recipient gets mail whose
// sender and body are someone else's, including text that user sent to a
// third person. The HTTP responses are all correct; only the side effect,
// the recipients' mailboxes, shows the leak.
//
// Public reference (bug class 5 of the design brief): fasthttp and gofiber/fiber
// issues #185 and #426, where values taken from the pooled request context
// (c.Body(), c.Params()) were kept past the handler's return and changed
// under the code that kept them when the context served the next request.
//
// fasthttp recycles contexts through a sync.Pool; the model uses a LIFO free
// list instead, so the next request reuses the context whichever processor
// runs it. The fields are atomic pointers, so the reuse is a logic error the
// race detector lets a test observe, not a data race it stops at.
const BugAfterReturn Bug = "afterreturn"

// queuePickup is how long sent mail waits in the queue before delivery.
const queuePickup = 2 * time.Millisecond

// reqCtx is the recycled per-request state of the send handlers.
type reqCtx struct {
	from, subject, body atomic.Pointer[string]
}

// submitLater queues d for rcpt and returns at once. The recipient is
// resolved now; the message itself is read from the request context when the
// queue picks it up.
func (s *Server) submitLater(rcpt *account, d draft) {
	rc := s.ctxs.get()
	rc.from.Store(&d.from)
	rc.subject.Store(&d.subject)
	rc.body.Store(&d.body)
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		t := time.NewTimer(queuePickup)
		<-t.C
		// The defect: rc belongs to whichever request holds it now.
		s.deliver(rcpt, draft{from: *rc.from.Load(), subject: *rc.subject.Load(), body: *rc.body.Load(), date: d.date})
	}()
	// The handler is about to return: its context goes back for reuse.
	s.ctxs.put(rc)
}
