package spec

import (
	"fmt"
	"os"
	"strings"
)

// Session choices: whether every execution logs its users in again.
const (
	// SessionsFresh logs every user of an execution in again before it, with
	// a new cookie jar or token, so that a session one execution mixed up is
	// never carried into the next. It is the default.
	SessionsFresh = "fresh"
	// SessionsKeep logs in once, at the setup, and keeps those sessions for
	// every execution: for targets that rate-limit logins (mox does, per
	// client address). A session an execution corrupted then stays corrupt,
	// and the control after a leak says so.
	SessionsKeep = "keep"
)

// ResetRequest is one request of the spec's reset: an admin endpoint that
// returns the target to a known state (clears its caches, restores its
// data). It is sent without any user's session, so it has no templates;
// a secret it needs comes from the environment through HeadersEnv.
type ResetRequest struct {
	Name    string            `yaml:"name,omitempty" json:"name,omitempty"`
	Method  string            `yaml:"method,omitempty" json:"method,omitempty"` // default POST
	Path    string            `yaml:"path" json:"path"`
	Body    string            `yaml:"body,omitempty" json:"body,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// HeadersEnv maps a header name to the environment variable that holds
	// its value, such as {X-Reset-Token: RESET_TOKEN}.
	HeadersEnv map[string]string `yaml:"headers_env,omitempty" json:"headers_env,omitempty"`
	// ExpectStatus lists the statuses that mean the reset worked (default:
	// 200-299).
	ExpectStatus []int `yaml:"expect_status,omitempty" json:"expect_status,omitempty"`

	// Header is Headers and HeadersEnv resolved: what is sent.
	Header map[string]string `yaml:"-" json:"-"`
}

// KeepsSessions reports whether the spec keeps the setup's sessions for
// every execution instead of logging in afresh.
func (s *Spec) KeepsSessions() bool { return s.Sessions == SessionsKeep }

// reset checks sessions, reset and reset_keeps_data.
func (c *checker) reset() *Error {
	s := c.s
	switch s.Sessions {
	case "":
		s.Sessions = SessionsFresh
	case SessionsFresh, SessionsKeep:
	default:
		return c.errf("sessions", "unknown choice %q%s", s.Sessions, didYouMean(s.Sessions, []string{SessionsFresh, SessionsKeep}))
	}
	if s.ResetKeepsData && len(s.Reset) == 0 {
		return c.errf("reset_keeps_data", "only means something with reset requests")
	}
	for i := range s.Reset {
		r := &s.Reset[i]
		f := fmt.Sprintf("reset[%d]", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("reset%d", i+1)
		}
		if err := c.method(f+".method", &r.Method, "POST"); err != nil {
			return err
		}
		if err := c.path(f+".path", r.Path); err != nil {
			return err
		}
		if err := c.headers(f+".headers", r.Headers); err != nil {
			return err
		}
		for _, field := range []struct{ name, text string }{{"path", r.Path}, {"body", r.Body}} {
			if strings.Contains(field.text, "{{") {
				return c.errf(f+"."+field.name, "a reset request is sent without a user, so it has no templates; take a secret from the environment with headers_env")
			}
		}
		r.Header = map[string]string{}
		for _, k := range sortedKeys(r.Headers) {
			if strings.Contains(r.Headers[k], "{{") {
				return c.errf(join(f+".headers", k), "a reset request has no templates; use headers_env for a secret")
			}
			r.Header[k] = r.Headers[k]
		}
		for _, k := range sortedKeys(r.HeadersEnv) {
			hf := join(f+".headers_env", k)
			if !isToken(k) {
				return c.errf(hf, "%q is not a valid header name", k)
			}
			name := r.HeadersEnv[k]
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				return c.errf(hf, "environment variable %s is not set", name)
			}
			if strings.ContainsAny(v, "\r\n\x00") {
				return c.errf(hf, "environment variable %s holds a line break", name)
			}
			r.Header[k] = v
		}
		for j, st := range r.ExpectStatus {
			if st < 100 || st > 599 {
				return c.errf(fmt.Sprintf("%s.expect_status[%d]", f, j), "%d is not an HTTP status (100-599)", st)
			}
		}
	}
	return nil
}
