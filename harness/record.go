package harness

import (
	"time"

	"github.com/crosstalk/crosstalk/harness/oracle"
)

// StreamVersion is the version of the JSON Lines result stream. Readers reject
// streams with a newer major version instead of misreading them.
const StreamVersion = 1

// RecordType tags a line of the result stream.
type RecordType string

// Record types, in the order they appear: one header, then bursts, findings
// and (with tracing) exchanges interleaved, then one verdict. The stream of
// fuzz or replay ends with a reproduction after the verdict.
const (
	RecordHeader       RecordType = "header"
	RecordBurst        RecordType = "burst"
	RecordFinding      RecordType = "finding"
	RecordExchange     RecordType = "exchange"
	RecordVerdict      RecordType = "verdict"
	RecordReproduction RecordType = "reproduction"
)

// Record is one line of the result stream. Exactly one of the pointers is set,
// matching Type. Every report reads a sequence of Records, so a stream saved
// by one run can be rendered again in any format.
type Record struct {
	V        int           `json:"v"`
	Type     RecordType    `json:"type"`
	Header   *Header       `json:"header,omitempty"`
	Burst    *BurstSummary `json:"burst,omitempty"`
	Finding  *Finding      `json:"finding,omitempty"`
	Exchange *Exchange     `json:"exchange,omitempty"`
	// Outcome closes the stream; its line is tagged "verdict", the word
	// users read.
	Outcome *Outcome `json:"verdict,omitempty"`
	// Reproduction is the plan that reproduces the stream's leak, as fuzz
	// shrank it or replay ran it.
	Reproduction *Reproduction `json:"reproduction,omitempty"`
}

// Reproduction is what fuzz or replay established about one plan: its
// steps, how often it leaked when executed as replay executes it, and the
// command that runs it again. A report shows it beside the findings, since
// a finding without a way to make it happen again is hard to fix and
// harder to believe.
type Reproduction struct {
	Plan Plan `json:"plan"`
	// FoundSteps is how many steps the plan had when fuzz found the leak,
	// before it shrank it; 0 for a plan replayed as it was.
	FoundSteps int `json:"found_steps,omitempty"`
	// Reproduced of Runs executions leaked; Low and High bound the rate
	// at 95% (Wilson).
	Reproduced int     `json:"reproduced"`
	Runs       int     `json:"runs"`
	Low        float64 `json:"low"`
	High       float64 `json:"high"`
	// Sync is the release strategy the rate was measured with.
	Sync        string      `json:"sync"`
	Persistence Persistence `json:"persistence,omitempty"`
	// NeedsReset is set when the leak is persistent: each run of the plan
	// needs a reset before it, or it would measure the one before's damage.
	NeedsReset bool `json:"needs_reset,omitempty"`
	// PlanFile is where the plan was saved, and Command the command that
	// replays it.
	PlanFile string `json:"plan_file,omitempty"`
	Command  string `json:"command"`
}

// Steps, Bursts and Users count the plan's steps, bursts and distinct users.
func (r *Reproduction) Steps() (steps, bursts, users int) {
	seen := map[string]bool{}
	for _, b := range r.Plan.Bursts {
		for _, st := range b.Steps {
			seen[st.User] = true
		}
	}
	return r.Plan.Len(), len(r.Plan.Bursts), len(seen)
}

