package bench

import (
	"fmt"

	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// webmailSpec is the built-in webmail's spec for users accounts, firing
// its profile request only: the page of the last-login bug, so that every
// strategy and the naive baseline send the very same requests.
func webmailSpec(users int) (*spec.Spec, error) {
	s, err := spec.Parse("webmail.yaml", webmail.SpecYAML)
	if err != nil {
		return nil, fmt.Errorf("built-in spec: %w", err)
	}
	p := *s.Users.Pattern
	p.Count = users
	s.Users = spec.Users{Pattern: &p}
	var reqs []spec.Request
	for _, r := range s.Requests {
		if r.Name == "profile" {
			reqs = append(reqs, r)
		}
	}
	s.Requests = reqs
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("built-in spec: %w", err)
	}
	return s, nil
}
