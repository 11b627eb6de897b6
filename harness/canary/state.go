package canary

import (
	"fmt"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// instance is one probed instance and what the canary has seen of it. Its
// fields are guarded by Canary.mu.
type instance struct {
	name, base string
	eng        *engine
	readyAt    time.Time
	setupErr   string
	setupFails int

	bursts, probes, errors, findings int
	refreshes, refreshFails          int
	kinds                            map[string]int
	// served and backendLeaks count responses and findings by the backend
	// that served them (see backendLabel).
	served, backendLeaks map[string]int
	// cov is the coverage over the canary's whole life; samples hold the
	// live window's bursts, older ones dropped.
	cov       coverage
	samples   []sample
	lastOK    time.Time
	firstLeak *Leak
	backoff   time.Duration
	// turn is the smooth weighted round robin over the reads, for
	// same-request bursts: each read's running credit.
	turn []int
}

// nextRead is the instance's next read in turn: smooth weighted round robin,
// so that a read of weight 4 among reads of weight 1 comes four times in six,
// spread out, from the first burst on, not at random.
func (in *instance) nextRead(reads []*spec.Request) *spec.Request {
	if len(in.turn) != len(reads) {
		in.turn = make([]int, len(reads))
	}
	total, best := 0, 0
	for i, q := range reads {
		in.turn[i] += q.Weight
		total += q.Weight
		if in.turn[i] > in.turn[best] {
			best = i
		}
	}
	in.turn[best] -= total
	return reads[best]
}

// sample is one burst (or re-login) of an instance, for the live window.
type sample struct {
	at                     time.Time
	probes, errors, bursts int
	cov                    *coverage // nil for a re-login
}

// add files a sample, dropping those the live window no longer reaches: the
// whole run is judged from the lifetime counts, so a canary that runs for
// hours keeps only a window's worth.
func (in *instance) add(s sample, window time.Duration) {
	from := s.at.Add(-window)
	drop := 0
	for drop < len(in.samples) && in.samples[drop].at.Before(from) {
		drop++
	}
	in.samples = append(in.samples[drop:], s)
}

// InstanceVerdict is one instance's part of a Verdict.
type InstanceVerdict struct {
	Instance  string  `json:"instance"`
	Verdict   verdict `json:"verdict"`
	Reason    string  `json:"reason"`
	Leaks     int     `json:"leaks"`
	Probes    int     `json:"probes"`
	Errors    int     `json:"errors"`
	Bursts    int     `json:"bursts"`
	Refreshes int     `json:"session_refreshes"`
	// Window counts the probes and errors of the live window.
	WindowProbes int `json:"window_probes"`
	WindowErrors int `json:"window_errors"`
	// Coverage is the window's: how many of its read responses carried
	// their viewer's own data. An instance whose answers carry nobody's
	// data (empty pages, a login page) is not vouched for.
	Coverage coverage       `json:"coverage"`
	Kinds    map[string]int `json:"leaks_by_kind,omitempty"`
	// Backends break the instance's responses and leaks down by the
	// backend that served them, when the spec names a backend_header.
	Backends  []BackendCount `json:"backends,omitempty"`
	FirstLeak *Leak          `json:"first_leak,omitempty"`
}

// Window is the span a verdict covers.
type Window struct {
	// Seconds is the live window: how far back every instance must have
	// answered cleanly.
	Seconds float64 `json:"seconds"`
	// Since is when probing started; leaks count from then.
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// Verdict is the canary's judgement at one moment: what /verdict serves and
// what the Flagger and Prometheus answers are made of.
type Verdict struct {
	Verdict   verdict           `json:"verdict"`
	Reason    string            `json:"reason"`
	Leaks     int               `json:"leaks"`
	Probes    int               `json:"probes"`
	Errors    int               `json:"errors"`
	Refreshes int               `json:"session_refreshes"`
	Coverage  coverage          `json:"coverage"`
	Window    Window            `json:"window"`
	Instances []InstanceVerdict `json:"instances"`
	FirstLeak *Leak             `json:"first_leak,omitempty"`
	Running   bool              `json:"running"`
}

// Verdict judges now, by the engine's one verdict rule ([harness.Decide])
// over each instance's live window. Leaks count over the canary's whole
// life; isolation is claimed for an instance only when, in the live window,
// it answered its probes with errors under the spec's threshold and enough
// of its answers carried their viewer's own data (limits.min_coverage),
// after at least MinProbes probes. A target that is down, stalled, refusing
// logins or answering with pages of nobody's data is therefore
// inconclusive, never isolated.
func (c *Canary) Verdict() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.running && !c.ended.IsZero() {
		now = c.ended
	}
	return c.judge(now, c.cfg.Window, false)
}

// Final judges the whole run once Run has returned: every instance must have
// answered cleanly over all of it, and over its last live window too, so
// that a target that went blind or down at the end is not vouched for by
// its better start.
func (c *Canary) Final() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.judge(c.ended, c.ended.Sub(c.started), true)
}