// Header opens a stream: what was tested, how and with what.
type Header struct {
	// Version is the crosstalk build that wrote the stream.
	Version  string `json:"version,omitempty"`
	Spec     string `json:"spec"`
	SpecFile string `json:"spec_file,omitempty"`
	// SpecHash is "sha256:" and the hex digest of the spec file's bytes, so
	// a report names exactly which spec it tested.
	SpecHash string `json:"spec_hash,omitempty"`
	// BaseURL is the URL the target was reached at. Its tag is the one
	// streams have always had.
	BaseURL string `json:"target"`
	Sync    string `json:"sync"`
	// SyncReason says how the strategy was chosen, when -sync auto chose it.
	SyncReason string    `json:"sync_reason,omitempty"`
	Users      []string  `json:"users"`
	Started    time.Time `json:"started"`
	// Requests maps each request name to its data kind (mail, attachment, ...).
	Requests []RequestInfo `json:"requests"`
	// Markers counts the markers of each kind over all users.
	Markers map[oracle.Kind]int `json:"markers"`
	// Budget as asked for: zero means unbounded on that axis.
	Duration    time.Duration `json:"duration_ns,omitempty"`
	MaxRequests int           `json:"max_requests,omitempty"`
	BurstSize   int           `json:"burst_size"`
	// RatePerSecond is the cap on the bursts' requests per second (0: none).
	RatePerSecond float64 `json:"rate_per_s,omitempty"`
	// Coverage is what each read request's sequential baseline showed:
	// how many users' own data appeared in it, and whether it is blind.
	Coverage []RequestCoverage `json:"coverage,omitempty"`
	// Learned lists the learned markers, so that a finding resting on one
	// can be judged; values are redacted where they hold a secret.
	Learned []LearnedMarker `json:"learned,omitempty"`
	// Warnings are what the setup noticed that weakens the test without
	// stopping it, such as a canary that never showed in its owner's own
	// baseline.
	Warnings []string `json:"warnings,omitempty"`
	// Sessions is "fresh" when every execution logged its users in again,
	// "keep" when the setup's sessions served every execution.
	Sessions string `json:"sessions,omitempty"`
	// Reset names how the target was reset before each execution; empty
	// when it was not.
	Reset string `json:"reset,omitempty"`
}

// LearnedMarker is one learned marker: whose it is, its value and the
// request whose baseline it was stable in.
type LearnedMarker struct {
	Owner   string `json:"owner"`
	Value   string `json:"value"`
	Request string `json:"request,omitempty"`
}

// RequestInfo names a spec request and the kind of data it returns.
type RequestInfo struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// Exchange is one request and its response, with the times that matter for
// judging how simultaneous a burst really was.
type Exchange struct {
	Burst   int    `json:"burst"`
	Step    int    `json:"step"`
	User    string `json:"user"`
	Request string `json:"request"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Status  int    `json:"status,omitempty"`
	Bytes   int    `json:"bytes"`
	// Sent is when the last byte of the request was written; FirstByte when
	// the first byte of the response arrived; Done when the body was read.
	Sent      time.Time `json:"sent"`
	FirstByte time.Time `json:"first_byte,omitzero"`
	Done      time.Time `json:"done"`
	// Conn identifies the connection (its local address), so connection reuse
	// and mix-ups can be told apart.
	Conn string `json:"conn"`
	// Arrival is the handler-entry time the target reported, if it does.
	Arrival time.Time `json:"arrival,omitzero"`
	// Backend is the backend that served the response, as a balancer in
	// front named it in the spec's backend_header; empty without one.
	Backend string `json:"backend,omitempty"`
	Err     string `json:"error,omitempty"`
}

// BurstSummary describes one released burst.
type BurstSummary struct {
	Burst   int       `json:"burst"`
	Steps   int       `json:"steps"`
	Users   []string  `json:"users"`
	Release time.Time `json:"release"`
	// ReleaseSkew is the time between the first and the last request of the
	// burst leaving crosstalk.
	ReleaseSkew time.Duration `json:"release_skew_ns"`
	// ArrivalSpread is the spread of handler-entry times the target reported;
	// zero when it reports none.
	ArrivalSpread time.Duration `json:"arrival_spread_ns,omitempty"`
	Errors        int           `json:"errors"`
	Findings      int           `json:"findings"`
}

// Finding is a response to Viewer that carried data of Owner.
type Finding struct {
	Viewer string `json:"viewer"`
	Owner  string `json:"owner"`
	// Data is the kind of data exposed, from the request's spec ("mail",
	// "attachment", "profile", ...).
	Data    string `json:"data"`
	Request string `json:"request"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	Burst   int    `json:"burst"`
	Step    int    `json:"step"`
	Conn    string `json:"conn"`
	// Backend is the exchange's: the backend that served the leaking
	// response, where a balancer named it.
	Backend string `json:"backend,omitempty"`
	oracle.Match
	// Confirmed says how a finding that rests on learned markers alone was
	// confirmed before it counted; empty for the other kinds.
	Confirmed string    `json:"confirmed,omitempty"`
	Sent      time.Time `json:"sent"`
	Done      time.Time `json:"done"`
	// Persistence says whether the leak outlived the execution that caused
	// it, once a control has told; empty when no control ran.
	Persistence Persistence `json:"persistence,omitempty"`
}

