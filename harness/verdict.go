package harness

import (
	"fmt"
	"strings"
)

// Verdict is the three-way result of a run.
//
// It is three-way, not pass/fail, because "no leak seen" only means "isolated"
// when the run actually exercised the target: a run whose logins failed, whose
// requests mostly errored or that was cut short has not shown isolation, and
// calling it a pass would turn a broken test into a green build.
type Verdict string

// The verdicts.
const (
	// Isolated: the whole budget ran, errors stayed under the threshold and no
	// response carried another user's data.
	Isolated Verdict = "isolated"
	// Leak: at least one response carried another user's data. A leak stands
	// even if the run was cut short or had errors: one is proof enough.
	Leak Verdict = "leak"
	// Inconclusive: no leak was seen, but the run cannot vouch for isolation.
	Inconclusive Verdict = "inconclusive"
)

// Exit codes shared by every command and CI integration. ExitUsage is for
// usage and config errors, which never reach a verdict.
const (
	ExitIsolated     = 0
	ExitLeak         = 1
	ExitUsage        = 2
	ExitInconclusive = 3
)

// ExitCode maps the verdict onto the process exit code.
func (v Verdict) ExitCode() int {
	switch v {
	case Isolated:
		return ExitIsolated
	case Leak:
		return ExitLeak
	default:
		return ExitInconclusive
	}
}

// Counts are what an execution, or a series of them, saw: everything the
// verdict rests on.
type Counts struct {
	Findings int
	Requests int
	Errors   int
	// Bursts is how many bursts were fired; setup requests are not bursts.
	Bursts int
	// CutShort: the execution stopped before its budget was spent.
	CutShort bool
	// LoginFailures name what failed in the setup: logins, seeds,
	// credentials.
	LoginFailures []string
	// SetupError is why the setup could not go on at all (an unreachable
	// target), if it could not.
	SetupError string
	// StopReason is why the bursts stopped early, if they did.
	StopReason string
	// Coverage is how many of the judged responses the oracle could vouch
	// for, and the share Isolated needs (Coverage.Min; 0: no check).
	Coverage Coverage
}

// Decide is the one verdict rule. A leak stands whatever else happened: one
// response that carried another user's data is proof enough. Isolation is
// claimed only when nothing stands in its way: setup succeeded, bursts were
// fired, the budget was spent, errors stayed at or under maxErrorRate of
// the requests (a fraction, 0.01 is 1%) and more than c.Coverage.Min of the
// judged responses carried their viewer's own data: a response that carries
// nobody's data (a 404, an empty page, a login page) would look isolated
// whatever the target does. reason explains the verdict in one sentence and,
// when coverage decides or vouches for it, states the coverage.
func Decide(c Counts, maxErrorRate float64) (v Verdict, reason string) {
	switch {
	case c.Findings > 0:
		return Leak, fmt.Sprintf("%d responses carried another user's data", c.Findings)
	case c.SetupError != "":
		return Inconclusive, c.SetupError
	case len(c.LoginFailures) > 0:
		return Inconclusive, "setup failed: " + strings.Join(c.LoginFailures, "; ")
	case c.StopReason != "":
		return Inconclusive, c.StopReason
	case c.CutShort:
		return Inconclusive, fmt.Sprintf("the run was cut short after %d requests, before its budget was spent", c.Requests)
	case c.Requests == 0:
		return Inconclusive, "no request was sent"
	case c.Bursts == 0:
		// Isolation is a claim about concurrent requests; a run whose
		// setup took the whole budget made none.
		return Inconclusive, fmt.Sprintf("no burst was fired: setup (logins, baselines, calibration) took the whole budget after %d requests", c.Requests)
	case float64(c.Errors) > maxErrorRate*float64(c.Requests):
		return Inconclusive, fmt.Sprintf("%d of %d requests failed, above the %.2g%% error threshold", c.Errors, c.Requests, maxErrorRate*100)
	case c.Coverage.Min > 0 && c.Coverage.Responses == 0:
		return Inconclusive, "no read response of a burst was judged, so no response could show its viewer's own data"
	case c.Coverage.Min > 0 && c.Coverage.Share() <= c.Coverage.Min:
		why := "blind: "
		if len(c.Coverage.Blind()) == 0 {
			why = "too little coverage: "
		}
		return Inconclusive, fmt.Sprintf("%s%s, and Isolated needs more than %s", why, c.Coverage.Summary(), percent(c.Coverage.Min))
	default:
		return Isolated, fmt.Sprintf("no response carried another user's data in %d requests; %s", c.Requests, c.Coverage.Summary())
	}
}
