package harness

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// FixtureOptions shape the setup: what [NewFixture] needs to log the users
// in, learn their markers and release bursts. They hold for every execution
// of the fixture.
type FixtureOptions struct {
	// BurstSize is how many distinct users fire together in a drawn burst
	// (default: all users, at most 8).
	BurstSize int
	// Sync names the strategy that releases a burst (default "barrier";
	// "auto" calibrates during the setup).
	Sync string
	// Trace adds every exchange to the stream, not only bursts and findings.
	Trace bool
	// BaseURL replaces the spec's base URL.
	BaseURL string
	// Insecure skips TLS certificate checks, for self-signed staging targets.
	Insecure bool
	// Seed makes drawn bursts repeatable (0: a random seed).
	Seed uint64
	// Settle is a quiet time kept before each burst, counted from the end
	// of the previous one, even across [Fixture.Execute] calls (0 or less:
	// none; [NewFixture] makes 0 [DefaultSettle]). A burst that lands while
	// the target is still busy with the last one starts its handlers
	// together less often, so a saved plan reproduces less often than it
	// could.
	Settle time.Duration
	// CacheBust, when set, names a query parameter added to every GET read
	// of a burst, with a value fresh for each burst and shared by all its
	// steps (see cachebust.go). Caches in front of the target then miss at
	// once for every user of the burst, which is what exposes request
	// coalescing that ignores the session.
	CacheBust string
	// Rate caps the bursts' requests per second (0: no cap). A burst is
	// released whole, so the cap is kept on average: each burst waits until
	// the requests before it fit the rate, counted from the first burst.
	// Bursts that fell behind catch up by at most a second's worth, so a
	// stall is not followed by a rush.
	Rate float64
	// Header is added to every request, the setup's included: a canary
	// routing header, say, or a WAF bypass token. Its values are secrets
	// to the reports, as credentials are. A spec request's own header of
	// the same name is replaced; the session's credentials are not.
	Header http.Header
	// Reset, when set, returns the target to a known state before every
	// [Fixture.Execute]; the spec's reset requests, if any, follow it.
	// After a reset the fixture's users log in again and, unless the spec
	// says the reset keeps data, plant their canaries again (see reset.go).
	Reset Resetter
	// Sessions replaces the spec's sessions choice when set:
	// [spec.SessionsFresh] or [spec.SessionsKeep].
	Sessions string
}

// Resetter returns a target to a known state, as restarting a container or
// restoring a database snapshot does. [CommandReset] runs a command.
type Resetter interface {
	Reset(ctx context.Context) error
	// String names the reset in reports, such as "command: make reset".
	String() string
}

// Budget bounds one execution. The zero value is not runnable on its own:
// an execution needs a duration, a request budget or a plan, so that it
// always stops by itself.
type Budget struct {
	// Duration stops the execution after this long (0: no time bound).
	Duration time.Duration
	// MaxRequests stops the execution once this many requests were sent in
	// its bursts; setup requests (logins, seeds, baselines, calibration) do
	// not count (0: no request bound).
	MaxRequests int
	// StopOnFirst ends the execution after the first burst with a finding.
	StopOnFirst bool
	// Plan, when set, is fired instead of randomly drawn bursts.
	Plan *Plan
	// Progress, when set, is called after every burst from the execution's
	// own goroutine, with the share of the budget spent; keep it cheap.
	Progress func(Progress)
}

// Options are a [FixtureOptions] and a [Budget] in one, for [Run], which
// sets up and executes once. Their fields mean what they mean there.
type Options struct {
	Duration    time.Duration
	MaxRequests int
	StopOnFirst bool
	Plan        *Plan
	Progress    func(Progress)

	BurstSize int
	Sync      string
	Trace     bool
	BaseURL   string
	Insecure  bool
	Seed      uint64
	Settle    time.Duration
	CacheBust string
	Rate      float64
	Header    http.Header
	Reset     Resetter
	Sessions  string
}

