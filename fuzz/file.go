package fuzz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports/evidence"
)

// FileVersion is the version of the plan file format. Readers reject newer
// versions instead of misreading them.
const FileVersion = 1

// Limits of a plan file. A plan is meant to be read by people and fired at
// a service; anything beyond these is a corrupt or hostile file.
const (
	MaxFileBytes   = 4 << 20
	MaxBursts      = 10000
	MaxBurstSteps  = 256
	MaxStepOffset  = time.Second
	MaxCancelAfter = time.Minute
	maxNameLen     = 256
)

// File is a saved plan: what it runs against, how, where it came from, the
// minimal steps and how often they reproduced the leak.
type File struct {
	Version int `json:"version"`
	// Spec is the path of the target spec, as given to crosstalk fuzz;
	// replay takes it from here unless told otherwise.
	Spec string `json:"spec,omitempty"`
	// SpecName is the spec's name (tagged "target", as plan files always
	// were) and BaseURL the URL the plan was found at.
	SpecName string `json:"target"`
	BaseURL  string `json:"base_url,omitempty"`
	// Sync is the strategy that released the bursts.
	Sync string `json:"sync"`
	// Seed is the rapid seed that drew the original plan; with the same
	// generator options it draws the same plan again.
	Seed uint64 `json:"seed"`
	// OriginalSteps is how many steps the drawn plan had before shrinking.
	OriginalSteps int          `json:"original_steps,omitempty"`
	Plan          harness.Plan `json:"plan"`
	// Reproduction is the rate measured on the final plan.
	Reproduction Estimate `json:"reproduction"`
	// Finding is one leak the plan produced, as evidence.
	Finding *harness.Finding `json:"finding,omitempty"`
	// Sessions is how the plan was run: "fresh" (its users logged in again
	// before every run) or "keep".
	Sessions string `json:"sessions,omitempty"`
	// Reset names the reset run before every run when the plan was found
	// and measured; empty when there was none.
	Reset string `json:"reset,omitempty"`
	// Persistence is the kind of the plan's leak, as a control told it.
	Persistence harness.Persistence `json:"persistence,omitempty"`
	// NeedsReset says the leak is persistent: without a reset before every
	// run, each run after the first would measure the damage of the one
	// before, not the plan. Replay refuses to run it without one.
	NeedsReset bool      `json:"needs_reset,omitempty"`
	Created    time.Time `json:"created,omitzero"`
}

