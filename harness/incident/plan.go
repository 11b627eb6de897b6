package incident

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// PlanOptions say what a derived plan runs against.
type PlanOptions struct {
	Spec     *spec.Spec
	SpecPath string
	BaseURL  string
	Sync     string
}

// DerivePlan turns the log windows around leaks into a plan file that
// crosstalk replay runs (and crosstalk fuzz re-runs first when it is saved
// in fuzz's directory). Each sample
// becomes a burst: its requests, by the users of the log mapped in order of
// appearance onto the spec's own users, each to the spec request whose path
// template matches, at the offsets the log gives. The notes say what could
// not be carried over.
func DerivePlan(r *Report, o PlanOptions) (*fuzz.File, []string, error) {
	if len(r.Samples) == 0 {
		return nil, nil, fmt.Errorf("no leak window to derive a plan from: the log has no direct evidence of a leak")
	}
	if o.Spec == nil || len(o.Spec.Resolved) == 0 {
		return nil, nil, fmt.Errorf("a plan needs a spec with users")
	}
	matchers := requestMatchers(o.Spec)
	userMap := map[string]string{}
	taken := map[string]bool{}
	specUsers := map[string]bool{}
	for _, u := range o.Spec.Resolved {
		specUsers[u.Login] = true
	}
	// A log user who is a spec user plays as itself (a log of crosstalk's
	// own run); the others take the free spec users in order.
	for _, s := range r.Samples {
		for _, st := range s.Steps {
			if specUsers[st.User] {
				userMap[st.User], taken[st.User] = st.User, true
			}
		}
	}
	next := 0
	var notes []string
	var plan harness.Plan
	for _, s := range r.Samples {
		var b harness.Burst
		skipped := 0
		for _, st := range s.Steps {
			req := matchRequest(matchers, st.Path)
			if req == "" {
				skipped++
				continue
			}
			u, ok := userMap[st.User]
			if !ok {
				for next < len(o.Spec.Resolved) && taken[o.Spec.Resolved[next].Login] {
					next++
				}
				if next >= len(o.Spec.Resolved) {
					skipped++
					continue
				}
				u = o.Spec.Resolved[next].Login
				userMap[st.User], taken[u] = u, true
			}
			off := time.Duration(st.Offset) * time.Microsecond
			off = min(off, fuzz.MaxStepOffset)
			b.Steps = append(b.Steps, harness.Step{User: u, Request: req, Offset: off})
		}
		if skipped > 0 {
			notes = append(notes, fmt.Sprintf("window at %s line %d: %d of %d requests left out (no spec request matches the path, or more log users than spec users)",
				s.Ref.File, s.Ref.Line, skipped, len(s.Steps)))
		}
		if len(b.Steps) > 0 {
			plan.Bursts = append(plan.Bursts, b)
		}
	}
	if len(plan.Bursts) == 0 {
		return nil, notes, fmt.Errorf("no request of the leak windows matches a request of spec %s", o.Spec.Name)
	}
	for _, logUser := range sortedKeys(boolKeys(userMap)) {
		if logUser != userMap[logUser] {
			notes = append(notes, fmt.Sprintf("log user %s plays as %s", logUser, userMap[logUser]))
		}
	}
	f := &fuzz.File{Version: fuzz.FileVersion, Spec: o.SpecPath, SpecName: o.Spec.Name, BaseURL: o.BaseURL,
		Sync: o.Sync, Plan: plan, Created: time.Now().UTC().Truncate(time.Second)}
	if f.Sync == "" {
		f.Sync = "barrier"
	}
	if err := fuzz.CheckPlan(plan); err != nil {
		return nil, notes, err
	}
	if err := fuzz.CheckAgainst(plan, o.Spec); err != nil {
		return nil, notes, err
	}
	return f, notes, nil
}

type requestMatcher struct {
	name  string
	exact bool
	re    *regexp.Regexp
}

var templateVar = regexp.MustCompile(`\{\{[^}]*\}\}`)

// requestMatchers turns the spec's read requests into path regexps: a
// template variable matches one path segment. Writes, logins and logouts
// are left out: a plan derived from a log replays what was read.
func requestMatchers(s *spec.Spec) []requestMatcher {
	var out []requestMatcher
	for _, rq := range s.Requests {
		if rq.Action != "" && rq.Action != spec.ActionRead {
			continue
		}
		if rq.Method != "" && rq.Method != "GET" {
			continue
		}
		p, _, _ := strings.Cut(rq.Path, "?")
		parts := templateVar.Split(p, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		exact := len(parts) == 1
		re := regexp.MustCompile("^" + strings.Join(parts, `[^/?]+`) + "$")
		out = append(out, requestMatcher{name: rq.Name, exact: exact, re: re})
	}
	return out
}

func matchRequest(ms []requestMatcher, path string) string {
	found := ""
	for _, m := range ms {
		if m.re.MatchString(path) {
			if m.exact {
				return m.name
			}
			if found == "" {
				found = m.name
			}
		}
	}
	return found
}

func boolKeys(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
