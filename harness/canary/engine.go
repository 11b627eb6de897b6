package canary

import (
	"context"
	"net/http"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// Every call into the harness is in this file. The canary reuses the engine
// as it is: a Fixture per instance holds the logins, canaries and markers, and
// each probe is a one-burst plan executed on it, so a canary judges exactly
// what run, fuzz and replay judge.

// engine is one instance's logged-in, seeded target.
type engine struct {
	t *harness.Fixture
}

// probeStep is one request of a probe burst.
type probeStep struct {
	User, Request string
}

// exchangeResult is what the canary needs of one exchange.
type exchangeResult struct {
	User, Request string
	Status        int
	Err           string
	// Backend is the raw value of the spec's backend header, if any.
	Backend string
}

// burstResult is what one executed burst produced.
type burstResult struct {
	Exchanges []exchangeResult
	Findings  []*harness.Finding
	// Skew and Spread are the burst's release skew and, where the target
	// reports arrival times, its arrival spread.
	Skew, Spread float64
	Burst        *harness.BurstSummary
	// Coverage is the execution's own: how many of the burst's read
	// responses carried their viewer's own data.
	Coverage harness.Coverage
}

// openEngine logs every user in on the instance at base, plants canaries and
// learns markers. Settle is turned off: the canary's own pacer spaces bursts,
// and a settle would add to the time to detect. Every exchange is traced,
// since the canary reads statuses to tell an expired session from an error.
func openEngine(ctx context.Context, s *spec.Spec, base string, cfg *Config, sink harness.Sink) (*engine, error) {
	// Sessions are kept: a probe is one burst, and logging every user in
	// again before each would multiply the load and trip login rate
	// limits; an expired session is logged in again when it shows.
	t, err := harness.NewFixture(ctx, s, harness.FixtureOptions{
		BaseURL: base, Sync: pickSync(base, cfg), BurstSize: cfg.BurstSize, Insecure: cfg.Insecure,
		Settle: -1, Trace: true, Sessions: spec.SessionsKeep,
	}, sink)
	if err != nil {
		return nil, err
	}
	return &engine{t: t}, nil
}

// pickSync is the instance's strategy: the configured one, or by default
// h2 where the instance speaks HTTP/2 and lastbyte elsewhere.
func pickSync(base string, cfg *Config) string {
	if cfg.Sync != "" {
		return cfg.Sync
	}
	if harness.SpeaksH2(base, cfg.Insecure, 5*time.Second) {
		return harness.SyncH2
	}
	return harness.SyncLastByte
}

// fire executes one burst of steps and collects its results; records go to
// sink as they come.
func (e *engine) fire(ctx context.Context, steps []probeStep, sink harness.Sink) (*burstResult, error) {
	b := harness.Burst{}
	for _, st := range steps {
		b.Steps = append(b.Steps, harness.Step{User: st.User, Request: st.Request})
	}
	res := &burstResult{}
	out, err := e.t.Execute(ctx, harness.Plan{Bursts: []harness.Burst{b}}, func(r harness.Record) error {
		switch r.Type {
		case harness.RecordExchange:
			res.Exchanges = append(res.Exchanges, exchangeResult{User: r.Exchange.User, Request: r.Exchange.Request,
				Status: r.Exchange.Status, Err: r.Exchange.Err, Backend: r.Exchange.Backend})
		case harness.RecordFinding:
			res.Findings = append(res.Findings, r.Finding)
		case harness.RecordBurst:
			res.Burst = r.Burst
			res.Skew = r.Burst.ReleaseSkew.Seconds()
			res.Spread = r.Burst.ArrivalSpread.Seconds()
		}
		return sink(r)
	})
	if out != nil && out.Coverage != nil {
		res.Coverage = *out.Coverage
	}
	return res, err
}

// relogin runs the spec's login flow again for user, as a browser whose
// session expired would. It reports whether the login exchange succeeded.
func (e *engine) relogin(ctx context.Context, user string, sink harness.Sink) (bool, error) {
	ok := false
	_, err := e.t.Execute(ctx, harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: user, Request: harness.LoginStep}}}}},
		func(r harness.Record) error {
			if r.Type == harness.RecordExchange {
				ok = r.Exchange.Err == "" && r.Exchange.Status > 0 && r.Exchange.Status < 400
			}
			return sink(r)
		})
	return ok, err
}

func (e *engine) users() []string { return e.t.Users() }

func (e *engine) close() { e.t.Close() }

// Names of the harness's types that the rest of the package uses, so that
// they are spelt in one place.
type (
	headerT  = harness.Header
	record   = harness.Record
	counts   = harness.Counts
	coverage = harness.Coverage
	finding  = harness.Finding
	outcome  = harness.Outcome
	verdict  = harness.Verdict
)

const (
	streamVersion = harness.StreamVersion
	// defaultSync names the default in messages.
	defaultSync = "default (h2 where spoken, else lastbyte)"
	syncH2      = harness.SyncH2
)

const (
	isolated     = harness.Isolated
	leak         = harness.Leak
	inconclusive = harness.Inconclusive
)

const (
	recordHeader  = harness.RecordHeader
	recordBurst   = harness.RecordBurst
	recordFinding = harness.RecordFinding
	recordExch    = harness.RecordExchange
	recordVerdict = harness.RecordVerdict
)

// decide is the engine's one verdict rule.
func decide(c counts, maxErrorRate float64) (verdict, string) { return harness.Decide(c, maxErrorRate) }

// expired tells a session the target no longer honours: a 401, or a
// redirect where a read of a logged-in user expects a page. The result stream
// has no Location header, so any redirect of a read counts; a read that is
// meant to redirect belongs out of a canary's requests.
func expired(status int) bool {
	return status == http.StatusUnauthorized || (status >= 300 && status < 400)
}

// failed is the harness's notion of a failed exchange, less the 401 the
// canary answers with a new login.
func failed(x exchangeResult) bool {
	return x.Err != "" || x.Status == 0 || x.Status >= 500 || x.Status == http.StatusForbidden || x.Status == http.StatusTooManyRequests
}

// percentiles are the stream's own nearest-rank percentiles, so the
// detection figures are computed as every other figure is.
func percentiles(ds []time.Duration, ps ...int) []time.Duration {
	return harness.Percentiles(ds, ps...)
}
