package spec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Load reads, defaults, resolves and validates the spec at path. The format
// is told by content, not by extension: JSON is valid YAML and goes through
// the same parser. Every error is an [*Error].
//
// A spec larger than [MaxSpecBytes] or nested deeper than [MaxSpecDepth] is
// refused before it is parsed.
func Load(path string) (*Spec, error) {
	return LoadContext(context.Background(), path)
}

// Parse does what [Load] does for a spec already in memory. name is used in
// error messages and as the base of a relative users.csv path.
func Parse(name string, data []byte) (*Spec, error) {
	s := &Spec{}
	d, err := parseYAML(name, data, s)
	if err != nil {
		return nil, err
	}
	s.File = name
	s.pos, s.set = d.pos, d.set
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks s, fills in defaults and computes s.Resolved, reading
// secrets from the environment again. It is what [Parse] runs after
// decoding; call it on a spec built or changed in code. Errors are
// [*Error]s, with lines when s came from a file.
func (s *Spec) Validate() error {
	c := &checker{s: s}
	if err := c.run(); err != nil {
		return err
	}
	return nil
}

// builtinVars are the template variables every user has.
var builtinVars = []string{"login", "password", "email", "token", "n"}

// canaryVar is the variable that plants a fresh canary; seed requests only.
const canaryVar = "canary"

// peerVars name the recipient of a write request (a plan step's peer), so a
// user can send mail to another user, or to itself.
var peerVars = []string{"peer_login", "peer_email"}

// maxUsers bounds a pattern or CSV. Isolation is shown with tens of users; a
// typo of count: 1000000 should fail fast instead of allocating.
const maxUsers = 10000

type checker struct {
	s *Spec
	// extractVars maps each variable an extract defines to the field that
	// first defines it.
	extractVars map[string]string
	userVars    []string
	// origins[i] is where s.Resolved[i] came from.
	origins []origin
}

// errf makes an [*Error] for field, placed at the field or, when the field
// was not written (a missing required field), at its nearest written parent.
func (c *checker) errf(field, format string, args ...any) *Error {
	e := &Error{File: c.s.File, Field: field, Msg: fmt.Sprintf(format, args...)}
	for f := field; c.s.pos != nil; {
		if p, ok := c.s.pos[f]; ok {
			e.Line, e.Column = p.line, p.col
			break
		}
		if f == "" {
			break
		}
		f = parentField(f)
	}
	return e
}

// parentField strips the last ".name" or "[i]" from a field path.
func parentField(f string) string {
	i := strings.LastIndexAny(f, ".[")
	if i < 0 {
		return ""
	}
	return f[:i]
}

func (c *checker) given(field string) bool { return c.s.set[field] }

func (c *checker) run() *Error {
	s := c.s
	if s.Name == "" {
		base := filepath.Base(s.File)
		s.Name = strings.TrimSuffix(base, filepath.Ext(base))
		if s.File == "" || s.Name == "" || s.Name == "." {
			s.Name = "spec"
		}
	}
	if strings.IndexFunc(s.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		// The name heads reports, file names and emitted Go comments.
		return c.errf("name", "%q must not contain line breaks or control characters", s.Name)
	}
	steps := []func() *Error{c.baseURL, c.users, c.login, c.requests, c.limits, c.templates, c.reset}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) baseURL() *Error {
	s := c.s
	if strings.TrimSpace(s.BaseURL) == "" {
		return c.errf("base_url", "required: the target's address, such as \"http://127.0.0.1:8080\"")
	}
	u, err := c.absURL("base_url", s.BaseURL)
	if err != nil {
		return err
	}
	s.BaseURL = u
	for i := range s.Instances {
		field := fmt.Sprintf("instances[%d]", i)
		u, err := c.absURL(field, s.Instances[i])
		if err != nil {
			return err
		}
		if slices.Contains(s.Instances[:i], u) {
			return c.errf(field, "%q is listed twice", u)
		}
		s.Instances[i] = u
	}
	if s.BackendHeader != "" && !isToken(s.BackendHeader) {
		return c.errf("backend_header", "%q is not a header name, such as \"X-Upstream-Addr\"", s.BackendHeader)
	}
	return nil
}

// absURL checks an absolute http(s) URL without query or fragment and
// returns it without a trailing slash, since request paths start with "/".
func (c *checker) absURL(field, raw string) (string, *Error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", c.errf(field, "required: an address such as \"http://127.0.0.1:8080\"")
	}
	// The messages show the URL without its user info, which may hold a
	// password.
	shown := RedactURL(raw)
	if !strings.Contains(raw, "://") {
		return "", c.errf(field, "%q must be an absolute http:// or https:// URL", shown)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", c.errf(field, "%q is not a URL: %v", shown, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", c.errf(field, "%q must be an absolute http:// or https:// URL", shown)
	}
	if u.Host == "" {
		return "", c.errf(field, "%q has no host", shown)
	}
	if u.User != nil {
		// It would be written into every stream, report and plan, and the
		// requests would not carry it anyway.
		return "", c.errf(field, "%q must not carry a user name or password; log in through login: (type basic sends HTTP Basic), with the password from password_env", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") {
		return "", c.errf(field, "%q must not have a query or fragment; put those in the request paths", shown)
	}
	return strings.TrimRight(raw, "/"), nil
}