// ParseFile decodes and checks a plan file. It never panics: any input that
// is not a well-formed plan file within the limits is an error saying where.
func ParseFile(data []byte) (*File, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("plan file: %d bytes is more than the %d allowed", len(data), MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("plan file: trailing data after the JSON object")
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	// A hand-edited plan may carry a password in its URL; nothing that
	// prints the file's target may show it.
	f.BaseURL = spec.RedactURL(f.BaseURL)
	return &f, nil
}

// ReadFile reads and parses the plan file at path.
func ReadFile(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d allowed", path, st.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Check validates the file on its own, without a spec: version, limits and
// that every step names a user and a request.
func (f *File) Check() error {
	if f.Version < 1 || f.Version > FileVersion {
		return fmt.Errorf("plan file: version %d is not supported (this crosstalk reads version %d)", f.Version, FileVersion)
	}
	if len(f.SpecName) > maxNameLen || len(f.Sync) > maxNameLen {
		return errors.New("plan file: target or sync name too long")
	}
	if len(f.Sessions) > maxNameLen || len(f.Reset) > 4096 {
		return errors.New("plan file: sessions or reset too long")
	}
	switch f.Persistence {
	case "", harness.Transient, harness.Persistent:
	default:
		return fmt.Errorf("plan file: persistence %q is neither %q nor %q", f.Persistence, harness.Transient, harness.Persistent)
	}
	if f.Reproduction.Runs < 0 || f.Reproduction.Fails < 0 || f.Reproduction.Fails > f.Reproduction.Runs {
		return fmt.Errorf("plan file: reproduction %d of %d runs is impossible", f.Reproduction.Fails, f.Reproduction.Runs)
	}
	return CheckPlan(f.Plan)
}

// CheckPlan validates a plan on its own.
func CheckPlan(p harness.Plan) error {
	if len(p.Bursts) == 0 {
		return errors.New("plan: no bursts")
	}
	if len(p.Bursts) > MaxBursts {
		return fmt.Errorf("plan: %d bursts is more than the %d allowed", len(p.Bursts), MaxBursts)
	}
	for i, b := range p.Bursts {
		if len(b.Steps) == 0 {
			return fmt.Errorf("plan: burst %d has no steps", i+1)
		}
		if len(b.Steps) > MaxBurstSteps {
			return fmt.Errorf("plan: burst %d has %d steps, more than the %d allowed", i+1, len(b.Steps), MaxBurstSteps)
		}
		for j, st := range b.Steps {
			at := fmt.Sprintf("plan: burst %d step %d", i+1, j+1)
			switch {
			case st.User == "" || len(st.User) > maxNameLen:
				return fmt.Errorf("%s: user must be 1 to %d bytes", at, maxNameLen)
			case st.Request == "" || len(st.Request) > maxNameLen:
				return fmt.Errorf("%s: request must be 1 to %d bytes", at, maxNameLen)
			case len(st.Peer) > maxNameLen:
				return fmt.Errorf("%s: peer too long", at)
			case st.Offset < 0 || st.Offset > MaxStepOffset:
				return fmt.Errorf("%s: offset_ns %d is outside 0..%d", at, st.Offset, MaxStepOffset)
			case st.CancelAfter < 0 || st.CancelAfter > MaxCancelAfter:
				return fmt.Errorf("%s: cancel_after_ns %d is outside 0..%d", at, st.CancelAfter, MaxCancelAfter)
			}
		}
	}
	return nil
}

// CheckAgainst reports the first step that names a user, peer or request the
// spec does not have, so that a replay fails as a usage error up front
// rather than as a burst of broken requests.
func CheckAgainst(p harness.Plan, s *spec.Spec) error {
	users := map[string]bool{}
	for _, u := range s.Resolved {
		users[u.Login] = true
	}
	for i, b := range p.Bursts {
		for j, st := range b.Steps {
			at := fmt.Sprintf("plan: burst %d step %d", i+1, j+1)
			if !users[st.User] {
				return fmt.Errorf("%s: spec %s has no user %q", at, s.Name, st.User)
			}
			if st.Peer != "" && !users[st.Peer] {
				return fmt.Errorf("%s: spec %s has no user %q (peer)", at, s.Name, st.Peer)
			}
			if st.Request != harness.LoginStep && s.Request(st.Request) == nil {
				return fmt.Errorf("%s: spec %s has no request %q", at, s.Name, st.Request)
			}
		}
	}
	return nil
}

// CheckTarget decides where a replay of the file may go. A plan file is
// shared and committed, and a replay logs every user of the spec in, so the
// file alone must never choose the host that receives their passwords: with
// flagURL (the -url given, or "") the replay goes there; without it, to the
// spec's specURL, and only if the file's own base URL is that one too (or
// absent). Otherwise the error names both and says how to choose.
func (f *File) CheckTarget(specURL, flagURL string) error {
	if flagURL != "" || f.BaseURL == "" || SameURL(f.BaseURL, specURL) {
		return nil
	}
	return fmt.Errorf("plan file: it was found at %s but the spec names %s; a replay sends every user's credentials, "+
		"so it goes only where the spec or -url says: give -url %s to replay it there", f.BaseURL, spec.RedactURL(specURL), f.BaseURL)
}

// SameURL reports whether two base URLs name the same place: scheme and host
// compared without case, default ports made explicit, a trailing slash and
// user info ignored.
func SameURL(a, b string) bool {
	ua, errA := url.Parse(strings.TrimSpace(a))
	ub, errB := url.Parse(strings.TrimSpace(b))
	if errA != nil || errB != nil {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Hostname(), ub.Hostname()) &&
		port(ua) == port(ub) && strings.TrimRight(ua.EscapedPath(), "/") == strings.TrimRight(ub.EscapedPath(), "/") &&
		ua.RawQuery == ub.RawQuery
}

// Marshal encodes the file as indented JSON with a final newline, the form
// it is saved in, so that saved plans diff well. A user name or password in
// the base URL is left out.
func (f *File) Marshal() ([]byte, error) {
	g := *f
	g.BaseURL = spec.RedactURL(g.BaseURL)
	b, err := json.MarshalIndent(&g, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile saves the file at path, creating its directory. The plan and
// its finding are evidence: the file is written as [evidence.Write]
// writes, readable by its owner only and never through a symlink.
func (f *File) WriteFile(path string) error {
	b, err := f.Marshal()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return evidence.Write(path, b)
}
