package harness

import (
	"fmt"
	"math"
	"strings"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// This file is coverage: how much of what an execution judged the oracle
// could actually see. "No other user's data" proves isolation only in a
// response that carries its viewer's own data: a 404, an empty 200, a login
// page after the session expired or a redirect elsewhere carries nobody's,
// and would look isolated whatever the target does.

// Coverage counts, over an execution's bursts, the read responses judged
// and how many of them the oracle could vouch for.
type Coverage struct {
	// Responses is how many read responses of bursts were judged (client
	// cancels and transport failures aside: they count as errors).
	Responses int `json:"responses"`
	// Seen is how many carried their viewer's own data (or another user's,
	// a finding) and were scanned whole.
	Seen int `json:"seen"`
	// Lost is how many did not carry their viewer's own data although the
	// viewer's baseline of the same request and path did: coverage lost
	// during the run, as when a session expires and every page is the
	// login page.
	Lost int `json:"lost"`
	// Cut is how many bodies were cut at limits.max_body and so not fully
	// scanned; they are not Seen.
	Cut int `json:"cut"`
	// Min is the share of Seen in Responses that Isolated needs
	// (limits.min_coverage); 0 turns the check off.
	Min float64 `json:"min"`
	// Requests has the figures of each read request of the spec, in spec
	// order.
	Requests []RequestCoverage `json:"requests,omitempty"`
}

// RequestCoverage is the coverage of one read request: what its baseline
// showed and what its responses in bursts did.
type RequestCoverage struct {
	Request string `json:"request"`
	// BaselineUsers is how many users' sequential baselines of the request
	// got a reply; BaselineSeen how many of those carried the user's own
	// data.
	BaselineUsers int `json:"baseline_users"`
	BaselineSeen  int `json:"baseline_seen"`
	// Blind: no user's baseline of the request carried their own data, so
	// the oracle cannot tell a leak through it from a page of nobody's data.
	Blind     bool `json:"blind,omitempty"`
	Responses int  `json:"responses"`
	Seen      int  `json:"seen"`
	Lost      int  `json:"lost"`
	Cut       int  `json:"cut"`
}

// Share is Seen over Responses, 0 when nothing was judged.
func (c Coverage) Share() float64 {
	if c.Responses == 0 {
		return 0
	}
	return float64(c.Seen) / float64(c.Responses)
}

// Blind names the blind requests.
func (c Coverage) Blind() []string {
	var out []string
	for _, r := range c.Requests {
		if r.Blind {
			out = append(out, r.Request)
		}
	}
	return out
}

// Add adds the figures of o to c, request by request, for anything that
// adds up executions (replays, fuzz's random plans). A request is blind in
// the sum if it was blind in either.
func (c *Coverage) Add(o Coverage) {
	c.Responses += o.Responses
	c.Seen += o.Seen
	c.Lost += o.Lost
	c.Cut += o.Cut
	c.Min = max(c.Min, o.Min)
	for _, r := range o.Requests {
		i := 0
		for i < len(c.Requests) && c.Requests[i].Request != r.Request {
			i++
		}
		if i == len(c.Requests) {
			c.Requests = append(c.Requests, RequestCoverage{Request: r.Request})
		}
		t := &c.Requests[i]
		t.BaselineUsers, t.BaselineSeen = max(t.BaselineUsers, r.BaselineUsers), max(t.BaselineSeen, r.BaselineSeen)
		t.Blind = t.Blind || r.Blind
		t.Responses += r.Responses
		t.Seen += r.Seen
		t.Lost += r.Lost
		t.Cut += r.Cut
	}
}

// Summary says the coverage in one sentence, for verdict reasons.
func (c Coverage) Summary() string {
	s := fmt.Sprintf("coverage %s: %d of %d responses carried their viewer's own data", percent(c.Share()), c.Seen, c.Responses)
	var more []string
	if b := c.Blind(); len(b) > 0 {
		more = append(more, fmt.Sprintf("blind %s: %s", plural(len(b), "request", "requests"), strings.Join(b, ", ")))
	}
	if c.Lost > 0 {
		more = append(more, fmt.Sprintf("%d lost their viewer's data after the baseline had it", c.Lost))
	}
	if c.Cut > 0 {
		more = append(more, fmt.Sprintf("%d %s cut at max_body and not fully scanned", c.Cut, plural(c.Cut, "body was", "bodies were")))
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, "; ") + ")"
	}
	return s
}

// percent shows a share as a percentage rounded down, so that "100%" is only
// ever all of them, and a share just under a threshold never reads as on it.
func percent(x float64) string {
	p := 100 * x
	if p > 99 && p < 100 {
		return fmt.Sprintf("%.1f%%", math.Floor(p*10)/10)
	}
	return fmt.Sprintf("%.0f%%", math.Floor(p))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// isRead reports whether q is a read, the only kind whose responses must
// carry their viewer's data: a write's reply may well carry none.
func isRead(q *spec.Request) bool {
	return q != nil && (q.Action == spec.ActionRead || q.Action == "")
}

// coverCount is an execution's running count, request by request.
type coverCount struct {
	reqs map[string]*RequestCoverage
}

// add counts one judged read response of a burst: cut (not scanned
// whole), seen (it carried its viewer's own data, or another user's) or,
// failing both, lost when the viewer's baseline of it had the viewer's own
// data.
func (c *coverCount) add(request string, cut, seen, baselineHad bool) {
	if c.reqs == nil {
		c.reqs = map[string]*RequestCoverage{}
	}
	r := c.reqs[request]
	if r == nil {
		r = &RequestCoverage{Request: request}
		c.reqs[request] = r
	}
	r.Responses++
	switch {
	case cut:
		r.Cut++
	case seen:
		r.Seen++
	case baselineHad:
		r.Lost++
	}
}

// outcome is the count with the baseline's figures for every read request
// of the spec, in the baseline's order, judged against min.
func (c *coverCount) outcome(baseline []RequestCoverage, min float64) Coverage {
	out := Coverage{Min: min}
	for _, b := range baseline {
		if r := c.reqs[b.Request]; r != nil {
			b.Responses, b.Seen, b.Lost, b.Cut = r.Responses, r.Seen, r.Lost, r.Cut
		}
		out.Requests = append(out.Requests, b)
	}
	for _, r := range out.Requests {
		out.Responses += r.Responses
		out.Seen += r.Seen
		out.Lost += r.Lost
		out.Cut += r.Cut
	}
	return out
}