// Unlearned is a learned marker dropped as shared data: a finding rested
// on it alone, and the viewer's own responses, fetched again one at a
// time, or the viewer's own writes carried it too.
type Unlearned struct {
	Owner  string `json:"owner"`
	Value  string `json:"value"`
	Viewer string `json:"viewer"`
	// Why says where the marker showed up in the viewer's own data.
	Why string `json:"why"`
}

// Persistence is whether a leak outlived the requests that caused it.
type Persistence string

// The two kinds of leak.
const (
	// Transient: a control after the leak (each user's reads, one at a
	// time) was clean; the leak needed the requests that caused it.
	Transient Persistence = "transient"
	// Persistent: the control leaked too. The target's state is corrupted
	// (a mixed-up session, a stale reply on a pooled connection, a
	// poisoned cache entry), and every later request of the affected users
	// leaks until the state is reset.
	Persistent Persistence = "persistent"
)

// Control is what a control showed: each user's read requests sent once,
// one user at a time, with no concurrency, right after a leak. A leak in it
// cannot be the work of concurrent requests, so the leak before it is
// persistent.
type Control struct {
	// AfterBurst is the burst after which the control ran (0: after the
	// setup's baseline).
	AfterBurst int `json:"after_burst"`
	Requests   int `json:"requests"`
	Errors     int `json:"errors"`
	Findings   int `json:"findings"`
	// Seen is how many of its read responses carried their viewer's own
	// data (or another user's); Lost how many did not, although the
	// viewer's baseline of the same read did. A user who could not log
	// in counts as lost too.
	Seen int `json:"seen"`
	Lost int `json:"lost"`
	// Finding is the first leak the control saw, if any.
	Finding *Finding      `json:"finding,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Persistence is what the control says about the leak before it: the
// empty Persistence when it found nothing but could not see every user's
// own data, since a control of login pages is clean whatever the target's
// state.
func (c *Control) Persistence() Persistence {
	switch {
	case c.Findings > 0:
		return Persistent
	case c.Lost > 0:
		return ""
	}
	return Transient
}

// Outcome closes a stream with the verdict and the counts behind it.
type Outcome struct {
	Verdict Verdict `json:"verdict"`
	// Reason explains the verdict in one sentence.
	Reason   string `json:"reason"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	Bursts   int    `json:"bursts"`
	// CalibrationBursts counts auto's calibration bursts, which are judged
	// like the others but have no burst records.
	CalibrationBursts int           `json:"calibration_bursts,omitempty"`
	Findings          int           `json:"findings"`
	Elapsed           time.Duration `json:"elapsed_ns"`
	// Sequential counts the findings of the sequential baseline: leaks that
	// need no concurrency at all.
	Sequential int `json:"sequential,omitempty"`
	// Coverage says how many judged responses carried their viewer's own
	// data, request by request; nil in streams written before it existed.
	Coverage *Coverage `json:"coverage,omitempty"`
	// Unlearned lists the learned markers dropped as shared data, with the
	// findings that rested on them.
	Unlearned []Unlearned `json:"unlearned,omitempty"`
	// CutShort is set when the run stopped before its budget was spent: by
	// Ctrl-C, a context deadline or an error the run could not go on past.
	CutShort bool `json:"cut_short,omitempty"`
	// LoginFailures names the users that could not log in, with why.
	LoginFailures []string `json:"login_failures,omitempty"`
	// Burst timing over the run, nearest-rank percentiles: the release skew
	// of every burst and, where the target reports arrival times, the
	// arrival spread. Zero when there were no such bursts.
	ReleaseSkewP50   time.Duration `json:"release_skew_p50_ns,omitempty"`
	ReleaseSkewP90   time.Duration `json:"release_skew_p90_ns,omitempty"`
	ArrivalSpreadP50 time.Duration `json:"arrival_spread_p50_ns,omitempty"`
	ArrivalSpreadP90 time.Duration `json:"arrival_spread_p90_ns,omitempty"`
	// Persistence is the kind of the leak, when a control told it.
	Persistence Persistence `json:"persistence,omitempty"`
	// Control is the control run after the first finding, if one ran.
	Control *Control `json:"control,omitempty"`
}
