package harness

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// session is one user's logged-in state: cookies or token, the values
// extracted from that user's own responses, and the user's idle connections.
// Each user gets connections of its own, as a real browser would, so that a
// leak across users cannot be blamed on crosstalk sharing a socket.
type session struct {
	User spec.User

	spec   *spec.Spec
	base   *url.URL
	d      *wire.Dialer
	jar    *cookiejar.Jar
	token  string
	canary []string // canaries planted by seed requests
	// replant queues the canaries a seed plants again after a reset, so
	// that they are the ones the oracle knows.
	replant []string
	mu      sync.Mutex
	vars    map[string][]string
	idle    []*wire.Conn
	rng     *rand.Rand
	failIf  *regexp.Regexp
	authHdr [2]string

	// Plan actions (see actions.go).
	writePool []string // canaries for write requests, registered with the oracle
	poolNext  int
	drawn     []string // canaries the request being built carries
	peer      *session // recipient of the write being built
	loggedOut bool

	// header is added to every request (FixtureOptions.Header).
	header http.Header

	// issued are the latest credentials the target issued this user after
	// the oracle was built (re-login tokens, rotated cookies): the oracle
	// cannot learn them, so evidence is redacted of them here. A ring of
	// maxIssued, so that a target rotating a cookie on every response costs
	// a fixed amount of memory.
	issued     []string
	issuedNext int
	// n and seed made the session; a fresh one is made from them again.
	n    int
	seed uint64
}

// fresh makes a new session for the same user, logged out and with no
// connections, that starts from this one's extracted values, canaries and
// write canaries: a new browser of the same user, with the oracle's
// markers unchanged.
func (ss *session) fresh() (*session, error) {
	n, err := newSession(ss.spec, ss.base, ss.d, ss.User, ss.n, ss.seed)
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, v := range ss.vars {
		n.vars[k] = slices.Clone(v)
	}
	n.canary, n.writePool = ss.canary, ss.writePool
	n.header = ss.header
	return n, nil
}

// maxIssued bounds the credentials kept per user for redaction.
const maxIssued = 16

func newSession(s *spec.Spec, base *url.URL, d *wire.Dialer, u spec.User, n int, seed uint64) (*session, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	ss := &session{User: u, spec: s, base: base, d: d, jar: jar, vars: map[string][]string{},
		rng: rand.New(rand.NewPCG(seed, uint64(n))), n: n, seed: seed}
	if s.Login.FailIf != "" {
		// Load validated it already; an error here is a spec built in code.
		if ss.failIf, err = regexp.Compile(s.Login.FailIf); err != nil {
			return nil, fmt.Errorf("login.fail_if: %w", err)
		}
	}
	if h := s.Login.AuthHeader; h != "" {
		name, value, _ := strings.Cut(h, ":")
		ss.authHdr = [2]string{strings.TrimSpace(name), strings.TrimSpace(value)}
	}
	if s.Login.Type == spec.LoginBearer {
		ss.token = u.Token
		if ss.authHdr[0] == "" {
			ss.authHdr = [2]string{"Authorization", "Bearer {{token}}"}
		}
	}
	return ss, nil
}