// isToken reports whether s is an HTTP token (RFC 9110), the syntax of
// methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (c *checker) method(field string, m *string, def string) *Error {
	if *m == "" {
		*m = def
		return nil
	}
	if !isToken(*m) {
		return c.errf(field, "%q is not an HTTP method", *m)
	}
	// Methods are case-sensitive on the wire, and "get" is a typo far more
	// often than an intended custom method.
	*m = strings.ToUpper(*m)
	return nil
}

func (c *checker) path(field, p string) *Error {
	if p == "" {
		return c.errf(field, "required: a path starting with \"/\"")
	}
	if !strings.HasPrefix(p, "/") {
		return c.errf(field, "%q must start with \"/\" (it is joined to base_url)", p)
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return c.errf(field, "%q contains a space or control character; percent-encode it", p)
	}
	return nil
}

func (c *checker) headers(field string, h map[string]string) *Error {
	for _, k := range sortedKeys(h) {
		if !isToken(k) {
			return c.errf(join(field, k), "%q is not a valid header name", k)
		}
		if strings.ContainsAny(h[k], "\r\n\x00") {
			return c.errf(join(field, k), "a header value must not contain line breaks")
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var loginTypes = []string{LoginForm, LoginJSON, LoginBasic, LoginBearer, LoginNone}

func (c *checker) login() *Error {
	l := &c.s.Login
	switch l.Type {
	case LoginForm, LoginJSON:
		return c.exchangeLogin(l)
	case LoginBasic, LoginBearer, LoginNone:
	case "":
		return c.errf("login.type", "required: one of %s", strings.Join(loginTypes, ", "))
	default:
		return c.errf("login.type", "unknown login type %q%s", l.Type, didYouMean(l.Type, loginTypes))
	}
	// These types make no login request, so any of its settings is a sign
	// the author meant another type.
	unused := []struct {
		field string
		set   bool
	}{
		{"method", l.Method != ""}, {"path", l.Path != ""}, {"form", len(l.Form) > 0},
		{"body", l.Body != ""}, {"headers", len(l.Headers) > 0}, {"session", l.Session != ""},
		{"token", l.Token != nil}, {"expect_status", len(l.ExpectStatus) > 0}, {"fail_if", l.FailIf != ""},
		{"auth_header", l.AuthHeader != "" && l.Type != LoginBearer},
	}
	for _, u := range unused {
		if u.set {
			return c.errf("login."+u.field, "not used by a %q login (it makes no login request); remove it or change login.type", l.Type)
		}
	}
	switch l.Type {
	case LoginBasic:
		for i, u := range c.s.Resolved {
			if u.Password == "" {
				return c.userErr(i, "password", "a basic login needs a password (or password_env) for every user")
			}
			if strings.Contains(u.Login, ":") {
				return c.userErr(i, "login", "%q contains \":\", which HTTP Basic cannot carry in a user name", u.Login)
			}
		}
	case LoginBearer:
		for i, u := range c.s.Resolved {
			if u.Token == "" {
				return c.userErr(i, "token", "a bearer login needs a token (or token_env) for every user")
			}
		}
		if l.AuthHeader == "" {
			l.AuthHeader = "Authorization: Bearer {{token}}"
		}
		return c.authHeader("token")
	}
	return nil
}

func (c *checker) exchangeLogin(l *Login) *Error {
	if err := c.method("login.method", &l.Method, "POST"); err != nil {
		return err
	}
	if err := c.path("login.path", l.Path); err != nil {
		return err
	}
	if l.Type == LoginForm {
		if len(l.Form) == 0 {
			return c.errf("login.form", "a form login needs its fields, such as {username: \"{{login}}\", password: \"{{password}}\"}")
		}
		if l.Body != "" {
			return c.errf("login.body", "a form login sends login.form; body is for type \"json\"")
		}
	} else {
		if l.Body == "" {
			return c.errf("login.body", "a json login needs a body, such as '{\"user\": \"{{login}}\", \"password\": \"{{password}}\"}'")
		}
		if len(l.Form) > 0 {
			return c.errf("login.form", "a json login sends login.body; form is for type \"form\"")
		}
	}
	if err := c.headers("login.headers", l.Headers); err != nil {
		return err
	}
	for i, st := range l.ExpectStatus {
		if st < 100 || st > 599 {
			return c.errf(fmt.Sprintf("login.expect_status[%d]", i), "%d is not an HTTP status (100-599)", st)
		}
	}
	if l.FailIf != "" {
		if _, err := regexp.Compile(l.FailIf); err != nil {
			return c.errf("login.fail_if", "bad regexp: %v", regexpMsg(err))
		}
	}
	switch l.Session {
	case "":
		l.Session = SessionCookie
	case SessionCookie, SessionToken:
	default:
		return c.errf("login.session", "unknown session kind %q%s", l.Session, didYouMean(l.Session, []string{SessionCookie, SessionToken}))
	}
	if l.Session == SessionCookie {
		if l.Token != nil {
			return c.errf("login.token", "only used with session: token")
		}
		if l.AuthHeader != "" {
			return c.errf("login.auth_header", "only used with session: token (a cookie session sends its cookies)")
		}
		return nil
	}
	if l.Token == nil {
		return c.errf("login.token", "session: token needs a token extract, such as {json: \"$.token\"}")
	}
	if l.Token.Var == "" {
		l.Token.Var = "token"
	}
	if err := c.extract("login.token", l.Token, true); err != nil {
		return err
	}
	if l.AuthHeader == "" {
		return c.errf("login.auth_header", "session: token needs the header that carries it, such as \"Authorization: Bearer {{%s}}\"", l.Token.Var)
	}
	return c.authHeader(l.Token.Var)
}

// authHeader checks login.auth_header is "Name: value" with the token
// variable in the value.
func (c *checker) authHeader(tokenVar string) *Error {
	h := c.s.Login.AuthHeader
	name, value, ok := strings.Cut(h, ":")
	name = strings.TrimSpace(name)
	if !ok || !isToken(name) {
		return c.errf("login.auth_header", "%q must be \"Name: value\", such as \"Authorization: Bearer {{%s}}\"", h, tokenVar)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return c.errf("login.auth_header", "must not contain line breaks")
	}
	if !slices.Contains(Vars(value), tokenVar) {
		return c.errf("login.auth_header", "%q does not use {{%s}}, so the session token would never be sent", h, tokenVar)
	}
	return nil
}

// regexpMsg drops the "error parsing regexp: " prefix that every regexp
// error repeats.
func regexpMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

var actions = []string{ActionRead, ActionWrite, ActionLogin, ActionLogout}

func (c *checker) requests() *Error {
	s := c.s
	c.extractVars = map[string]string{}
	if l := s.Login.Token; l != nil && s.Login.Session == SessionToken {
		c.extractVars[l.Var] = "login.token.var"
	}
	names := map[string]string{}
	check := func(list []Request, field string) *Error {
		for i := range list {
			f := fmt.Sprintf("%s[%d]", field, i)
			if err := c.request(f, &list[i], names); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check(s.Seed, "seed"); err != nil {
		return err
	}
	if len(s.Requests) == 0 {
		return c.errf("requests", "at least one request is needed")
	}
	return check(s.Requests, "requests")
}

func (c *checker) request(f string, r *Request, names map[string]string) *Error {
	if r.Name == "" {
		return c.errf(f+".name", "required: a name for reports and plans, such as \"inbox\"")
	}
	if strings.IndexFunc(r.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return c.errf(f+".name", "%q must not contain spaces or control characters", r.Name)
	}
	// Seed and burst requests share one namespace because reports and
	// replayable plans name requests without saying which list they are in.
	if prev, dup := names[r.Name]; dup {
		return c.errf(f+".name", "%q is also the name of %s", r.Name, prev)
	}
	names[r.Name] = f
	if err := c.method(f+".method", &r.Method, "GET"); err != nil {
		return err
	}
	if err := c.path(f+".path", r.Path); err != nil {
		return err
	}
	if err := c.headers(f+".headers", r.Headers); err != nil {
		return err
	}
	switch {
	case r.Weight < 0 || r.Weight == 0 && c.given(f+".weight"):
		return c.errf(f+".weight", "%d: a weight must be at least 1 (leave the request out to never send it)", r.Weight)
	case r.Weight == 0:
		r.Weight = 1
	}
	if r.Data == "" {
		r.Data = r.Name
	}
	switch r.Action {
	case "":
		r.Action = ActionRead
	case ActionRead, ActionWrite, ActionLogin, ActionLogout:
	default:
		return c.errf(f+".action", "unknown action %q%s", r.Action, didYouMean(r.Action, actions))
	}
	for i := range r.Extract {
		if err := c.extract(fmt.Sprintf("%s.extract[%d]", f, i), &r.Extract[i], false); err != nil {
			return err
		}
	}
	return nil
}

// extract checks one extract rule and registers its variable.
func (c *checker) extract(f string, e *Extract, isLoginToken bool) *Error {
	if e.Var == "" {
		return c.errf(f+".var", "required: the variable the value is stored in")
	}
	if !validVarName(e.Var) {
		return c.errf(f+".var", "%q is not a variable name (letters, digits, '_' and '-', starting with a letter or '_')", e.Var)
	}
	// "token" is the session token's own name, so only login.token may
	// define it; anything else would be shadowed by it at run time.
	reserved := slices.Contains(builtinVars, e.Var) || e.Var == canaryVar
	if reserved && !(isLoginToken && e.Var == "token") {
		return c.errf(f+".var", "%q is a built-in variable; pick another name", e.Var)
	}
	if slices.Contains(c.userVars, e.Var) {
		return c.errf(f+".var", "%q is already a user variable (users' vars); pick another name", e.Var)
	}
	if _, ok := c.extractVars[e.Var]; !ok && c.extractVars != nil {
		c.extractVars[e.Var] = f + ".var"
	}
	n := 0
	for _, set := range []bool{e.JSON != "", e.Regexp != "", e.Header != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return c.errf(f, "give exactly one of json, regexp and header (found %d)", n)
	}
	switch {
	case e.JSON != "":
		if _, err := parseJSONPath(e.JSON); err != nil {
			return c.errf(f+".json", "%v", err)
		}
	case e.Regexp != "":
		if _, err := regexp.Compile(e.Regexp); err != nil {
			return c.errf(f+".regexp", "bad regexp: %v", regexpMsg(err))
		}
	case e.Header != "":
		if !isToken(e.Header) {
			return c.errf(f+".header", "%q is not a valid header name", e.Header)
		}
	}
	return nil
}

func (c *checker) limits() *Error {
	l := &c.s.Limits
	switch {
	case l.Timeout < 0 || l.Timeout == 0 && c.given("limits.timeout"):
		return c.errf("limits.timeout", "%v: the timeout must be more than zero, such as \"5s\"", l.Timeout)
	case l.Timeout == 0:
		l.Timeout = DefaultTimeout
	}
	switch {
	case l.MaxBody < 0 || l.MaxBody == 0 && c.given("limits.max_body"):
		return c.errf("limits.max_body", "%d: the body cap must be more than zero bytes", l.MaxBody)
	case l.MaxBody == 0:
		l.MaxBody = DefaultMaxBody
	}
	switch {
	case math.IsNaN(l.MaxErrorRate) || l.MaxErrorRate < 0 || l.MaxErrorRate > 1:
		return c.errf("limits.max_error_rate", "%v: the error rate is a share between 0 and 1, such as 0.01", l.MaxErrorRate)
	case l.MaxErrorRate == 0 && !c.given("limits.max_error_rate"):
		// An explicit 0 is kept: it means any failed request makes the run
		// inconclusive.
		l.MaxErrorRate = DefaultMaxErrorRate
	}
	switch {
	case math.IsNaN(l.MinCoverage) || l.MinCoverage < 0 || l.MinCoverage > 1:
		return c.errf("limits.min_coverage", "%v: the coverage is a share between 0 and 1, such as 0.5", l.MinCoverage)
	case l.MinCoverage == 0 && !c.given("limits.min_coverage"):
		l.MinCoverage = DefaultMinCoverage
	}
	return nil
}

// templates checks that every template names a variable that will exist.
func (c *checker) templates() *Error {
	s := c.s
	base := map[string]bool{}
	for _, v := range builtinVars {
		base[v] = true
	}
	for _, v := range c.userVars {
		base[v] = true
	}
	withExtracts := func(canary bool) map[string]bool {
		m := map[string]bool{}
		for k := range base {
			m[k] = true
		}
		for k := range c.extractVars {
			m[k] = true
		}
		if canary {
			m[canaryVar] = true
		}
		return m
	}
	l := &s.Login
	if err := c.checkTemplate("login.path", l.Path, base); err != nil {
		return err
	}
	if err := c.checkTemplate("login.body", l.Body, base); err != nil {
		return err
	}
	for _, k := range sortedKeys(l.Form) {
		if err := c.checkTemplate("login.form."+k, l.Form[k], base); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(l.Headers) {
		if err := c.checkTemplate("login.headers."+k, l.Headers[k], base); err != nil {
			return err
		}
	}
	if l.AuthHeader != "" {
		known := withExtracts(false)
		if err := c.checkTemplate("login.auth_header", l.AuthHeader, known); err != nil {
			return err
		}
	}
	check := func(list []Request, field string, knownFor func(*Request) map[string]bool) *Error {
		for i := range list {
			r := &list[i]
			known := knownFor(r)
			f := fmt.Sprintf("%s[%d]", field, i)
			if err := c.checkTemplate(f+".path", r.Path, known); err != nil {
				return err
			}
			if err := c.checkTemplate(f+".body", r.Body, known); err != nil {
				return err
			}
			for _, k := range sortedKeys(r.Headers) {
				if err := c.checkTemplate(f+".headers."+k, r.Headers[k], known); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := check(s.Seed, "seed", func(*Request) map[string]bool { return withExtracts(true) }); err != nil {
		return err
	}
	reads, writes := withExtracts(false), withExtracts(true)
	for _, v := range peerVars {
		writes[v] = true
	}
	return check(s.Requests, "requests", func(r *Request) map[string]bool {
		if r.Action == ActionWrite {
			return writes
		}
		return reads
	})
}

func (c *checker) checkTemplate(field, text string, known map[string]bool) *Error {
	refs, err := scanTemplate(text)
	if err != nil {
		return c.errf(field, "%v", err)
	}
	for _, r := range refs {
		if known[r.name] {
			if err := c.valueExists(field, r.name); err != nil {
				return err
			}
			continue
		}
		if r.name == canaryVar {
			return c.errf(field, "{{canary}} is only available in seed and write requests, which plant it")
		}
		return c.errf(field, "unknown variable %q%s", r.name, knownVarsHint(r.name, sortedKeys(known)))
	}
	return nil
}

// valueExists rejects a built-in variable that would have no value at run
// time: the harness would then send an empty password, or never send a
// request that waits for a token no login provides.
func (c *checker) valueExists(field, name string) *Error {
	switch name {
	case "password", "email":
		for i, u := range c.s.Resolved {
			v := u.Password
			if name == "email" {
				v = u.Email
			}
			if v == "" {
				return c.errf(field, "uses {{%s}} but %s has no %s", name, c.origins[i].name, name)
			}
		}
	case "token":
		l := c.s.Login
		if l.Type != LoginBearer && l.Session != SessionToken {
			return c.errf(field, "uses {{token}} but a %q login with a cookie session provides no token", l.Type)
		}
	}
	return nil
}

// knownVarsHint lists what a template may use, leading with the likely
// intended name.
func knownVarsHint(name string, known []string) string {
	list := strings.Join(known, ", ")
	if s := suggest(name, known); s != "" {
		return fmt.Sprintf(" (did you mean %q? known: %s)", s, list)
	}
	return " (known: " + list + ")"
}
