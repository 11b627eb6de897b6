package webmail

import (
	"net/http"
	"sync"
	"time"
)

// BugCacheKey is a response cache keyed on the URL alone: the first signed-in
// user to ask for a page has it stored, and everyone who asks for the same URL
// within [urlCacheTTL] is served that user's page. No concurrency is needed;
// two requests one after the other leak.
//
// Public references (bug class 2 of the design brief): Steam, December 2015, when a
// caching configuration pushed during a traffic spike had the CDN serve
// account pages generated for one user to others; and gofiber/fiber PR #3905,
// a fix to what that framework's cache middleware lets requests share. The
// model is the plain form both have in common: a cache in front of the
// application that ignores the session cookie, and the no-store the pages
// carry.
const BugCacheKey Bug = "cachekey"

// urlCacheTTL is how long a page stays cached: long enough that a test's
// sequential baseline, user after user, reads from the first user's entry.
const urlCacheTTL = 30 * time.Second

// urlCacheMax bounds the cache under a long run; a full cache is emptied
// rather than evicted entry by entry, which is enough for a test target.
const urlCacheMax = 4096

type urlCacheEntry struct {
	resp    *recorded
	expires time.Time
}

// urlCache is a shared page cache. The defect is its key: the request URI,
// with nothing of who is asking.
type urlCache struct {
	mu      sync.Mutex
	entries map[string]urlCacheEntry
}

// serveURLCached is the cachekey middleware. Only signed-in GETs are
// considered, and only 200 responses stored, as a cache set up to offload
// "the expensive pages" would be.
func (s *Server) serveURLCached(w http.ResponseWriter, r *http.Request) {
	if _, ok := cacheable(r); !ok {
		s.route(w, r)
		return
	}
	key := r.URL.RequestURI() // the defect: the session is not part of the key
	now := time.Now()
	c := s.cache
	c.mu.Lock()
	e, hit := c.entries[key]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		e.resp.writeTo(w)
		return
	}
	rec := newRecorder()
	s.route(rec, r)
	resp := rec.finish()
	if resp.status == http.StatusOK {
		c.mu.Lock()
		if len(c.entries) >= urlCacheMax {
			clear(c.entries)
		}
		c.entries[key] = urlCacheEntry{resp: resp, expires: now.Add(urlCacheTTL)}
		c.mu.Unlock()
	}
	resp.writeTo(w)
}
