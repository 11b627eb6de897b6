package spec

import "time"

// Spec is a parsed, validated target description.
type Spec struct {
	// Name labels reports; it defaults to the file name.
	Name string `yaml:"name" json:"name"`
	// BaseURL is prefixed to every request path. The run command's -url flag
	// replaces it, so one spec serves staging and production alike.
	BaseURL string `yaml:"base_url" json:"base_url"`
	// Instances are the base URLs of the target's instances (pods, hosts)
	// behind its load balancer, for crosstalk canary. A shared-memory race
	// needs two requests inside one process, and a balancer spreads the
	// requests of one burst over its upstreams, so a canary sends each burst
	// to one instance directly. Each must be an absolute http(s) URL.
	Instances []string `yaml:"instances,omitempty" json:"instances,omitempty"`
	// BackendHeader names a response header in which a load balancer in
	// front of the target says which backend served the response, as
	// nginx's "add_header X-Upstream-Addr $upstream_addr always" does. Each
	// exchange and finding then records that backend, and a canary probing
	// through the balancer attributes what it finds to it.
	BackendHeader string `yaml:"backend_header,omitempty" json:"backend_header,omitempty"`
	Users         Users  `yaml:"users" json:"users"`
	Login         Login  `yaml:"login" json:"login"`
	// Seed requests run once per user before any burst. A "{{canary}}" in their
	// path, body or headers becomes a fresh canary token owned by that user.
	Seed []Request `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Requests are what bursts are made of.
	Requests []Request `yaml:"requests" json:"requests"`
	// Learn turns on learned markers (on unless set to false).
	Learn  *bool  `yaml:"learn,omitempty" json:"learn,omitempty"`
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
	// Sessions is "fresh" (default: every execution logs its users in
	// again) or "keep" (the setup's sessions serve every execution).
	Sessions string `yaml:"sessions,omitempty" json:"sessions,omitempty"`
	// Reset requests return the target to a known state before every
	// execution; see [ResetRequest].
	Reset []ResetRequest `yaml:"reset,omitempty" json:"reset,omitempty"`
	// ResetKeepsData says the reset leaves the users' data in place (it
	// only clears caches, say), so the seed requests need not run again
	// after it. By default they do, with the same canaries.
	ResetKeepsData bool `yaml:"reset_keeps_data,omitempty" json:"reset_keeps_data,omitempty"`

	// File is the path the spec was loaded from ("" when built in code).
	File string `yaml:"-" json:"-"`
	// Resolved holds every user after list, pattern and CSV are expanded and
	// secrets are read from the environment. It is what the harness uses.
	Resolved []User `yaml:"-" json:"-"`

	// pos and set come from parsing: where each field was written, and which
	// fields were given at all. Validate uses them to point at lines, and to
	// tell "weight: 0" (an error) from a weight left out (a default).
	pos map[string]position
	set map[string]bool
}

// Users gives the users in one of three ways; exactly one must be set.
type Users struct {
	List    []User   `yaml:"list,omitempty" json:"list,omitempty"`
	Pattern *Pattern `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	// CSV is a path, relative to the spec file, with a header row naming the
	// User fields (login, password, password_env, token, token_env, email,
	// markers) and "vars.NAME" columns for user vars. Several markers in one
	// cell are separated by "|"; lines starting with "#" are comments.
	CSV string `yaml:"csv,omitempty" json:"csv,omitempty"`
}

// User is one account of the target.
type User struct {
	Login       string `yaml:"login" json:"login"`
	Password    string `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordEnv string `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	// Token is a ready bearer token, for login type "bearer".
	Token    string `yaml:"token,omitempty" json:"token,omitempty"`
	TokenEnv string `yaml:"token_env,omitempty" json:"token_env,omitempty"`
	Email    string `yaml:"email,omitempty" json:"email,omitempty"`
	// Markers are static strings that only this user's data contains.
	Markers []string `yaml:"markers,omitempty" json:"markers,omitempty"`
	// N is the user's number, the value of {{n}} in its requests: the
	// pattern's counter for pattern users, the 1-based position otherwise.
	N int `yaml:"-" json:"-"`
	// Vars are extra template values for this user, e.g. an account id.
	// Every user must define the same names.
	Vars map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
}

