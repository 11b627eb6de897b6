package harness

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// A cache in front of a target hides the target from a burst: after the
// first request of a URL, the others are answered from the cache, and a
// microcache with request coalescing leaks only when several users ask for a
// URL that is being computed right then. [FixtureOptions.CacheBust] makes every
// burst such a moment: each GET read of burst n carries the same fresh query
// parameter, so every user of the burst misses the cache together, and the
// URL is still the same for all of them. A correct cache keeps them apart by
// session whatever the query; a cache or coalescing key without the session
// hands one user's page to the others.

// bustValue is the parameter value of burst n: the run's seed keeps values
// of different runs against the same cache apart, and the execution's
// number those of different executions of one fixture, whose bursts are
// all numbered from 1.
func (f *Fixture) bustValue(n int) string {
	v := "ct" + strconv.FormatUint(f.opts.Seed&0xffffffff, 36) + "-" + strconv.Itoa(n)
	if f.executions > 1 {
		v += "-" + strconv.Itoa(f.executions)
	}
	return v
}

// bust returns q with the cache-busting parameter of burst n added to its
// path, or q itself when busting is off or q is not a GET read. The baseline
// (burst 0) is never busted: it learns markers from the URLs as the spec
// wrote them.
func (f *Fixture) bust(q *spec.Request, n int) *spec.Request {
	if f.opts.CacheBust == "" || n <= 0 || (q.Action != "" && q.Action != spec.ActionRead) ||
		(q.Method != "" && q.Method != http.MethodGet) {
		return q
	}
	c := *q
	sep := "?"
	if strings.Contains(c.Path, "?") {
		sep = "&"
	}
	c.Path += sep + f.opts.CacheBust + "=" + f.bustValue(n)
	return &c
}

// ownedAtBaseline reports whether user's request req to path carried the
// user's own data in the baseline.
func (f *Fixture) ownedAtBaseline(req, user, path string) bool {
	return f.ownAtBaseline[req][f.baselineKey(user, path)]
}

// baselineKey names a user's request to one path, for comparing a burst's
// response with the baseline's: the same request name with another
// extracted id (a message without an attachment) is another page, not a
// lost one. A cache-bust parameter is left out, since baselines have none.
func (f *Fixture) baselineKey(user, path string) string {
	if f.opts.CacheBust != "" {
		for _, sep := range []string{"?", "&"} {
			if i := strings.LastIndex(path, sep+f.opts.CacheBust+"="); i >= 0 {
				path = path[:i]
				break
			}
		}
	}
	return user + "\x00" + path
}
