package harness_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// webmailSpec loads the committed webmail spec and points it at url.
func webmailSpec(t *testing.T) *spec.Spec {
	t.Helper()
	s, err := spec.Load("../targets/webmail/webmail.yaml")
	require.NoError(t, err)
	return s
}

func serveWebmail(t *testing.T, bug webmail.Bug, work time.Duration) string {
	t.Helper()
	srv, err := webmail.New(webmail.Options{Bug: bug, Users: 8, Work: work, Seed: 1})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// collect runs the harness and returns every record it streamed.
func collect(t *testing.T, ctx context.Context, s *spec.Spec, opts harness.Options) (*harness.Outcome, []harness.Record) {
	t.Helper()
	var recs []harness.Record
	out, err := harness.Run(ctx, s, opts, func(r harness.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	require.Equal(t, harness.RecordHeader, recs[0].Type, "a stream opens with its header")
	require.Equal(t, harness.RecordVerdict, recs[len(recs)-1].Type, "a stream closes with its verdict")
	return out, recs
}

func findings(recs []harness.Record) []harness.Finding {
	var fs []harness.Finding
	for _, r := range recs {
		if r.Finding != nil {
			fs = append(fs, *r.Finding)
		}
	}
	return fs
}

func TestLastLoginLeakIsFound(t *testing.T) {
	url := serveWebmail(t, webmail.BugLastLogin, webmail.DefaultWork)
	out, recs := collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: url, MaxRequests: 20000, Duration: time.Minute, StopOnFirst: true, Seed: 7})
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	fs := findings(recs)
	require.NotEmpty(t, fs)
	for _, f := range fs {
		assert.NotEqual(t, f.Viewer, f.Owner)
		assert.Equal(t, "profile", f.Request, "only the profile page has the last-login bug")
		assert.Equal(t, "profile", f.Data)
		assert.Positive(t, f.Burst, "the sequential baseline must not leak")
		assert.NotEmpty(t, f.Excerpt)
	}
}

func TestFixedWebmailIsIsolated(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, webmail.DefaultWork)
	out, recs := collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: url, MaxRequests: 3000, Duration: time.Minute, Seed: 7})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	require.Empty(t, findings(recs))
	require.GreaterOrEqual(t, out.Requests, 3000)
	requests := map[string]bool{}
	for _, r := range recs {
		if r.Burst != nil {
			assert.Len(t, r.Burst.Users, 8)
			assert.GreaterOrEqual(t, r.Burst.ReleaseSkew, time.Duration(0))
		}
	}
	_, recs = collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: url, MaxRequests: 400, Duration: time.Minute, Seed: 7, Trace: true})
	for _, r := range recs {
		if x := r.Exchange; x != nil && x.Burst > 0 {
			requests[x.Request] = true
			assert.NotEmpty(t, x.Conn)
			assert.False(t, x.Sent.IsZero())
			assert.False(t, x.Done.Before(x.Sent))
			assert.Empty(t, x.Err)
		}
	}
	for _, name := range []string{"profile", "inbox", "message", "attachment"} {
		assert.True(t, requests[name], "bursts should exercise %s, extracted ids included", name)
	}
}

func TestEvidenceNeverCarriesSecrets(t *testing.T) {
	url := serveWebmail(t, webmail.BugLastLogin, webmail.DefaultWork)
	s := webmailSpec(t)
	_, recs := collect(t, context.Background(), s,
		harness.Options{BaseURL: url, MaxRequests: 20000, Duration: time.Minute, StopOnFirst: true, Trace: true})
	raw, err := json.Marshal(recs)
	require.NoError(t, err)
	for _, u := range s.Resolved {
		assert.NotContains(t, string(raw), u.Password)
	}
	assert.NotContains(t, string(raw), "sid=")
}

func TestUnreachableTargetIsInconclusive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	out, _ := collect(t, context.Background(), webmailSpec(t),
		harness.Options{BaseURL: "http://" + addr, MaxRequests: 100})
	require.Equal(t, harness.Inconclusive, out.Verdict)
	assert.Contains(t, out.Reason, "cannot reach the target")
	assert.Equal(t, 3, out.Verdict.ExitCode())
}

func TestFailedLoginNamesTheUser(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	s := webmailSpec(t)
	s.Resolved[2].Password = "wrong"
	out, _ := collect(t, context.Background(), s, harness.Options{BaseURL: url, MaxRequests: 100})
	require.Equal(t, harness.Inconclusive, out.Verdict)
	require.Len(t, out.LoginFailures, 1)
	assert.Contains(t, out.LoginFailures[0], s.Resolved[2].Login)
	assert.Contains(t, out.Reason, s.Resolved[2].Login)
}

// hangingTarget logs users in and takes their seeds, but never answers a read
// until the test ends.
func hangingTarget(t *testing.T) string {
	stop := make(chan struct{})
	var once sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s-" + r.FormValue("login")})
			w.WriteHeader(http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			return // seeds succeed; every read hangs
		}
		<-stop
	}))
	t.Cleanup(func() { once.Do(func() { close(stop) }); ts.Close() })
	return ts.URL
}

