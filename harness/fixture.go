package harness

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// Fixture is what the setup made of a spec and outlives any one execution:
// the logged-in, seeded users, their markers and the oracle built from them,
// the read requests bursts are drawn from, and the write grants. Plans can
// be fired at it again and again with [Fixture.Execute]. [Run] pays for a
// fixture on every call; a shrinker that runs a small plan thousands of
// times must not, or the setup would cost a hundred times the plan.
//
// Which sessions belong to whom: the fixture owns the sessions its setup
// logged in (cookies or token, extracted values, write canaries, idle
// connections) and the dialer's HTTP/2 connection. An execution does not
// own sessions; it fires through the set it is handed (execution.sessions).
// By default [Fixture.Execute] hands it a fresh set: every user of the plan
// logs in again with a new cookie jar or token, starting from the values
// the baseline extracted, so a session one execution mixed up never
// reaches the next. With the spec's "sessions: keep" it hands over the
// fixture's own, and logins, cookies and extracted values carry over. The
// fixture's own sessions also serve the control and the reset (control.go,
// reset.go). The markers and grants stay the fixture's, since the oracle is
// built once. The target's own state is another matter: mail sent in one
// execution is still in the recipient's inbox in the next, unless a reset
// runs in between.
//
// A Fixture is safe for use by several goroutines; executions are
// serialised, because a user's session is a browser that does one thing at
// a time.
type Fixture struct {
	mu     sync.Mutex
	closed bool

	spec  *spec.Spec
	opts  FixtureOptions
	base  *url.URL
	d     *wire.Dialer
	users []string
	// sessions are the fixture's own, logged in by the setup.
	sessions map[string]*session
	oracle   *oracle.Oracle
	reads    []*spec.Request
	grants   grants
	// rng draws bursts; calibration and the bursts of a run draw from one
	// stream, so that a seed repeats both.
	rng *rand.Rand
	// syncReason says why auto picked the strategy it did.
	syncReason string
	// lastBurst is when the previous burst's responses were all in; it
	// outlives an execution so that Settle holds between them.
	lastBurst time.Time
	// quietUntil is the earliest a settling fixture fires its first burst.
	quietUntil time.Time
	// ownAtBaseline[request][baselineKey(user, path)]: the user's
	// sequential baseline of the read request, at that path, carried the
	// user's own data.
	ownAtBaseline map[string]map[string]bool
	// baselineCov is what the baseline showed of each read request.
	baselineCov []RequestCoverage
	// confirmed maps viewer and learned value ("viewer\x00value") to how a
	// finding resting on that marker alone was confirmed, so that a
	// repeated leak is not fetched again each time.
	confirmed map[string]string
	// markerCounts and learned describe the oracle's markers for stream
	// headers; nil until a header needs them and whenever the oracle
	// changes.
	markerCounts map[oracle.Kind]int
	learned      []LearnedMarker
	// written keeps each user's latest writes, raw, for confirmation: a
	// value the user wrote is the user's own, whoever it was learned for.
	written map[string][][]byte
	// nextRelease is the earliest the next burst may go under Rate.
	nextRelease time.Time
	// keep: every execution fires through the fixture's own sessions
	// instead of logging its users in afresh (spec sessions: keep).
	keep bool
	// clean says the target is in a known state, right after the setup or
	// after a reset whose control was clean, so the next execution needs
	// no reset of its own.
	clean bool
	// executions counts Execute calls, so that cache-busting values differ
	// from one execution to the next.
	executions int

	// Baseline is the outcome of the setup: logins, seeding and the
	// sequential baselines (burst 0). Its Findings are leaks that need no
	// concurrency at all.
	Baseline Outcome
	// Sequential counts the Baseline findings of the sequential baseline
	// (burst 0) alone: leaks that need no concurrency. The rest of
	// Baseline.Findings, if any, came from auto's calibration bursts.
	Sequential int
}

// Users lists the logins of the fixture's users, in spec order.
func (f *Fixture) Users() []string { return append([]string(nil), f.users...) }

// Spec is the spec the fixture was set up from.
func (f *Fixture) Spec() *spec.Spec { return f.spec }

// Sync names the strategy bursts are released with.
func (f *Fixture) Sync() string { return f.opts.Sync }

// BaseURL is the URL the target is reached at.
func (f *Fixture) BaseURL() string { return f.base.String() }

// UseSync switches the strategy later executions release bursts with. A
// plan's reproduction rate depends on it (a single packet gets two requests
// closer together than two connections do), so a shrinker can measure its
// minimal plan under each and keep the best. "auto" is not accepted here: it
// is a choice made once, from random bursts, before a run.
func (f *Fixture) UseSync(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strategyNamed(name) == nil {
		return fmt.Errorf("%w: unknown sync strategy %q (known: %s)", ErrOptions, name, strings.Join(Strategies(), ", "))
	}
	f.opts.Sync = name
	return nil
}

// Close closes the fixture's connections.
func (f *Fixture) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.closeConns()
	}
}

func (f *Fixture) closeConns() {
	f.d.Close()
	for _, ss := range f.sessions {
		ss.closeAll()
	}
}

// maxWritten bounds the writes kept per user for the check: the latest
// are where a value the user now shares would be.
const maxWritten = 64

// wrote keeps a write a user sent, for confirm.
func (f *Fixture) wrote(user string, raw []byte) {
	if f.written == nil {
		f.written = map[string][][]byte{}
	}
	w := append(f.written[user], bytes.Clone(raw))
	if len(w) > maxWritten {
		w = w[len(w)-maxWritten:]
	}
	f.written[user] = w
}

// redactFresh keeps the secrets of sessions logged in after the oracle was
// built (an execution's or a control's fresh ones) out of a finding's text:
// the oracle redacts only the secrets it knows, the setup's.
func (f *Fixture) redactFresh(sessions map[string]*session, fd *Finding) {
	for u, ss := range sessions {
		if ss == f.sessions[u] {
			continue
		}
		_, secrets := ss.secrets()
		for _, v := range secrets {
			if len(v) >= 3 {
				fd.Excerpt = strings.ReplaceAll(fd.Excerpt, v, oracle.Redacted)
				fd.Path = strings.ReplaceAll(fd.Path, v, oracle.Redacted)
			}
		}
	}
}