// Fixture is the part of o that shapes the setup.
func (o Options) Fixture() FixtureOptions {
	return FixtureOptions{BurstSize: o.BurstSize, Sync: o.Sync, Trace: o.Trace, BaseURL: o.BaseURL,
		Insecure: o.Insecure, Seed: o.Seed, Settle: o.Settle, CacheBust: o.CacheBust, Rate: o.Rate, Header: o.Header,
		Reset: o.Reset, Sessions: o.Sessions}
}

// Budget is the part of o that bounds the execution.
func (o Options) Budget() Budget {
	return Budget{Duration: o.Duration, MaxRequests: o.MaxRequests, StopOnFirst: o.StopOnFirst, Plan: o.Plan, Progress: o.Progress}
}

// Progress is a snapshot handed to Budget.Progress.
type Progress struct {
	Elapsed  time.Duration
	Bursts   int
	Requests int
	Errors   int
	Findings int
	// Budget is the fraction of the budget spent, 0..1.
	Budget float64
}

// Sink receives the result stream in order, from the execution's
// goroutine. An error from it stops the execution: a stream that cannot be
// written must not silently lose findings.
type Sink func(Record) error

// ErrOptions wraps invalid options: a usage error, not a verdict.
var ErrOptions = errors.New("invalid options")

// checkOptions validates a setup and the budget of its first execution,
// fills in the defaults of o and returns the base URL. A fixture is checked
// with a budget that has a plan, as every one of its executions brings
// one: its bursts then need neither two users each nor read requests.
func checkOptions(s *spec.Spec, o *FixtureOptions, b Budget) (*url.URL, error) {
	if s == nil || len(s.Resolved) < 2 {
		return nil, fmt.Errorf("%w: the spec needs at least two resolved users", ErrOptions)
	}
	if b.Duration < 0 || b.MaxRequests < 0 || o.BurstSize < 0 {
		return nil, fmt.Errorf("%w: duration, request budget and burst size cannot be negative", ErrOptions)
	}
	if b.Duration == 0 && b.MaxRequests == 0 && b.Plan == nil {
		return nil, fmt.Errorf("%w: give a duration, a request budget or a plan, so the run stops by itself", ErrOptions)
	}
	if err := checkCacheBust(o.CacheBust); err != nil {
		return nil, err
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		return nil, fmt.Errorf("%w: the rate must be a positive number of requests per second, or 0 for none", ErrOptions)
	}
	for name, vs := range o.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("%w: header %q: not a valid header name", ErrOptions, name)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("%w: header %s: the value has a control character (a CR or LF would end the header)", ErrOptions, name)
			}
		}
	}
	if o.Sessions != "" && o.Sessions != spec.SessionsFresh && o.Sessions != spec.SessionsKeep {
		return nil, fmt.Errorf("%w: sessions must be %q or %q, not %q", ErrOptions, spec.SessionsFresh, spec.SessionsKeep, o.Sessions)
	}
	if o.Sync == "" {
		o.Sync = SyncBarrier
	}
	if strategyNamed(o.Sync) == nil && o.Sync != SyncAuto {
		return nil, fmt.Errorf("%w: unknown sync strategy %q (known: %s)", ErrOptions, o.Sync, strings.Join(SyncNames(), ", "))
	}
	if o.BurstSize == 0 {
		o.BurstSize = min(8, len(s.Resolved))
	}
	if o.BurstSize > len(s.Resolved) {
		return nil, fmt.Errorf("%w: burst size %d is more than the %d users of the spec", ErrOptions, o.BurstSize, len(s.Resolved))
	}
	if o.BurstSize < 2 && b.Plan == nil {
		return nil, fmt.Errorf("%w: a burst needs at least two users", ErrOptions)
	}
	raw := s.BaseURL
	if o.BaseURL != "" {
		raw = o.BaseURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q is not an absolute http(s) URL", ErrOptions, raw)
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	return base, nil
}

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
