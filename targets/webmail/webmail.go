package webmail

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bug selects a defect to build into the server.
type Bug string

// The selectable defects.
const (
	// BugNone is the correct server.
	BugNone Bug = "none"
	// BugLastLogin is the July 2008 incident: /profile keeps the requesting
	// user in a field shared by every request, and renders from that field.
	BugLastLogin Bug = "lastlogin"
)

// DefaultWork is realistic busy work for rendering a page: about what a small
// template costs.
const DefaultWork = 40 * time.Microsecond

// MaxWork bounds [Options.Work]; a handler that spins for longer is a stalled
// server, not a slow one.
const MaxWork = time.Second

// DefaultUsers is the number of accounts seeded when [Options.Users] is 0.
const DefaultUsers = 8

// Options configure [New].
type Options struct {
	// Bug is the defect to build in; "" is [BugNone].
	Bug Bug
	// Users is the number of seeded accounts, 1 to [MaxUsers]; 0 means
	// [DefaultUsers]. Account N has login "userN", password "pw-userN" and
	// email "userN@webmail.test".
	Users int
	// Work is the busy work done in /profile between the write of the shared
	// user and its read in the buggy path, and at the same spot in the
	// correct path, so both cost the same. It is a calibrated CPU spin, so that
	// 200ns and 1µs mean what they say. Zero does no extra work at all; use
	// [DefaultWork] for a realistic server. Negative values and values above
	// [MaxWork] are errors.
	Work time.Duration
	// ReportArrival adds the header "X-Arrival-Ns: <Unix nanoseconds at
	// handler entry>" to every response, so that a client can see how close
	// together its requests really reached the handler.
	ReportArrival bool
	// Seed makes the seeded mailboxes, names and codes deterministic.
	Seed int64
	// AccessLog, when set, gets one JSON line per request from a server
	// that [Start] serves, in the format "crosstalk incident" reads (see
	// [AccessLog]). Instance names the server in it; "" is the listen
	// address.
	AccessLog io.Writer
	Instance  string
}

// Account is a seeded user.
type Account struct {
	Login, Password, Email, Name string
}

// loginRecord is one login: when and from where.
type loginRecord struct {
	at time.Time
	ip string
}

// account is a user with the pieces of HTML that never change precomputed.
type account struct {
	Account
	nameHTML  string
	emailHTML string

	// Guarded by Server.mu.
	last loginRecord
	mbox mailbox

	// Guarded by Server.sessMu: the user's sessions, oldest first.
	sids []string
}

// viewer is who a session belongs to, as the profile page shows it: the
// account and the login before this session's. It never changes after login,
// which is what lets the buggy path share a pointer to it without a data race.
type viewer struct {
	acct     *account
	lastHTML string
}

type session struct {
	id string
	v  *viewer
}

// maxSessionsPerUser bounds memory when a client logs in over and over: the
// oldest session of a user is dropped first.
const maxSessionsPerUser = 256

// Server is the webmail. It is an [http.Handler]; its zero value is not
// usable, use [New].
type Server struct {
	bug           Bug
	work          uint64 // spin iterations
	reportArrival bool

	accounts []*account
	byLogin  map[string]*account
	byEmail  map[string]*account

	// mu guards every mailbox and login record.
	mu sync.RWMutex

	sessMu   sync.RWMutex
	sessions map[string]*session

	// current is the user of the /profile request being rendered, shared by
	// all requests: the 2008 defect. It is atomic because the defect is in
	// the logic, not a data race; the race detector would stop a test at the
	// first collision and never let it see the wrong page.
	current atomic.Pointer[viewer]

	// front is where ServeHTTP hands a request after the arrival stamp: the
	// router itself, or the middleware of a bug variant wrapped around it.
	front http.HandlerFunc
	// newID names a new session, and submit delivers mail a signed-in user
	// sent. The correct server delivers before it answers, so the sender's
	// next page already shows the effect. Bug variants may replace either
	// (see bugs.go).
	newID  func(now time.Time) string
	submit func(rcpt *account, d draft)

	// State of the bug variants, each used only in its own mode (see the
	// bug_*.go files). The same rule as for current holds: shared state is
	// atomic or locked, so every defect is a logic error that the race
	// detector lets a test observe.
	cache   *urlCache              // cachekey
	micro   *microcache            // microcache
	bufs    *sync.Pool             // pool
	backend *freeList[backendConn] // conndesync
	idSeq   atomic.Uint64          // sessionmix
	ctxs    *freeList[reqCtx]      // afterreturn
	async   sync.WaitGroup         // afterreturn: deliveries still queued
	batcher *batchCoalescer        // loopvar

	// live is set when [Start] serves the server itself.
	live *listening
}

