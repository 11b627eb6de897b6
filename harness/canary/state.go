package canary

import (
	"fmt"
	"strings"
	"time"
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
	samples                          []sample
	lastOK                           time.Time
	firstLeak                        *Leak
	backoff                          time.Duration
}

// sample is one burst (or re-login) of an instance, for the live window.
type sample struct {
	at             time.Time
	probes, errors int
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
	WindowProbes int            `json:"window_probes"`
	WindowErrors int            `json:"window_errors"`
	Kinds        map[string]int `json:"leaks_by_kind,omitempty"`
	FirstLeak    *Leak          `json:"first_leak,omitempty"`
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
	Window    Window            `json:"window"`
	Instances []InstanceVerdict `json:"instances"`
	FirstLeak *Leak             `json:"first_leak,omitempty"`
	Running   bool              `json:"running"`
}

// Verdict judges now. Leaks count over the canary's whole life; isolation is
// claimed for an instance only when it answered its probes in the live
// window with errors under the spec's threshold, after at least MinProbes
// probes. A target that is down, stalled or refusing logins is therefore
// inconclusive, never isolated.
func (c *Canary) Verdict() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if !c.running && !c.ended.IsZero() {
		now = c.ended
	}
	return c.judge(now, c.cfg.Window)
}

// Final judges the whole run once Run has returned: every instance must have
// answered cleanly over all of it.
func (c *Canary) Final() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.judge(c.ended, c.ended.Sub(c.started))
}

// judge is Verdict with the window given; the final verdict of a run uses
// the whole run. The caller holds c.mu.
func (c *Canary) judge(now time.Time, window time.Duration) Verdict {
	v := Verdict{Window: Window{Seconds: window.Seconds(), Since: c.started, Until: now}, Running: c.running}
	if c.first != nil {
		l := *c.first
		v.FirstLeak = &l
	}
	from := now.Add(-window)
	maxRate := c.cfg.Spec.Limits.MaxErrorRate
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
		for _, s := range in.samples {
			if !s.at.Before(from) {
				iv.WindowProbes += s.probes
				iv.WindowErrors += s.errors
			}
		}
		switch {
		case in.findings > 0:
			iv.Verdict = leak
			iv.Reason = fmt.Sprintf("%d responses carried another user's data", in.findings)
		case in.eng == nil && c.started.IsZero():
			iv.Verdict, iv.Reason = inconclusive, "not started"
		case in.eng == nil && in.setupErr != "":
			iv.Verdict, iv.Reason = inconclusive, "setup failed: "+in.setupErr
		case in.eng == nil:
			iv.Verdict, iv.Reason = inconclusive, "still logging in and learning markers"
		case iv.WindowProbes == 0:
			iv.Verdict = inconclusive
			iv.Reason = fmt.Sprintf("no probe finished in the last %v: the instance is stalled or the canary is starting", window.Round(time.Millisecond))
		case float64(iv.WindowErrors) > maxRate*float64(iv.WindowProbes):
			iv.Verdict = inconclusive
			iv.Reason = fmt.Sprintf("%d of %d probes in the last %v failed, above the %.2g%% error threshold",
				iv.WindowErrors, iv.WindowProbes, window.Round(time.Millisecond), maxRate*100)
		case in.probes < c.cfg.MinProbes:
			iv.Verdict = inconclusive
			iv.Reason = fmt.Sprintf("only %d of the %d probes needed so far", in.probes, c.cfg.MinProbes)
		default:
			iv.Verdict = isolated
			iv.Reason = fmt.Sprintf("no response carried another user's data in %d probes", in.probes)
		}
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
	}
	switch {
	case len(leaky) > 0:
		v.Verdict = leak
		v.Reason = fmt.Sprintf("%d responses carried another user's data, on %s", v.Leaks, strings.Join(leaky, ", "))
	case len(unsure) > 0:
		v.Verdict = inconclusive
		v.Reason = strings.Join(unsure, "; ")
	default:
		v.Verdict = isolated
		v.Reason = fmt.Sprintf("no response carried another user's data in %d probes of %d instances", v.Probes, len(c.inst))
	}
	return v
}

// outcome is the final verdict as the result stream's verdict record.
func (c *Canary) outcome(cut bool) *outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	window := c.ended.Sub(c.started)
	v := c.judge(c.ended, window)
	out := &outcome{Verdict: v.Verdict, Reason: v.Reason, Requests: v.Probes, Errors: v.Errors,
		Findings: v.Leaks, Elapsed: window, CutShort: cut}
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