// judge is Verdict over the given window; whole judges the canary's whole
// life instead, from the lifetime counts, and the live window at its end.
// The caller holds c.mu.
func (c *Canary) judge(now time.Time, window time.Duration, whole bool) Verdict {
	v := Verdict{Window: Window{Seconds: window.Seconds(), Since: c.started, Until: now}, Running: c.running}
	if c.first != nil {
		l := *c.first
		v.FirstLeak = &l
	}
	limits := c.cfg.Spec.Limits
	all := counts{Coverage: coverage{Min: limits.MinCoverage}}
	var leaky, unsure []string
	for _, in := range c.inst {
		iv := InstanceVerdict{Instance: in.name, Leaks: in.findings, Probes: in.probes, Errors: in.errors,
			Bursts: in.bursts, Refreshes: in.refreshes, FirstLeak: in.firstLeak}
		if len(in.kinds) > 0 {
			iv.Kinds = map[string]int{}
			for k, n := range in.kinds {
				iv.Kinds[k] = n
			}
		}
		if c.cfg.Spec.BackendHeader != "" {
			iv.Backends = in.backendCounts()
		}
		var n counts
		if whole {
			n = c.lifetime(in)
			iv.Verdict, iv.Reason = c.decide(in, n, fmt.Sprintf("over the whole %v", window.Round(time.Millisecond)))
			live := c.windowed(in, now, c.cfg.Window)
			if lv, why := c.decide(in, live, fmt.Sprintf("over the last %v", c.cfg.Window)); iv.Verdict == isolated && lv != isolated {
				iv.Verdict, iv.Reason = lv, "at the end, "+why
			}
		} else {
			n = c.windowed(in, now, window)
			iv.Verdict, iv.Reason = c.decide(in, n, fmt.Sprintf("over the last %v", window.Round(time.Millisecond)))
		}
		iv.WindowProbes, iv.WindowErrors, iv.Coverage = n.Requests, n.Errors, n.Coverage
		switch iv.Verdict {
		case leak:
			leaky = append(leaky, in.name)
		case inconclusive:
			unsure = append(unsure, in.name+": "+iv.Reason)
		}
		v.Leaks += iv.Leaks
		v.Probes += iv.Probes
		v.Errors += iv.Errors
		v.Refreshes += iv.Refreshes
		v.Instances = append(v.Instances, iv)
		all.Findings += n.Findings
		all.Requests += n.Requests
		all.Errors += n.Errors
		all.Bursts += n.Bursts
		all.Coverage.Add(n.Coverage)
	}
	// The whole canary is judged by the same rule over the sum; an instance
	// it cannot vouch for keeps it from vouching for the target.
	all.StopReason = strings.Join(unsure, "; ")
	if len(c.inst) == 0 {
		all.StopReason = "no instance to probe"
	}
	v.Coverage = all.Coverage
	v.Verdict, v.Reason = decide(all, limits.MaxErrorRate)
	switch v.Verdict {
	case leak:
		v.Reason += " on " + strings.Join(leaky, ", ")
	case isolated:
		span := "over the last"
		if whole {
			span = "over the whole"
		}
		v.Reason = fmt.Sprintf("%s %v, %d %s: %s", span, window.Round(time.Millisecond), len(c.inst),
			plural(len(c.inst), "instance", "instances"), v.Reason)
	}
	return v
}

// lifetime is what an instance's probes saw over the canary's whole life.
func (c *Canary) lifetime(in *instance) counts {
	n := counts{Findings: in.findings, Requests: in.probes, Errors: in.errors, Bursts: in.bursts,
		Coverage: coverage{Min: c.cfg.Spec.Limits.MinCoverage}}
	n.Coverage.Add(in.cov)
	return n
}

// windowed is what an instance's probes saw in the window ending at now;
// its leaks are the lifetime's, since a leak, once seen, stands.
func (c *Canary) windowed(in *instance, now time.Time, window time.Duration) counts {
	from := now.Add(-window)
	n := counts{Findings: in.findings, Coverage: coverage{Min: c.cfg.Spec.Limits.MinCoverage}}
	for _, s := range in.samples {
		if s.at.Before(from) || s.at.After(now) {
			continue
		}
		n.Requests += s.probes
		n.Errors += s.errors
		n.Bursts += s.bursts
		if s.cov != nil {
			n.Coverage.Add(*s.cov)
		}
	}
	return n
}

// decide judges one instance's counts over a span (said as "over the last
// 30s") by the engine's rule. What only the canary knows (the instance is
// still being set up, no probe came back, too few probes so far) goes into
// the counts as the reason it cannot be judged; the rule itself is the
// engine's.
func (c *Canary) decide(in *instance, n counts, span string) (verdict, string) {
	measured := false
	switch {
	case in.eng == nil && c.started.IsZero():
		n.SetupError = "not started"
	case in.eng == nil && in.setupErr != "":
		n.LoginFailures = []string{in.setupErr}
	case in.eng == nil:
		n.SetupError = "still logging in and learning markers"
	case n.Requests == 0:
		n.StopReason = fmt.Sprintf("no probe finished %s: the instance is stalled or the canary is starting", span)
	case in.probes < c.cfg.MinProbes:
		n.StopReason = fmt.Sprintf("only %d of the %d probes needed so far", in.probes, c.cfg.MinProbes)
	default:
		measured = true
	}
	v, why := decide(n, c.cfg.Spec.Limits.MaxErrorRate)
	if measured && v != leak {
		why = span + ": " + why
	}
	return v, why
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// outcome is the final verdict as the result stream's verdict record.
func (c *Canary) outcome(cut bool) *outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	window := c.ended.Sub(c.started)
	v := c.judge(c.ended, window, true)
	out := &outcome{Verdict: v.Verdict, Reason: v.Reason, Requests: v.Probes, Errors: v.Errors,
		Findings: v.Leaks, Elapsed: window, CutShort: cut, Coverage: &v.Coverage}
	for _, in := range c.inst {
		out.Bursts += in.bursts
		if in.eng == nil && in.setupErr != "" {
			out.LoginFailures = append(out.LoginFailures, in.name+": "+in.setupErr)
		}
	}
	if cut && out.Verdict == isolated {
		out.Verdict = inconclusive
		out.Reason = fmt.Sprintf("the canary was stopped after %v, before its duration was up", window.Round(time.Millisecond))
	}
	return out
}
