package harness

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// A cache in front of a target hides the target from a burst: after the
// first request of a URL, the others are answered from the cache, and a
// microcache with request coalescing leaks only when several users ask for a
// URL that is being computed right then. [Options.CacheBust] makes every
// burst such a moment: each GET read of burst n carries the same fresh query
// parameter, so every user of the burst misses the cache together, and the
// URL is still the same for all of them. A correct cache keeps them apart by
// session whatever the query; a cache or coalescing key without the session
// hands one user's page to the others.

// bustValue is the parameter value of burst n: the run's seed keeps values
// of different runs against the same cache apart.
func (r *runner) bustValue(n int) string {
	return "ct" + strconv.FormatUint(r.opts.Seed&0xffffffff, 36) + "-" + strconv.Itoa(n)
}

// bust returns q with the cache-busting parameter of burst n added to its
// path, or q itself when busting is off or q is not a GET read. The baseline
// (burst 0) is never busted: it learns markers from the URLs as the spec
// wrote them.
func (r *runner) bust(q *spec.Request, n int) *spec.Request {
	if r.opts.CacheBust == "" || n <= 0 || (q.Action != "" && q.Action != spec.ActionRead) ||
		(q.Method != "" && q.Method != http.MethodGet) {
		return q
	}
	c := *q
	sep := "?"
	if strings.Contains(c.Path, "?") {
		sep = "&"
	}
	c.Path += sep + r.opts.CacheBust + "=" + r.bustValue(n)
	return &c
}

// burst is the burst number a prepared shot belongs to.
func burst(sh *shot) int { return sh.ex.Burst }

// checkCacheBust accepts an empty name or one that needs no escaping in a
// query string.
func checkCacheBust(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > 64 {
		return fmt.Errorf("%w: cache-bust parameter name is longer than 64 bytes", ErrOptions)
	}
	for _, c := range name {
		ok := c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return fmt.Errorf("%w: cache-bust parameter name %q may only hold letters, digits, '-', '_' and '.'", ErrOptions, name)
		}
	}
	return nil
}