func TestHangingTargetIsInconclusiveAndBounded(t *testing.T) {
	s := webmailSpec(t)
	s.Limits.Timeout = 50 * time.Millisecond
	out, _ := collect(t, context.Background(), s, harness.Options{BaseURL: hangingTarget(t), MaxRequests: 1000})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.Positive(t, out.Errors, out.Reason)
}

// garbageTarget answers every connection with bytes that are not HTTP.
func garbageTarget(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("\x00\xffHTTP/9 what\r\n\r\n\x01garbage"))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

func TestGarbageTargetIsInconclusive(t *testing.T) {
	out, _ := collect(t, context.Background(), webmailSpec(t), harness.Options{BaseURL: garbageTarget(t), MaxRequests: 100})
	require.Equal(t, harness.Inconclusive, out.Verdict)
	assert.NotEmpty(t, out.Reason)
}

func TestCancelKeepsFindings(t *testing.T) {
	url := serveWebmail(t, webmail.BugLastLogin, webmail.DefaultWork)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var recs []harness.Record
	out, err := harness.Run(ctx, webmailSpec(t), harness.Options{BaseURL: url, Duration: time.Minute, MaxRequests: 1_000_000},
		func(r harness.Record) error {
			recs = append(recs, r)
			if r.Finding != nil {
				cancel() // as Ctrl-C would, the moment a leak is seen
			}
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, harness.Leak, out.Verdict, "a leak found before the cut still stands")
	assert.True(t, out.CutShort)
	assert.NotEmpty(t, findings(recs))
	assert.Equal(t, harness.RecordVerdict, recs[len(recs)-1].Type)
}

func TestCancelWithoutFindingsIsInconclusive(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bursts := 0
	out, err := harness.Run(ctx, webmailSpec(t), harness.Options{BaseURL: url, Duration: time.Minute, MaxRequests: 1_000_000},
		func(r harness.Record) error {
			if r.Burst != nil {
				if bursts++; bursts == 3 {
					cancel()
				}
			}
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, harness.Inconclusive, out.Verdict)
	assert.True(t, out.CutShort)
	assert.Contains(t, out.Reason, "cut short")
}

func TestOptionsAreChecked(t *testing.T) {
	s := webmailSpec(t)
	for name, o := range map[string]harness.Options{
		"no bound":      {},
		"negative":      {Duration: -time.Second},
		"unknown sync":  {MaxRequests: 1, Sync: "carrier-pigeon"},
		"burst too big": {MaxRequests: 1, BurstSize: 99},
		"bad url":       {MaxRequests: 1, BaseURL: "ftp://x"},
	} {
		_, err := harness.Run(context.Background(), s, o, nil)
		assert.ErrorIs(t, err, harness.ErrOptions, name)
	}
}

// tokenTarget has a JSON login that returns a token, read back from a header
// of the spec's choosing, and a page that echoes the caller's own name.
func tokenTarget(t *testing.T) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/login":
			var in struct{ User, Pass string }
			if json.NewDecoder(r.Body).Decode(&in) != nil || in.Pass != "secret-"+in.User {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"token": "tok-" + in.User + "-0123456789"})
		case "/api/me":
			tok := r.Header.Get("X-Session")
			if !strings.HasPrefix(tok, "tok-") {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			user := strings.TrimSuffix(strings.TrimPrefix(tok, "tok-"), "-0123456789")
			_ = json.NewEncoder(w).Encode(map[string]string{"name": user, "note": "private-notes-of-" + user})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestTokenLoginWithCustomHeader(t *testing.T) {
	url := tokenTarget(t)
	s, err := spec.Parse("token.yaml", []byte(`
base_url: `+url+`
users:
  list:
    - {login: alice, password: secret-alice, email: alice@example.test}
    - {login: bob, password: secret-bob, email: bob@example.test}
login:
  type: json
  path: /api/login
  body: '{"user":"{{login}}","pass":"{{password}}"}'
  session: token
  token: {json: "$.token"}
  auth_header: "X-Session: {{token}}"
requests:
  - {name: me, path: /api/me}
`))
	require.NoError(t, err)
	out, _ := collect(t, context.Background(), s, harness.Options{MaxRequests: 200})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
}

// basicTarget checks HTTP Basic credentials on every request and lists the
// caller's notes as HTML, with links whose ids a regexp extracts.
func basicTarget(t *testing.T) string {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || pass != "pw-"+user {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/notes":
			_, _ = w.Write([]byte(`<a href="/notes/17">one</a> <a href="/notes/42">two</a>`))
		case strings.HasPrefix(r.URL.Path, "/notes/"):
			_, _ = w.Write([]byte("note " + strings.TrimPrefix(r.URL.Path, "/notes/") + " of " + user + ": secret plans of " + user))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestBasicAuthWithRegexpExtraction(t *testing.T) {
	url := basicTarget(t)
	s, err := spec.Parse("basic.yaml", []byte(`
base_url: `+url+`
users:
  list:
    - {login: carol, password: pw-carol}
    - {login: dave, password: pw-dave}
    - {login: erin, password: pw-erin}
login: {type: basic}
requests:
  - {name: notes, path: /notes, extract: [{var: note, regexp: 'href="/notes/(\d+)"'}]}
  - {name: note, path: "/notes/{{note}}", weight: 3}
`))
	require.NoError(t, err)
	out, recs := collect(t, context.Background(), s, harness.Options{MaxRequests: 300, Trace: true})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	opened := 0
	for _, r := range recs {
		if x := r.Exchange; x != nil && x.Request == "note" {
			opened++
			assert.Regexp(t, `^/notes/(17|42)$`, x.Path)
		}
	}
	assert.Positive(t, opened, "the extracted ids were used")

	s.Resolved[1].Password = "wrong"
	out, _ = collect(t, context.Background(), s, harness.Options{MaxRequests: 50})
	require.Equal(t, harness.Inconclusive, out.Verdict, "rejected Basic credentials must not pass as isolation")
	require.Len(t, out.LoginFailures, 1)
	assert.Contains(t, out.LoginFailures[0], "user dave: credentials rejected")
}

// A budget that setup alone spends must not pass as isolation: no two
// requests ever ran together.
func TestNoBurstIsInconclusive(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	out, _ := collect(t, context.Background(), webmailSpec(t), harness.Options{BaseURL: url, Duration: time.Nanosecond})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.Zero(t, out.Bursts)
	assert.Contains(t, out.Reason, "no burst was fired")
}

// Setup requests do not count against MaxRequests: the budget is for bursts.
func TestRequestBudgetCountsBurstsOnly(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	out, _ := collect(t, context.Background(), webmailSpec(t), harness.Options{BaseURL: url, MaxRequests: 40})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	assert.Equal(t, 5, out.Bursts, "40 requests in bursts of 8, after a baseline of its own")
}

// When no two users can send anything, drawing bursts would spin forever.
func TestNothingReadyStopsTheRun(t *testing.T) {
	url := basicTarget(t)
	s, err := spec.Parse("stuck.yaml", []byte(`
base_url: `+url+`
users:
  list:
    - {login: carol, password: pw-carol}
    - {login: dave, password: pw-dave}
login: {type: basic}
requests:
  - {name: notes, path: /notes, extract: [{var: never, regexp: 'no such (thing)'}]}
  - {name: note, path: "/notes/{{never}}", weight: 3}
`))
	require.NoError(t, err)
	s.Requests = s.Requests[1:] // only the request that waits for a value
	out, _ := collect(t, context.Background(), s, harness.Options{MaxRequests: 1000})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.Contains(t, out.Reason, "no two users had a request ready")
}

// Addresses are case-insensitive: a page that shows another user's address
// lower-cased still shows it.
func TestLowerCasedEmailIsFound(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		other := map[string]string{"u-carol": "dave", "u-dave": "carol"}[user]
		_, _ = w.Write([]byte("signed in; last message from " + other + "@example.test"))
	}))
	t.Cleanup(ts.Close)
	s, err := spec.Parse("case.yaml", []byte(`
base_url: `+ts.URL+`
users:
  list:
    - {login: u-carol, password: pw-carol, email: Carol@Example.TEST}
    - {login: u-dave, password: pw-dave, email: Dave@Example.TEST}
login: {type: basic}
learn: false
requests:
  - {name: me, path: /me}
`))
	require.NoError(t, err)
	out, recs := collect(t, context.Background(), s, harness.Options{MaxRequests: 20})
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	fs := findings(recs)
	require.NotEmpty(t, fs)
	assert.Equal(t, "email", fs[0].Label)
}

// A balancer that names the backend in a response header: with the spec's
// backend_header, every exchange and every finding records it as sent; without
// it, none does.
func TestBackendHeaderIsRecorded(t *testing.T) {
	srv, err := webmail.New(webmail.Options{Bug: webmail.BugLastLogin, Users: 8, Work: webmail.DefaultWork, Seed: 1})
	require.NoError(t, err)
	const upstream = "127.0.0.9:8081, 127.0.0.7:8082"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-Addr", upstream)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	for _, header := range []string{"x-upstream-addr", ""} {
		s := webmailSpec(t)
		s.BackendHeader = header
		out, recs := collect(t, context.Background(), s,
			harness.Options{BaseURL: ts.URL, MaxRequests: 20000, Duration: time.Minute, StopOnFirst: true, Seed: 7, Trace: true})
		require.Equal(t, harness.Leak, out.Verdict, out.Reason)
		want := upstream
		if header == "" {
			want = ""
		}
		n := 0
		for _, r := range recs {
			if r.Exchange != nil && r.Exchange.Status > 0 {
				n++
				require.Equal(t, want, r.Exchange.Backend, "exchange %d/%d", r.Exchange.Burst, r.Exchange.Step)
			}
		}
		assert.Positive(t, n)
		fs := findings(recs)
		require.NotEmpty(t, fs)
		for _, f := range fs {
			assert.Equal(t, want, f.Backend)
		}
	}
}
