package reports

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// The SARIF 2.1.0 objects crosstalk fills; the spec has many more, all
// optional.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	ShortDescription sarifMessage    `json:"shortDescription"`
	FullDescription  sarifMessage    `json:"fullDescription"`
	Help             sarifMessage    `json:"help"`
	Default          sarifRuleConfig `json:"defaultConfiguration"`
	Properties       map[string]any  `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	StartTimeUTC        string              `json:"startTimeUtc,omitempty"`
	EndTimeUTC          string              `json:"endTimeUtc,omitempty"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string       `json:"level"`
	Message sarifMessage `json:"message"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	OccurrenceCount     int               `json:"occurrenceCount"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

const sarifRuleID = "crosstalk/cross-user-data"

// SARIF renders the summary as a SARIF 2.1.0 log for code scanning: one
// result per distinct leak (viewer, owner, request, marker), located at the
// spec file, with a fingerprint that stays the same across runs so code
// scanning tracks a leak as one alert until it is fixed. An inconclusive
// run is an unsuccessful invocation with the reason as its notification.
func SARIF(w io.Writer, s Summary) error {
	version := ""
	if s.Header != nil {
		version = s.Header.Version
	}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "crosstalk", Version: clean(version), InformationURI: "https://github.com/crosstalk/crosstalk",
			Rules: []sarifRule{{
				ID: sarifRuleID, Name: "CrossUserDataExposure",
				ShortDescription: sarifMessage{"A response carried another user's data"},
				FullDescription: sarifMessage{"Under near-simultaneous requests from several users, a response to one user " +
					"carried data that belongs to another: a canary planted in that user's data, a marker from the spec, " +
					"an identity value or a marker learned from that user's own pages."},
				Help: sarifMessage{"Look for state shared between requests: a package-level or server-level current user, " +
					"a cache keyed without the session, a pooled buffer or connection returned too early, request-scoped " +
					"values used after the handler returned. Shrink the leak to a minimal plan with crosstalk fuzz."},
				Default:    sarifRuleConfig{Level: "error"},
				Properties: map[string]any{"tags": []string{"security", "concurrency", "privacy"}, "precision": "high", "security-severity": "8.1"},
			}},
		}},
		Results: []sarifResult{},
	}
	inv := sarifInvocation{ExecutionSuccessful: s.Verdict != harness.Inconclusive}
	if h := s.Header; h != nil && !h.Started.IsZero() {
		inv.StartTimeUTC = h.Started.UTC().Format(time.RFC3339Nano)
		if o := s.Outcome; o != nil && len(s.Headers) <= 1 {
			inv.EndTimeUTC = h.Started.Add(o.Elapsed).UTC().Format(time.RFC3339Nano)
		}
	}
	if s.Verdict == harness.Inconclusive {
		inv.Notifications = append(inv.Notifications, sarifNotification{Level: "error", Message: sarifMessage{"inconclusive: " + clean(orDefault(s.Reason, "the run cannot vouch for isolation"))}})
	}
	for _, p := range s.Problems {
		inv.Notifications = append(inv.Notifications, sarifNotification{Level: "warning", Message: sarifMessage{p}})
	}
	run.Invocations = []sarifInvocation{inv}
	props := map[string]any{"verdict": string(s.Verdict), "exitCode": s.Verdict.ExitCode()}
	if h := s.Header; h != nil {
		props["target"] = clean(h.BaseURL)
		props["sync"] = clean(h.Sync)
		if h.SpecHash != "" {
			props["specHash"] = clean(h.SpecHash)
		}
	}
	run.Properties = props

	uri := "crosstalk.yaml"
	if h := s.Header; h != nil && h.SpecFile != "" {
		// A URI reference, so every byte a path may hold is escaped.
		uri = (&url.URL{Path: filepath.ToSlash(h.SpecFile)}).EscapedPath()
	}
	rerun := commandsFor(s).Rerun
	for _, g := range s.Groups {
		f := g.First
		msg := fmt.Sprintf("%s. Request %s; found in %s; marker %s. Evidence: %s. Reproduce: %s",
			groupTitle(g), requestText(f), whereText(f), markerText(f), clean(truncate(f.Excerpt, maxExcerptRunes)), rerun)
		run.Results = append(run.Results, sarifResult{
			RuleID: sarifRuleID, Level: "error", Message: sarifMessage{msg},
			Locations: []sarifLocation{{
				PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegion{StartLine: 1}},
				LogicalLocations: []sarifLogical{{Name: clean(f.Request), FullyQualifiedName: clean(f.Method + " " + f.Path), Kind: "function"}},
			}},
			PartialFingerprints: map[string]string{"crosstalkLeak/v1": leakFingerprint(f)},
			OccurrenceCount:     g.Count,
			Properties: map[string]any{
				"viewer": clean(f.Viewer), "owner": clean(f.Owner), "data": clean(f.Data), "markerKind": clean(string(f.Kind)),
				"where": clean(f.Where), "encoding": clean(f.Encoding), "burst": f.Burst, "step": f.Step,
			},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

// leakFingerprint names a leak by what stays the same from run to run:
// who saw whose data of which kind, through which request and which kind of
// marker. The marker value itself is left out, since canaries are fresh
// in every run.
func leakFingerprint(f harness.Finding) string {
	h := sha256.New()
	for _, part := range []string{f.Viewer, f.Owner, f.Data, f.Request, string(f.Kind), f.Label} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