// New builds a server with seeded accounts and mailboxes.
func New(opts Options) (*Server, error) {
	if opts.Bug == "" {
		opts.Bug = BugNone
	}
	if _, err := ParseBug(string(opts.Bug)); err != nil {
		return nil, err
	}
	if opts.Users == 0 {
		opts.Users = DefaultUsers
	}
	if opts.Users < 0 || opts.Users > MaxUsers {
		return nil, fmt.Errorf("webmail: users must be between 1 and %d, not %d", MaxUsers, opts.Users)
	}
	if opts.Work < 0 {
		return nil, fmt.Errorf("webmail: work must not be negative, got %v", opts.Work)
	}
	if opts.Work > MaxWork {
		return nil, fmt.Errorf("webmail: work must be at most %v, got %v", MaxWork, opts.Work)
	}
	s := &Server{
		bug:           opts.Bug,
		work:          spinIterations(opts.Work),
		reportArrival: opts.ReportArrival,
		byLogin:       make(map[string]*account, opts.Users),
		byEmail:       make(map[string]*account, opts.Users),
		sessions:      map[string]*session{},
	}
	s.installBug()
	sd := newSeeder(opts.Seed)
	names := sd.names(opts.Users)
	for i := range opts.Users {
		login := "user" + strconv.Itoa(i+1)
		a := &account{Account: Account{
			Login:    login,
			Password: "pw-" + login,
			Email:    login + "@" + MailDomain,
			Name:     names[i],
		}}
		a.nameHTML = escape(a.Name)
		a.emailHTML = escape(a.Email)
		d := sd.user()
		a.last = loginRecord{at: d.at, ip: d.ip}
		for _, m := range sd.seedMail(a, d) {
			s.deliverLocked(a, m)
		}
		s.accounts = append(s.accounts, a)
		s.byLogin[a.Login] = a
		s.byEmail[a.Email] = a
	}
	return s, nil
}

// Users returns the seeded accounts in order: user1 first.
func (s *Server) Users() []Account {
	out := make([]Account, len(s.accounts))
	for i, a := range s.accounts {
		out[i] = a.Account
	}
	return out
}

// Bug returns the defect the server was built with.
func (s *Server) Bug() Bug { return s.bug }

// ServeHTTP stamps the arrival when asked to and hands the request to the
// router, or to the middleware of the server's bug variant. Routing is a
// plain switch: it is the hot path of a load test, and it lets every unknown
// path get the same 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.reportArrival {
		// Taken first, before routing or session lookup, so it measures the
		// arrival and not the work.
		w.Header()["X-Arrival-Ns"] = []string{strconv.FormatInt(time.Now().UnixNano(), 10)}
	}
	s.front(w, r)
}

// route dispatches a request to its handler. Routing is a plain switch, as
// ServeHTTP explains; bug middlewares wrap it through Server.front.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch p {
	case "/":
		if s.allow(w, r, http.MethodGet) {
			redirect(w, "/inbox")
		}
	case "/login":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			writeHTML(w, http.StatusOK, loginPage)
		case http.MethodPost:
			s.login(w, r)
		default:
			methodNotAllowed(w, "GET, HEAD, POST")
		}
	case "/logout":
		if s.allow(w, r, http.MethodPost) {
			s.logout(w, r)
		}
	case "/inbox":
		if s.allow(w, r, http.MethodGet) {
			if ss := s.htmlSession(w, r); ss != nil {
				s.inboxHTML(w, ss)
			}
		}
	case "/profile":
		if s.allow(w, r, http.MethodGet) {
			if ss := s.htmlSession(w, r); ss != nil {
				s.profile(w, ss)
			}
		}
	case "/compose":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if ss := s.htmlSession(w, r); ss != nil {
				writeHTML(w, http.StatusOK, composePage(ss.v.acct, ""))
			}
		case http.MethodPost:
			if ss := s.htmlSession(w, r); ss != nil {
				s.composeForm(w, r, ss)
			}
		default:
			methodNotAllowed(w, "GET, HEAD, POST")
		}
	case "/api/inbox":
		if s.allow(w, r, http.MethodGet) {
			if ss := s.apiSession(w, r); ss != nil {
				s.inboxJSON(w, ss)
			}
		}
	case "/api/send":
		if s.allow(w, r, http.MethodPost) {
			if ss := s.apiSession(w, r); ss != nil {
				s.sendJSON(w, r, ss)
			}
		}
	case "/api/batch":
		if s.allow(w, r, http.MethodGet) {
			if ss := s.apiSession(w, r); ss != nil {
				s.batchJSON(w, r, ss)
			}
		}
	default:
		s.routeMessages(w, r, p)
	}
}