// lookup resolves a template variable for this user. Extracted values that
// matched several times are picked at random on each use.
func (ss *session) lookup(name string) (string, bool) {
	switch name {
	case "login":
		return ss.User.Login, true
	case "password":
		return ss.User.Password, true
	case "email":
		return ss.User.Email, true
	case "token":
		return ss.token, ss.token != ""
	case "n":
		return strconv.Itoa(ss.User.N), true
	case "canary":
		if len(ss.replant) > 0 {
			c := ss.replant[0]
			ss.replant = ss.replant[1:]
			return c, true
		}
		if len(ss.writePool) > 0 {
			return ss.drawCanary(), true
		}
		c := oracle.NewCanary()
		ss.canary = append(ss.canary, c)
		return c, true
	case "peer_login", "peer_email":
		ss.mu.Lock()
		p := ss.peer
		ss.mu.Unlock()
		if p == nil {
			return "", false
		}
		if name == "peer_login" {
			return p.User.Login, true
		}
		return p.User.Email, p.User.Email != ""
	}
	if v, ok := ss.User.Vars[name]; ok {
		return v, true
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if vs := ss.vars[name]; len(vs) > 0 {
		return vs[ss.rng.IntN(len(vs))], true
	}
	return "", false
}

// ready reports whether every variable the request needs has a value yet: a
// request that opens a message cannot run before the inbox was listed.
func (ss *session) ready(r *spec.Request) bool {
	for _, s := range templated(r) {
		for _, v := range spec.Vars(s) {
			if _, ok := ss.lookupNoDraw(v); !ok {
				return false
			}
		}
	}
	return true
}

func (ss *session) lookupNoDraw(name string) (string, bool) {
	if name == "canary" {
		return "", true
	}
	return ss.lookup(name)
}

func templated(r *spec.Request) []string {
	out := []string{r.Path, r.Body}
	for _, v := range r.Headers {
		out = append(out, v)
	}
	return out
}

// build expands a spec request for this user and serialises it with the
// user's credentials.
func (ss *session) build(r *spec.Request) (wire.Request, error) {
	path, err := spec.Expand(r.Path, ss.lookup)
	if err == nil {
		err = checkLine(path)
	}
	if err != nil {
		return wire.Request{}, fmt.Errorf("request %s: path: %w", r.Name, err)
	}
	body, err := spec.Expand(r.Body, ss.lookup)
	if err != nil {
		return wire.Request{}, fmt.Errorf("request %s: body: %w", r.Name, err)
	}
	h := http.Header{}
	for k, v := range r.Headers {
		ev, err := spec.Expand(v, ss.lookup)
		if err == nil {
			err = checkLine(ev)
		}
		if err != nil {
			return wire.Request{}, fmt.Errorf("request %s: header %s: %w", r.Name, k, err)
		}
		h.Set(k, ev)
	}
	ss.addHeader(h)
	if err := ss.authorize(h); err != nil {
		return wire.Request{}, err
	}
	return wire.Build(ss.base, r.Method, path, h, []byte(body)), nil
}

// checkLine refuses a value that would end the line of the request it is
// written into: values extracted from responses are the target's, and a CR
// or LF in one would let it add headers, or a whole request, to ours.
func checkLine(v string) error {
	if i := strings.IndexAny(v, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("a value has a CR, LF or NUL byte at byte %d, which would end the request line or header it goes into", i)
	}
	return nil
}

// addHeader puts the header of every request into h, over the spec's own.
func (ss *session) addHeader(h http.Header) {
	for k, vs := range ss.header {
		h[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
	}
}

// authorize adds the session's credentials to h.
func (ss *session) authorize(h http.Header) error {
	switch {
	case ss.spec.Login.Type == spec.LoginBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ss.User.Login+":"+ss.User.Password)))
	case ss.authHdr[0] != "" && ss.token != "":
		v, err := spec.Expand(ss.authHdr[1], ss.lookup)
		if err == nil {
			err = checkLine(v)
		}
		if err != nil {
			return fmt.Errorf("login.auth_header: %w", err)
		}
		h.Set(ss.authHdr[0], v)
	}
	if cs := ss.jar.Cookies(ss.base); len(cs) > 0 {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = c.Name + "=" + c.Value
		}
		h.Set("Cookie", strings.Join(parts, "; "))
	}
	return nil
}

// acquire returns an idle connection of this user, or dials a new one.
func (ss *session) acquire(ctx context.Context) (*wire.Conn, error) {
	ss.mu.Lock()
	for len(ss.idle) > 0 {
		c := ss.idle[len(ss.idle)-1]
		ss.idle = ss.idle[:len(ss.idle)-1]
		if !c.Dead {
			ss.mu.Unlock()
			return c, nil
		}
	}
	ss.mu.Unlock()
	return ss.d.Dial(ctx)
}

func (ss *session) release(c *wire.Conn) {
	if c.Dead {
		c.Close()
		return
	}
	ss.mu.Lock()
	ss.idle = append(ss.idle, c)
	ss.mu.Unlock()
}

// freshLogin makes a new session for ss's user and logs it in. The
// session comes back even when the login failed, since that login may have
// left a connection open, which the caller's closeAll must close.
func (ss *session) freshLogin(ctx context.Context) (*session, error) {
	n, err := ss.fresh()
	if err != nil {
		return nil, err
	}
	return n, n.login(ctx)
}

func (ss *session) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, c := range ss.idle {
		c.Close()
	}
	ss.idle = nil
}

