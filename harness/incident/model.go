package incident

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// Direction says which of two overlapping requests receives the other's
// data.
type Direction string

// The directions of a leak model.
const (
	// EarlierGetsLater is the 2008 mechanism: the handler of the earlier
	// request reads the shared "current user" after the later one wrote it.
	EarlierGetsLater Direction = "earlier"
	// LaterGetsEarlier is, for example, a buffer handed on before its last use.
	LaterGetsEarlier Direction = "later"
	// EitherWay is for a mechanism whose direction is not known.
	EitherWay Direction = "either"
)

// ParseDirection accepts the values of -direction.
func ParseDirection(s string) (Direction, error) {
	switch Direction(s) {
	case EarlierGetsLater, LaterGetsEarlier, EitherWay:
		return Direction(s), nil
	}
	return "", fmt.Errorf("direction %q: want earlier, later or either", s)
}

// Model is a leak mechanism: requests of the given classes that start within
// Window of each other on one instance may exchange data, in Direction. It is
// what turns "who was connected at the same moment" into an upper bound.
type Model struct {
	// Classes are regexps on the request path; a request of any of them
	// takes part in the shared state.
	Classes   []string      `json:"classes"`
	Window    time.Duration `json:"window_ns"`
	Direction Direction     `json:"direction"`
	// AcrossInstances pools all instances, for a mechanism outside one
	// process (a shared cache); a shared-memory bug stays on its instance.
	AcrossInstances bool `json:"across_instances,omitempty"`
	// Source says where the model came from: flags, a finding, a plan.
	Source string `json:"source"`

	classes []*regexp.Regexp
}

// Compile checks the model and readies its regexps.
func (m *Model) Compile() error {
	if len(m.Classes) == 0 {
		return errors.New("model: no request classes")
	}
	if m.Window < 0 || m.Window > time.Hour {
		return fmt.Errorf("model: window %v is outside 0..1h", m.Window)
	}
	if m.Direction == "" {
		m.Direction = EarlierGetsLater
	}
	if _, err := ParseDirection(string(m.Direction)); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	m.classes = m.classes[:0]
	for _, c := range m.Classes {
		re, err := regexp.Compile(c)
		if err != nil {
			return fmt.Errorf("model: class %q: %w", c, err)
		}
		m.classes = append(m.classes, re)
	}
	return nil
}

func (m *Model) matches(path string) bool {
	for _, re := range m.classes {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// String says the model in a sentence, for reports.
func (m *Model) String() string {
	dir := map[Direction]string{
		EarlierGetsLater: "the earlier request gets the later one's data",
		LaterGetsEarlier: "the later request gets the earlier one's data",
		EitherWay:        "either request may get the other's data",
	}[m.Direction]
	scope := "on the same instance"
	if m.AcrossInstances {
		scope = "on any instance"
	}
	return fmt.Sprintf("requests matching %s that start within %v of each other %s: %s (from %s)",
		strings.Join(m.Classes, " or "), m.Window, scope, dir, m.Source)
}

// KindRule maps request paths to the kind of data they serve, for the
// operator's statements ("mail content", "attachments").
type KindRule struct {
	Pattern string `json:"pattern"`
	Kind    string `json:"kind"`
	re      *regexp.Regexp
}

// DefaultKinds fit the built-in webmail and webmails like it: attachments,
// then mail (inbox, messages, batches), then the profile page.
func DefaultKinds() []KindRule {
	return []KindRule{
		{Pattern: `/attachments?/`, Kind: "attachment"},
		{Pattern: `^/(api/)?(inbox|messages|batch|mail)`, Kind: "mail"},
		{Pattern: `^/(api/)?profile`, Kind: "profile"},
	}
}

// ParseKindRule reads -kind 'REGEXP=KIND'.
func ParseKindRule(s string) (KindRule, error) {
	i := strings.LastIndexByte(s, '=')
	if i <= 0 || i == len(s)-1 {
		return KindRule{}, fmt.Errorf("kind rule %q: want REGEXP=KIND", s)
	}
	k := KindRule{Pattern: s[:i], Kind: s[i+1:]}
	if _, err := regexp.Compile(k.Pattern); err != nil {
		return KindRule{}, fmt.Errorf("kind rule %q: %w", s, err)
	}
	return k, nil
}

// OtherKind is the kind of a path no rule matches.
const OtherKind = "other"

func compileKinds(rules []KindRule) ([]KindRule, error) {
	out := make([]KindRule, len(rules))
	for i, r := range rules {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, fmt.Errorf("kind %q: %w", r.Pattern, err)
		}
		out[i] = KindRule{Pattern: r.Pattern, Kind: r.Kind, re: re}
	}
	return out, nil
}

var numericSegment = regexp.MustCompile(`/[0-9]+(/|$)`)

// pathClass turns a request path into a class regexp: numeric segments
// (message ids) match any number, the rest is literal.
func pathClass(p string) string {
	p, _, _ = strings.Cut(p, "?")
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range numericSegment.FindAllStringIndex(p, -1) {
		b.WriteString(regexp.QuoteMeta(p[last:m[0]]))
		b.WriteString(`/[0-9]+`)
		if strings.HasSuffix(p[m[0]:m[1]], "/") {
			b.WriteString("/")
		}
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(p[last:]))
	b.WriteString("$")
	return b.String()
}

// ModelFromFindings draws a model from crosstalk's own findings: the
// request classes are the paths that leaked. The findings do not say how
// wide the race window is, nor, from one response, who got whose data
// first: the window is given, and the direction is either way unless given.
func ModelFromFindings(fs []harness.Finding, window time.Duration, dir Direction, source string) (*Model, error) {
	if len(fs) == 0 {
		return nil, fmt.Errorf("%s: no findings to draw a leak model from", source)
	}
	seen := map[string]bool{}
	m := &Model{Window: window, Direction: dir, Source: source}
	for _, f := range fs {
		c := pathClass(f.Path)
		if !seen[c] {
			seen[c] = true
			m.Classes = append(m.Classes, c)
		}
	}
	if m.Direction == "" {
		m.Direction = EitherWay
	}
	return m, m.Compile()
}

// ModelFromPlan draws a model from a minimal plan: the classes are the
// paths of the spec requests in its bursts, with the finding's path first.
// The window is given; a plan that reproduced with its steps offset by up
// to D shows the window is at least D, so the window is never taken below
// that.
func ModelFromPlan(f *fuzz.File, s *spec.Spec, window time.Duration, dir Direction, source string) (*Model, error) {
	m := &Model{Window: window, Direction: dir, Source: source}
	seen := map[string]bool{}
	add := func(p string) {
		c := pathClass(p)
		if !seen[c] {
			seen[c] = true
			m.Classes = append(m.Classes, c)
		}
	}
	if f.Finding != nil {
		add(f.Finding.Path)
	}
	for _, b := range f.Plan.Bursts {
		var lo, hi time.Duration = 1 << 62, 0
		for _, st := range b.Steps {
			lo, hi = min(lo, st.Offset), max(hi, st.Offset)
			if s != nil {
				if rq := s.Request(st.Request); rq != nil && (rq.Action == "" || rq.Action == spec.ActionRead) {
					add(templateVar.ReplaceAllString(rq.Path, "1"))
				}
			}
		}
		if len(b.Steps) > 1 {
			m.Window = max(m.Window, hi-lo)
		}
	}
	if len(m.Classes) == 0 {
		return nil, fmt.Errorf("%s: the plan names no request path (give -spec, or -classes)", source)
	}
	if m.Direction == "" {
		m.Direction = EitherWay
	}
	return m, m.Compile()
}