// routeMessages serves /messages/{id}, /messages/{id}/attachments/{n} and
// /api/messages/{id}.
func (s *Server) routeMessages(w http.ResponseWriter, r *http.Request, p string) {
	if rest, ok := strings.CutPrefix(p, "/api/messages/"); ok {
		id, ok := parseID(rest)
		if !ok {
			notFoundJSON(w)
			return
		}
		if s.allow(w, r, http.MethodGet) {
			if ss := s.apiSession(w, r); ss != nil {
				s.messageJSON(w, ss, id)
			}
		}
		return
	}
	rest, ok := strings.CutPrefix(p, "/messages/")
	if !ok {
		notFoundHTML(w)
		return
	}
	idPart, attPart, hasAtt := strings.Cut(rest, "/attachments/")
	id, ok := parseID(idPart)
	n, nok := uint64(0), true
	if hasAtt {
		n, nok = parseID(attPart)
	}
	if !ok || !nok {
		notFoundHTML(w)
		return
	}
	if !s.allow(w, r, http.MethodGet) {
		return
	}
	ss := s.htmlSession(w, r)
	if ss == nil {
		return
	}
	if hasAtt {
		s.attachment(w, ss, id, n)
	} else {
		s.messageHTML(w, ss, id)
	}
}

// parseID accepts a positive decimal number and nothing else.
func parseID(s string) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n > 0
}

// allow answers 405 unless the method is want; GET also admits HEAD.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || (want == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	if want == http.MethodGet {
		methodNotAllowed(w, "GET, HEAD")
	} else {
		methodNotAllowed(w, want)
	}
	return false
}

const sessionCookie = "sid"

func (s *Server) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.sessMu.RLock()
	ss := s.sessions[c.Value]
	s.sessMu.RUnlock()
	return ss
}

// htmlSession returns the request's session, or sends a browser to the login
// form and returns nil.
func (s *Server) htmlSession(w http.ResponseWriter, r *http.Request) *session {
	ss := s.session(r)
	if ss == nil {
		redirect(w, "/login")
	}
	return ss
}

// apiSession returns the request's session, or answers 401 and returns nil.
func (s *Server) apiSession(w http.ResponseWriter, r *http.Request) *session {
	ss := s.session(r)
	if ss == nil {
		writeJSON(w, http.StatusUnauthorized, errUnauthorized)
	}
	return ss
}

// maxFormBytes bounds login and compose bodies.
const maxFormBytes = 1 << 20

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeHTML(w, http.StatusBadRequest, badRequestPage)
		return
	}
	a := s.byLogin[r.PostFormValue("login")]
	if a == nil || !equalSecret(r.PostFormValue("password"), a.Password) {
		writeHTML(w, http.StatusUnauthorized, loginFailedPage)
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	now := time.Now().UTC()
	s.mu.Lock()
	prev := a.last
	a.last = loginRecord{at: now, ip: ip}
	s.mu.Unlock()

	ss := &session{id: s.newID(now), v: &viewer{acct: a, lastHTML: lastLoginHTML(prev)}}
	s.sessMu.Lock()
	s.sessions[ss.id] = ss
	a.sids = append(a.sids, ss.id)
	if len(a.sids) > maxSessionsPerUser {
		delete(s.sessions, a.sids[0])
		a.sids = append(a.sids[:0], a.sids[1:]...)
	}
	s.sessMu.Unlock()

	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: ss.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	redirect(w, "/inbox")
}

// logout ends the session if there is one; logging out twice is not an error.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if ss := s.session(r); ss != nil {
		a := ss.v.acct
		s.sessMu.Lock()
		delete(s.sessions, ss.id)
		for i, id := range a.sids {
			if id == ss.id {
				a.sids = append(a.sids[:i], a.sids[i+1:]...)
				break
			}
		}
		s.sessMu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	redirect(w, "/login")
}

// newSessionID returns 128 random bits in hex. The error of [rand.Read] is
// always nil: since Go 1.24 it ends the program rather than hand out
// predictable bytes.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// profile is the page of the 2008 incident: "Welcome back", the email, the
// last login and a mailbox summary.
func (s *Server) profile(w http.ResponseWriter, ss *session) {
	v := ss.v
	if s.bug == BugLastLogin {
		// The defect: "who is asking" is kept where every request can see it,
		// the page is rendered, and the page is filled in from that shared
		// place. A request that arrives during the rendering overwrites it.
		s.current.Store(v)
		busy(s.work)
		v = s.current.Load()
	} else {
		busy(s.work)
	}
	a := v.acct
	noteOwner(w, a.Login)
	s.mu.RLock()
	summary := a.mbox.summaryHTML
	s.mu.RUnlock()

	b := make([]byte, 0, len(pageHead)+len(pageNav)+len(pageFoot)+512+len(summary))
	b = appendHead(b, "Profile")
	b = append(b, "<h1>Welcome back, "...)
	b = append(b, a.nameHTML...)
	b = append(b, "</h1>\n<p class=\"email\">"...)
	b = append(b, a.emailHTML...)
	b = append(b, "</p>\n<p class=\"last-login\">"...)
	b = append(b, v.lastHTML...)
	b = append(b, "</p>\n"...)
	b = append(b, summary...)
	b = append(b, pageFoot...)
	writeHTML(w, http.StatusOK, b)
}

// equalSecret compares in time that does not depend on where the inputs
// first differ.
func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
