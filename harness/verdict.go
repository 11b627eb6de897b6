package harness

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
