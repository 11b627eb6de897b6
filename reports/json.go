package reports

import (
	"encoding/json"
	"io"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// jsonReport is the document [JSON] writes. Unlike the text report it is not
// capped: programs that read it can do their own cutting.
type jsonReport struct {
	V        int             `json:"v"`
	Verdict  harness.Verdict `json:"verdict"`
	Reason   string          `json:"reason"`
	ExitCode int             `json:"exit_code"`
	Problems []string        `json:"problems"`
	Spec     string          `json:"spec,omitempty"`
	SpecFile string          `json:"spec_file,omitempty"`
	Target   string          `json:"target,omitempty"`
	Sync     string          `json:"sync,omitempty"`
	Sessions string          `json:"sessions,omitempty"`
	Reset    string          `json:"reset,omitempty"`
	// Persistence is the leak's kind: transient or persistent.
	Persistence harness.Persistence `json:"persistence,omitempty"`
	Started     time.Time           `json:"started,omitzero"`
	Counts      jsonCounts          `json:"counts"`
	Exposure    jsonExposure        `json:"exposure"`
	Timing      jsonTiming          `json:"timing"`
	Findings    []jsonFinding       `json:"findings"`
	// Coverage is the run's coverage, request by request (see
	// [harness.Coverage]); absent from streams that carry none.
	Coverage  *harness.Coverage   `json:"coverage,omitempty"`
	Unlearned []harness.Unlearned `json:"unlearned,omitempty"`
	// Reproduction is the plan fuzz shrank or replay ran, with its rate
	// and the command that replays it; absent from a run's stream.
	Reproduction *harness.Reproduction `json:"reproduction,omitempty"`
	Warnings     []string              `json:"warnings,omitempty"`
}

type jsonCounts struct {
	Requests      int           `json:"requests"`
	Errors        int           `json:"errors"`
	Bursts        int           `json:"bursts"`
	Exchanges     int           `json:"exchanges"`
	Findings      int           `json:"findings"`
	Distinct      int           `json:"distinct_findings"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	CutShort      bool          `json:"cut_short"`
	LoginFailures []string      `json:"login_failures"`
	// UsersExposed had data seen by others; UsersViewing saw it.
	UsersExposed int `json:"users_exposed"`
	UsersViewing int `json:"users_viewing"`
}

type jsonExposure struct {
	Owners  []string       `json:"owners"`
	Viewers []string       `json:"viewers"`
	Kinds   []KindExposure `json:"kinds"`
	Pairs   []Exposure     `json:"pairs"`
}

type jsonTiming struct {
	ReleaseSkewP50   time.Duration `json:"release_skew_p50_ns"`
	ReleaseSkewP90   time.Duration `json:"release_skew_p90_ns"`
	ArrivalSpreadP50 time.Duration `json:"arrival_spread_p50_ns"`
	ArrivalSpreadP90 time.Duration `json:"arrival_spread_p90_ns"`
	ArrivalBursts    int           `json:"arrival_bursts"`
}

// jsonFinding is a distinct finding: its first occurrence plus how often it
// repeated.
type jsonFinding struct {
	harness.Finding
	Count int `json:"count"`
}

// JSON renders the summary as one indented JSON document: verdict, counts,
// exposure, burst timing and every distinct finding.
func JSON(w io.Writer, s Summary) error {
	doc := jsonReport{
		V:        harness.StreamVersion,
		Verdict:  s.Verdict,
		Reason:   s.Reason,
		ExitCode: s.Verdict.ExitCode(),
		Problems: nonNil(s.Problems),
		Counts: jsonCounts{
			Bursts:        s.Bursts,
			Exchanges:     s.Exchanges,
			Findings:      s.findingCount(),
			Distinct:      len(s.Groups),
			LoginFailures: []string{},
			UsersExposed:  len(s.Owners),
			UsersViewing:  len(s.Viewers),
		},
		Exposure: jsonExposure{
			Owners:  nonNil(s.Owners),
			Viewers: nonNil(s.Viewers),
			Kinds:   nonNil(s.Kinds),
			Pairs:   nonNil(s.Exposure),
		},
		Timing: jsonTiming{
			ReleaseSkewP50:   s.ReleaseSkewP50,
			ReleaseSkewP90:   s.ReleaseSkewP90,
			ArrivalSpreadP50: s.ArrivalSpreadP50,
			ArrivalSpreadP90: s.ArrivalSpreadP90,
			ArrivalBursts:    s.ArrivalBursts,
		},
		Findings: make([]jsonFinding, 0, len(s.Groups)),
	}
	if h := s.Header; h != nil {
		doc.Spec, doc.SpecFile, doc.Target, doc.Sync, doc.Started = h.Spec, h.SpecFile, h.BaseURL, h.Sync, h.Started
		doc.Sessions, doc.Reset = h.Sessions, h.Reset
	}
	if o := s.Outcome; o != nil {
		doc.Counts.Requests = o.Requests
		doc.Counts.Errors = o.Errors
		doc.Counts.Bursts = max(s.Bursts, o.Bursts)
		doc.Counts.Elapsed = o.Elapsed
		doc.Counts.CutShort = o.CutShort
		doc.Counts.LoginFailures = nonNil(o.LoginFailures)
		doc.Persistence = o.Persistence
	}
	doc.Coverage = s.Coverage
	doc.Reproduction = s.Reproduction
	if s.Header != nil {
		doc.Warnings = s.Header.Warnings
	}
	if s.Outcome != nil {
		doc.Unlearned = s.Outcome.Unlearned
	}
	for _, g := range s.Groups {
		doc.Findings = append(doc.Findings, jsonFinding{Finding: g.First, Count: g.Count})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// nonNil makes empty lists encode as [] rather than null, so consumers can
// iterate without a null check.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
