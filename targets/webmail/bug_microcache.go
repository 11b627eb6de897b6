package webmail

import (
	"net/http"
	"sync"
	"time"
)

// BugMicrocache is a microcache of [microcacheTTL] with request coalescing,
// where the two disagree on what a request is. Stored entries are keyed on
// the session and the URL, so a page is only ever served again to the user
// it was made for, and requests one after the other never leak. Coalescing,
// which makes requests for a page that is being computed wait for that
// computation instead of starting their own, is keyed on the URL alone: a
// request that arrives while another user's identical URL is in flight is
// handed that user's page. Only concurrent requests leak, and only those that
// land inside another user's computation of the same URL.
//
// Public reference (bug class 2 of the design brief): the microcache with request
// coalescing in front of an application, as nginx's proxy_cache with
// proxy_cache_lock, or a singleflight group in Go, does it. The lock
// (singleflight) key that is coarser than what the response depends on is the
// defect, as in the Steam 2015 incident a cache key without the session.
const BugMicrocache Bug = "microcache"

// microcacheTTL is how long an entry serves its own user again.
const microcacheTTL = time.Second

// microcacheMax bounds the stored entries; expired ones are swept when it is
// reached.
const microcacheMax = 4096

type microEntry struct {
	resp    *recorded
	expires time.Time
}

// microCall is one computation of a page that later requests may wait for.
type microCall struct {
	done chan struct{}
	resp *recorded // set before done is closed
}

type microcache struct {
	mu      sync.Mutex
	entries map[string]microEntry // key: session and URL
	flight  map[string]*microCall // key: URL only, the defect
}

// serveMicrocached is the microcache middleware for signed-in GETs.
func (s *Server) serveMicrocached(w http.ResponseWriter, r *http.Request) {
	sid, ok := cacheable(r)
	if !ok {
		s.route(w, r)
		return
	}
	uri := r.URL.RequestURI()
	key := sid + "\x00" + uri
	mc := s.micro
	now := time.Now()
	mc.mu.Lock()
	if e, hit := mc.entries[key]; hit && now.Before(e.expires) {
		mc.mu.Unlock()
		e.resp.writeTo(w)
		return
	}
	if call := mc.flight[uri]; call != nil {
		mc.mu.Unlock()
		select {
		case <-call.done:
			call.resp.writeTo(w)
		case <-r.Context().Done():
		}
		return
	}
	call := &microCall{done: make(chan struct{})}
	mc.flight[uri] = call
	mc.mu.Unlock()

	rec := newRecorder()
	// The origin's cost: the window in which other requests join the call.
	busy(s.work)
	s.route(rec, r)
	call.resp = rec.finish()

	mc.mu.Lock()
	delete(mc.flight, uri)
	if call.resp.status == http.StatusOK {
		if len(mc.entries) >= microcacheMax {
			for k, e := range mc.entries {
				if !now.Before(e.expires) {
					delete(mc.entries, k)
				}
			}
			if len(mc.entries) >= microcacheMax {
				clear(mc.entries)
			}
		}
		mc.entries[key] = microEntry{resp: call.resp, expires: time.Now().Add(microcacheTTL)}
	}
	mc.mu.Unlock()
	close(call.done)
	call.resp.writeTo(w)
}