// do sends one request on one of the user's connections, outside any burst:
// logins, seeds and baselines. ctx bounds it as the timeout does: its
// deadline, if sooner, and its cancel, which ends a read in progress.
func (ss *session) do(ctx context.Context, req wire.Request) (Exchange, wire.Response, error) {
	ex := Exchange{User: ss.User.Login, Method: req.Method, Path: req.Path}
	c, err := ss.acquire(ctx)
	if err != nil {
		ex.Err = wire.DescribeErr(err, ss.d.Timeout)
		ex.Done = time.Now()
		return ex, wire.Response{}, err
	}
	ex.Conn = c.ID
	deadline := time.Now().Add(ss.d.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	stop := context.AfterFunc(ctx, c.Interrupt)
	sent, resp, err := c.RoundTrip(req, deadline, ss.d.MaxBody)
	if !stop() {
		c.Dead = true
	}
	ss.release(c)
	ex.Sent, ex.FirstByte, ex.Done = sent, resp.FirstByte, time.Now()
	ex.Status, ex.Bytes = resp.Status, len(resp.Body)
	if err != nil {
		ex.Err = wire.DescribeErr(err, ss.d.Timeout)
	}
	ss.absorb(resp)
	return ex, resp, err
}

// absorb keeps cookies the target set, as a browser would.
func (ss *session) absorb(resp wire.Response) {
	if resp.Header == nil {
		return
	}
	if cs := (&http.Response{Header: resp.Header}).Cookies(); len(cs) > 0 {
		ss.jar.SetCookies(ss.base, cs)
		for _, c := range cs {
			ss.remember(c.Value)
		}
	}
}

// remember keeps v among the credentials to redact from evidence.
func (ss *session) remember(v string) {
	if len(v) < 3 {
		return // as the oracle: shorter values would redact ordinary text
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if slices.Contains(ss.issued, v) {
		return
	}
	if len(ss.issued) < maxIssued {
		ss.issued = append(ss.issued, v)
		return
	}
	ss.issued[ss.issuedNext] = v
	ss.issuedNext = (ss.issuedNext + 1) % maxIssued
}

// noteIssued remembers the credentials a login response carries, before
// any evidence is taken from it: its cookies and, for a token session,
// the token login.token finds.
func (ss *session) noteIssued(resp wire.Response) {
	for _, c := range (&http.Response{Header: resp.Header}).Cookies() {
		ss.remember(c.Value)
	}
	if t := ss.spec.Login.Token; ss.spec.Login.Session == spec.SessionToken && t != nil {
		probe := &session{vars: map[string][]string{}}
		probe.extract([]spec.Extract{*t}, resp, oracle.DecodeContent(resp.Header, resp.Body))
		for _, v := range probe.vars[t.Var] {
			ss.remember(v)
		}
	}
}

// redactIssued replaces in s every credential the target issued to any of
// the users after the oracle was built, and the part of one that an
// excerpt cut at either end: 4 bytes or more of it, so that ordinary text
// that merely shares a letter or two with a token is left alone.
func redactIssued(sessions map[string]*session, s string) string {
	for _, ss := range sessions {
		ss.mu.Lock()
		for _, v := range ss.issued {
			s = strings.ReplaceAll(s, v, oracle.Redacted)
			for k := len(v) - 1; k >= 4; k-- {
				if strings.HasSuffix(s, v[:k]) {
					s = s[:len(s)-k] + oracle.Redacted
					break
				}
			}
			for k := len(v) - 1; k >= 4; k-- {
				if strings.HasPrefix(s, v[len(v)-k:]) {
					s = oracle.Redacted + s[k:]
					break
				}
			}
		}
		ss.mu.Unlock()
	}
	return s
}

// extract stores the values r's extract rules find in a response of this
// user. It only ever reads the user's own responses, so a leaked response can
// at worst steer later requests of the same user, never of another.
func (ss *session) extract(r []spec.Extract, resp wire.Response, body []byte) {
	for _, e := range r {
		var vals []string
		switch {
		case e.JSON != "":
			vals, _ = spec.ExtractJSON(e.JSON, body)
		case e.Regexp != "":
			vals, _ = spec.ExtractRegexp(e.Regexp, body)
		case e.Header != "":
			vals = resp.Header.Values(e.Header)
		}
		if len(vals) == 0 {
			continue
		}
		ss.mu.Lock()
		ss.vars[e.Var] = slices.Clone(vals)
		ss.mu.Unlock()
	}
}

// login runs the spec's login flow for this user. The error it returns names
// the user and says what went wrong.
func (ss *session) login(ctx context.Context) error {
	switch ss.spec.Login.Type {
	case spec.LoginBasic, spec.LoginNone:
		return nil
	case spec.LoginBearer:
		if ss.token == "" {
			return fmt.Errorf("user %s: no bearer token", ss.User.Login)
		}
		return nil
	}
	w, err := ss.buildLogin()
	if err != nil {
		return err
	}
	l := ss.spec.Login
	_, resp, err := ss.do(ctx, w)
	if err != nil {
		return fmt.Errorf("user %s: login request %s %s: %w", ss.User.Login, l.Method, l.Path, err)
	}
	return ss.loginResult(resp)
}

// buildLogin serialises the login request for this user.
func (ss *session) buildLogin() (wire.Request, error) {
	l := ss.spec.Login
	h := http.Header{}
	for k, v := range l.Headers {
		ev, err := spec.Expand(v, ss.lookup)
		if err == nil {
			err = checkLine(ev)
		}
		if err != nil {
			return wire.Request{}, fmt.Errorf("user %s: login header %s: %w", ss.User.Login, k, err)
		}
		h.Set(k, ev)
	}
	ss.addHeader(h)
	var body string
	if l.Type == spec.LoginForm {
		form := url.Values{}
		for k, v := range l.Form {
			ev, err := spec.Expand(v, ss.lookup)
			if err != nil {
				return wire.Request{}, fmt.Errorf("user %s: login form field %s: %w", ss.User.Login, k, err)
			}
			form.Set(k, ev)
		}
		body = form.Encode()
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		b, err := spec.Expand(l.Body, ss.lookup)
		if err != nil {
			return wire.Request{}, fmt.Errorf("user %s: login body: %w", ss.User.Login, err)
		}
		body = b
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
	}
	if cs := ss.jar.Cookies(ss.base); len(cs) > 0 {
		// A login page may have set a pre-session cookie (CSRF); send it back.
		if err := ss.authorize(h); err != nil {
			return wire.Request{}, err
		}
	}
	return wire.Build(ss.base, l.Method, l.Path, h, []byte(body)), nil
}

// loginResult decides whether a login response (whose cookies were already
// absorbed) succeeded, and takes the session token from it.
func (ss *session) loginResult(resp wire.Response) error {
	l := ss.spec.Login
	plain := oracle.DecodeContent(resp.Header, resp.Body)
	if !loginStatusOK(l.ExpectStatus, resp.Status) {
		return fmt.Errorf("user %s: login failed: %s %s answered %d", ss.User.Login, l.Method, l.Path, resp.Status)
	}
	if ss.failIf != nil && ss.failIf.Match(plain) {
		return fmt.Errorf("user %s: login failed: the response matched fail_if %q", ss.User.Login, l.FailIf)
	}
	if l.Session == spec.SessionToken {
		if l.Token == nil {
			return fmt.Errorf("user %s: login.session is token but login.token is not set", ss.User.Login)
		}
		ss.extract([]spec.Extract{*l.Token}, resp, plain)
		ss.mu.Lock()
		vs := ss.vars[l.Token.Var]
		ss.mu.Unlock()
		if len(vs) == 0 || vs[0] == "" {
			return fmt.Errorf("user %s: login answered %d but no token was found by login.token", ss.User.Login, resp.Status)
		}
		ss.token = vs[0]
		ss.remember(ss.token)
		return nil
	}
	if len(ss.jar.Cookies(ss.base)) == 0 {
		return fmt.Errorf("user %s: login answered %d but set no session cookie", ss.User.Login, resp.Status)
	}
	return nil
}

func loginStatusOK(expect []int, status int) bool {
	if len(expect) == 0 {
		return status >= 200 && status < 400
	}
	return slices.Contains(expect, status)
}

// secrets lists the values of this session that must never appear in
// evidence, and that are markers of this user if they show up elsewhere.
// Values too short to identify anyone (under 6 bytes) are not markers, but
// are still in the second list, which is everything to redact.
func (ss *session) secrets() (markers []oracle.Marker, redact []string) {
	add := func(v, label string) {
		if v == "" {
			return
		}
		redact = append(redact, v)
		if len(v) >= 6 {
			markers = append(markers, oracle.Marker{Owner: ss.User.Login, Kind: oracle.Identity, Value: v, Label: label, Secret: true})
		}
	}
	add(ss.User.Password, "password")
	if ss.spec.Login.Type == spec.LoginBasic {
		// A page that echoes request headers shows the credential encoded.
		add(base64.StdEncoding.EncodeToString([]byte(ss.User.Login+":"+ss.User.Password)), "basic credentials")
	}
	add(ss.token, "session token")
	for _, c := range ss.jar.Cookies(ss.base) {
		add(c.Value, "session cookie "+c.Name)
	}
	return markers, redact
}

// drawCanary hands out this user's next write canary.
func (ss *session) drawCanary() string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.writePool) == 0 {
		return ""
	}
	c := ss.writePool[ss.poolNext%len(ss.writePool)]
	ss.poolNext++
	ss.drawn = append(ss.drawn, c)
	return c
}

// resetAuth forgets the session, as a logout or a new browser does.
func (ss *session) resetAuth() {
	jar, _ := cookiejar.New(nil)
	ss.jar = jar
	if ss.spec.Login.Session == spec.SessionToken {
		ss.token = ""
	}
	ss.loggedOut = false
}
