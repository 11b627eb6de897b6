package webmail

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// BugLoopVar coalesces /api/batch requests that arrive within
// [batchWindow] into one round of work, as a data loader in front of a mail
// store does, and runs one goroutine per request of the round. The dispatch
// loop was written before Go 1.22: the goroutines take their slot as an
// argument but read the request itself from the loop variable, which every
// iteration shares. By the time they run, the loop has moved on, and most of
// them render the last request's user's messages into their own slot. A
// request alone in its round, such as any request one after another, is
// served correctly; requests of different users that land together are
// served each other's mail.
//
// Public reference (bug class 9 of the design brief): Let's Encrypt, February 2020,
// when a loop over the authorizations of an order took the address of the
// loop variable, so that one CAA recheck result stood in for the others, and
// about three million certificates were to be revoked.
//
// Since Go 1.22 each iteration has its own variable, so the model declares
// the shared variable explicitly, outside the loop. It is an
// [sync/atomic.Pointer]: the capture is the defect, and keeping the accesses
// atomic lets the race detector watch it instead of stopping the test.
const BugLoopVar Bug = "loopvar"

// batchWindow is how long the first request of a round waits for others.
const batchWindow = time.Millisecond

type batchJob struct {
	acct *account
	ids  []uint64
	out  chan []byte // buffered: the dispatcher never waits for a reader
}

// batchCoalescer collects the jobs of the round that is open.
type batchCoalescer struct {
	mu      sync.Mutex
	pending []*batchJob
	open    bool
}

// coalesceBatch joins the open round, or opens one and dispatches it after
// the window. It returns nil when the client went away first.
func (s *Server) coalesceBatch(r *http.Request, a *account, ids []uint64) []byte {
	j := &batchJob{acct: a, ids: ids, out: make(chan []byte, 1)}
	b := s.batcher
	b.mu.Lock()
	b.pending = append(b.pending, j)
	leader := !b.open
	b.open = true
	b.mu.Unlock()
	if leader {
		// The leader dispatches even if its own client left: the others
		// of the round wait for it.
		t := time.NewTimer(batchWindow)
		<-t.C
		b.mu.Lock()
		jobs := b.pending
		b.pending, b.open = nil, false
		b.mu.Unlock()
		s.dispatchBatch(jobs)
	}
	select {
	case body := <-j.out:
		return body
	case <-r.Context().Done():
		return nil
	}
}

// dispatchBatch runs one goroutine per job and hands each job its slot.
func (s *Server) dispatchBatch(jobs []*batchJob) {
	results := make([][]byte, len(jobs))
	// job is the range variable "for i, job = range jobs" of the pre-1.22
	// loop: one variable for all iterations.
	var job atomic.Pointer[batchJob]
	var wg sync.WaitGroup
	for i := range jobs {
		job.Store(jobs[i])
		wg.Add(1)
		go func(slot int) {
			defer wg.Done()
			j := job.Load() // the defect: whichever job the loop is at now
			results[slot] = s.renderBatch(j.acct, j.ids)
		}(i)
	}
	wg.Wait()
	for i, j := range jobs {
		j.out <- results[i]
	}
}