// Pattern generates Count users; "{{n}}" in its strings is the user number,
// counting from Start (default 1).
type Pattern struct {
	Count       int      `yaml:"count" json:"count"`
	Start       int      `yaml:"start,omitempty" json:"start,omitempty"`
	Login       string   `yaml:"login" json:"login"`
	Password    string   `yaml:"password,omitempty" json:"password,omitempty"`
	PasswordEnv string   `yaml:"password_env,omitempty" json:"password_env,omitempty"`
	Email       string   `yaml:"email,omitempty" json:"email,omitempty"`
	Markers     []string `yaml:"markers,omitempty" json:"markers,omitempty"`
	// Vars become every user's Vars, with "{{n}}" expanded in the values.
	Vars map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`
}

// Login types.
const (
	LoginForm   = "form"   // application/x-www-form-urlencoded POST
	LoginJSON   = "json"   // JSON body POST
	LoginBasic  = "basic"  // HTTP Basic on every request, no login exchange
	LoginBearer = "bearer" // a ready token per user, no login exchange
	LoginNone   = "none"   // no authentication (identity comes from elsewhere)
)

// Session kinds: where a logged-in session lives.
const (
	SessionCookie = "cookie"
	SessionToken  = "token"
)

// Login describes how a user obtains a session.
type Login struct {
	Type   string `yaml:"type" json:"type"`
	Method string `yaml:"method,omitempty" json:"method,omitempty"` // default POST
	Path   string `yaml:"path,omitempty" json:"path,omitempty"`
	// Form holds the fields of a form login, templated ("{{login}}").
	Form map[string]string `yaml:"form,omitempty" json:"form,omitempty"`
	// Body is the JSON body of a json login, templated.
	Body    string            `yaml:"body,omitempty" json:"body,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Session is "cookie" (default) or "token".
	Session string `yaml:"session,omitempty" json:"session,omitempty"`
	// Token extracts the session token from the login response when Session
	// is "token". Its Var defaults to "token".
	Token *Extract `yaml:"token,omitempty" json:"token,omitempty"`
	// AuthHeader carries the token on every request, as "Name: value" with
	// "{{token}}" in the value, e.g. "Authorization: Bearer {{token}}".
	AuthHeader string `yaml:"auth_header,omitempty" json:"auth_header,omitempty"`
	// ExpectStatus lists the statuses that mean success (default: 200-399).
	ExpectStatus []int `yaml:"expect_status,omitempty" json:"expect_status,omitempty"`
	// FailIf is a regexp; a login response body matching it has failed.
	FailIf string `yaml:"fail_if,omitempty" json:"fail_if,omitempty"`
}

// Actions a request can stand for. The fuzz planner uses them to mix reads,
// writes, re-logins and logouts.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionLogin  = "login"
	ActionLogout = "logout"
)

// Request is a named, templated HTTP request.
type Request struct {
	Name    string            `yaml:"name" json:"name"`
	Method  string            `yaml:"method,omitempty" json:"method,omitempty"` // default GET
	Path    string            `yaml:"path" json:"path"`
	Body    string            `yaml:"body,omitempty" json:"body,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Weight is the relative frequency in bursts (default 1; 0 is not allowed,
	// leave a request out instead).
	Weight int `yaml:"weight,omitempty" json:"weight,omitempty"`
	// Data names the kind of data the response carries, for the exposure
	// matrix: "mail", "attachment", "profile", ... (default: the name).
	Data string `yaml:"data,omitempty" json:"data,omitempty"`
	// Action is read (default), write, login or logout.
	Action  string    `yaml:"action,omitempty" json:"action,omitempty"`
	Extract []Extract `yaml:"extract,omitempty" json:"extract,omitempty"`
}

// Extract takes a value out of a response into a per-user variable. Exactly
// one of JSON, Regexp and Header is set. When several values match, each use
// of the variable picks one of them at random: list the messages, then open
// one.
type Extract struct {
	Var string `yaml:"var" json:"var"`
	// JSON is a JSONPath such as "$.messages[*].id", in the subset that
	// [ExtractJSON] evaluates.
	JSON string `yaml:"json,omitempty" json:"json,omitempty"`
	// Regexp is matched on the body; its first group (or the whole match) is
	// the value.
	Regexp string `yaml:"regexp,omitempty" json:"regexp,omitempty"`
	// Header names a response header whose value is taken.
	Header string `yaml:"header,omitempty" json:"header,omitempty"`
}

// Limits bound every request and decide when errors make a run inconclusive.
type Limits struct {
	// Timeout applies to every request (default 5s). In a spec it is
	// written with a unit, such as "5s" or "250ms".
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// MaxBody caps the bytes read of any response body (default 4 MiB).
	MaxBody int64 `yaml:"max_body,omitempty" json:"max_body,omitempty"`
	// MaxErrorRate is the share of failed requests (transport errors and 5xx)
	// above which a run is inconclusive (default 0.01).
	MaxErrorRate float64 `yaml:"max_error_rate,omitempty" json:"max_error_rate,omitempty"`
	// MinCoverage is the least share of judged responses that must carry
	// their viewer's own data for a run to be called isolated (default
	// 0.5). A response without any is one where the oracle could not have
	// told a leak from a login page, an error or an empty list. An
	// explicit 0 turns the check off.
	MinCoverage float64 `yaml:"min_coverage,omitempty" json:"min_coverage,omitempty"`
}

// Defaults used by Load when a field is left out.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxBody      = 4 << 20
	DefaultMaxErrorRate = 0.01
	DefaultMinCoverage  = 0.5
)

// LearnEnabled reports whether learned markers are on.
func (s *Spec) LearnEnabled() bool { return s.Learn == nil || *s.Learn }

// Request returns the named request, or nil.
func (s *Spec) Request(name string) *Request {
	for i := range s.Requests {
		if s.Requests[i].Name == name {
			return &s.Requests[i]
		}
	}
	return nil
}
