package webmail

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBug(t *testing.T) {
	for _, b := range Bugs() {
		got, err := ParseBug(string(b))
		require.NoError(t, err)
		assert.Equal(t, b, got)
		assert.NotEqual(t, "unknown bug", b.Description())
	}
	for _, bad := range []string{"", "LastLogin", "bogus"} {
		_, err := ParseBug(bad)
		assert.Error(t, err, bad)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"negative work":  {Work: -time.Nanosecond},
		"too much work":  {Work: MaxWork + 1},
		"negative users": {Users: -1},
		"too many users": {Users: MaxUsers + 1},
		"unknown bug":    {Bug: "cache"},
	} {
		_, err := New(o)
		assert.Error(t, err, name)
	}
}

func TestUsersAsDocumented(t *testing.T) {
	s, err := New(Options{})
	require.NoError(t, err)
	assert.Equal(t, BugNone, s.Bug())
	users := s.Users()
	require.Len(t, users, DefaultUsers)
	for i, a := range users {
		n := strconv.Itoa(i + 1)
		assert.Equal(t, "user"+n, a.Login)
		assert.Equal(t, "pw-user"+n, a.Password)
		assert.Equal(t, "user"+n+"@"+MailDomain, a.Email)
		assert.NotEmpty(t, a.Name)
	}
}

// A name must point at one user only, or a name found in a page would blame
// the wrong owner.
func TestNamesNeverContainEachOther(t *testing.T) {
	s, err := New(Options{Users: MaxUsers, Seed: 7})
	require.NoError(t, err)
	users := s.Users()
	for i, a := range users {
		for j, b := range users {
			if i != j && strings.Contains(b.Name, a.Name) {
				t.Fatalf("%q (user %d) contains %q (user %d)", b.Name, j+1, a.Name, i+1)
			}
		}
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	inbox := func(seed int64) (string, []Account) {
		e := newEnv(t, Options{Seed: seed})
		return e.get("/api/inbox", e.login(e.srv.Users()[2])).body, e.srv.Users()
	}
	a1, u1 := inbox(42)
	a2, u2 := inbox(42)
	b, _ := inbox(43)
	assert.Equal(t, u1, u2)
	assert.Equal(t, a1, a2)
	assert.NotEqual(t, a1, b)
}

// Seeded mail must name its owner and nobody else, so that any other user's
// identity in a page is a leak.
func TestSeededDataIsOwnedByOneUser(t *testing.T) {
	e := newEnv(t, Options{Seed: 1})
	users := e.srv.Users()
	for i, sid := range e.loginAll() {
		pages := []string{e.get("/inbox", sid).body, e.get("/api/inbox", sid).body, e.get("/profile", sid).body}
		for id := 1; id <= 5; id++ {
			pages = append(pages, e.get(fmt.Sprintf("/messages/%d", id), sid).body,
				e.get(fmt.Sprintf("/messages/%d/attachments/1", id), sid).body)
		}
		for _, p := range pages {
			assert.Equal(t, []int{i}, owners(users, p))
			for j, o := range users {
				if j != i {
					assert.NotContains(t, p, o.Email)
				}
			}
		}
	}
}

func TestLoginLogoutFlow(t *testing.T) {
	e := newEnv(t, Options{})
	u := e.srv.Users()[0]

	r := e.get("/login", "")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, `name="login"`)
	assert.Contains(t, r.body, `name="password"`)
	assert.NotContains(t, r.body, "invalid login")

	for _, bad := range []url.Values{
		{"login": {u.Login}, "password": {"wrong"}},
		{"login": {"nobody"}, "password": {u.Password}},
		{"login": {u.Login}},
		{"login": {e.srv.Users()[1].Login}, "password": {u.Password}},
	} {
		r := e.postForm("/login", "", bad)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.body, "invalid login")
		assert.Empty(t, r.cookie)
	}

	r = e.postForm("/login", "", url.Values{"login": {u.Login}, "password": {u.Password}})
	require.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/inbox", r.header.Get("Location"))
	setCookie := r.header.Get("Set-Cookie")
	assert.Regexp(t, `^sid=[0-9a-f]{32}; `, setCookie)
	assert.Contains(t, setCookie, "Path=/")
	assert.Contains(t, setCookie, "HttpOnly")
	sid := r.cookie[0].Value

	other := e.login(u)
	assert.NotEqual(t, sid, other, "each login is a new session")

	assert.Equal(t, http.StatusOK, e.get("/inbox", sid).status)
	assert.Equal(t, http.StatusOK, e.get("/api/inbox", other).status)

	r = e.must("POST", "/logout", sid, "", "")
	assert.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/login", r.header.Get("Location"))
	require.Len(t, r.cookie, 1)
	assert.Equal(t, "sid", r.cookie[0].Name)
	assert.Negative(t, r.cookie[0].MaxAge)

	assert.Equal(t, http.StatusUnauthorized, e.get("/api/inbox", sid).status, "the session is gone")
	assert.Equal(t, http.StatusOK, e.get("/api/inbox", other).status, "other sessions stay")
	assert.Equal(t, http.StatusSeeOther, e.must("POST", "/logout", sid, "", "").status, "logging out twice")
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, Options{})
	for _, sid := range []string{"", "00112233445566778899aabbccddeeff"} {
		for _, p := range []string{"/inbox", "/profile", "/compose", "/messages/1", "/messages/1/attachments/1"} {
			r := e.get(p, sid)
			assert.Equal(t, http.StatusSeeOther, r.status, p)
			assert.Equal(t, "/login", r.header.Get("Location"), p)
		}
		for _, p := range []string{"/api/inbox", "/api/messages/1"} {
			r := e.get(p, sid)
			assert.Equal(t, http.StatusUnauthorized, r.status, p)
			assert.JSONEq(t, `{"error":"unauthorized"}`, r.body)
		}
		r := e.must("POST", "/api/send", sid, "application/json", `{"to":"user1@webmail.test"}`)
		assert.Equal(t, http.StatusUnauthorized, r.status)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, Options{})
	sid := e.login(e.srv.Users()[0])
	for _, p := range []string{"/nope", "/api", "/api/messages/", "/messages/", "/messages/x", "/messages/0",
		"/messages/-1", "/messages/+1", "/messages/1/", "/messages/1/attachments/", "/messages/1/other/1",
		"/api/messages/1/attachments/1", "/inbox/"} {
		assert.Equal(t, http.StatusNotFound, e.get(p, sid).status, p)
	}
	r := e.get("/", sid)
	assert.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/inbox", r.header.Get("Location"))

	r = e.must("DELETE", "/inbox", sid, "", "")
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	assert.Equal(t, http.StatusMethodNotAllowed, e.get("/logout", sid).status)
	assert.Equal(t, http.StatusMethodNotAllowed, e.get("/api/send", sid).status)
	assert.Equal(t, http.StatusMethodNotAllowed, e.must("POST", "/api/inbox", sid, "", "").status)

	r = e.must("HEAD", "/profile", sid, "", "")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Empty(t, r.body)
}

type inboxDoc struct {
	User     string `json:"user"`
	Messages []struct {
		ID          int    `json:"id"`
		From        string `json:"from"`
		Subject     string `json:"subject"`
		Snippet     string `json:"snippet"`
		Attachments int    `json:"attachments"`
	} `json:"messages"`
}

func (e *env) inbox(sid string) inboxDoc {
	e.t.Helper()
	r := e.get("/api/inbox", sid)
	require.Equal(e.t, http.StatusOK, r.status)
	require.Equal(e.t, "application/json", r.header.Get("Content-Type"))
	var d inboxDoc
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &d), r.body)
	return d
}

func TestInbox(t *testing.T) {
	e := newEnv(t, Options{})
	u := e.srv.Users()[2]
	sid := e.login(u)

	d := e.inbox(sid)
	assert.Equal(t, u.Login, d.User)
	require.Len(t, d.Messages, 5)
	for i, m := range d.Messages {
		assert.Equal(t, 5-i, m.ID, "newest first, ids count per user from 1")
		assert.True(t, strings.HasSuffix(m.From, "@"+MailDomain), m.From)
		assert.NotContains(t, m.From, "user")
		assert.NotEmpty(t, m.Subject)
		assert.NotEmpty(t, m.Snippet)
		assert.LessOrEqual(t, len([]rune(m.Snippet)), 81)
		assert.Positive(t, m.Attachments)
	}

	r := e.get("/inbox", sid)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Contains(t, r.body, u.Name)
	assert.Contains(t, r.body, u.Email)
	for _, m := range d.Messages {
		assert.Contains(t, r.body, fmt.Sprintf(`href="/messages/%d"`, m.ID))
	}
}

type messageDoc struct {
	ID          int    `json:"id"`
	From        string `json:"from"`
	To          string `json:"to"`
	Subject     string `json:"subject"`
	Date        string `json:"date"`
	Body        string `json:"body"`
	Attachments []struct {
		N           int    `json:"n"`
		Name        string `json:"name"`
		ContentType string `json:"content_type"`
		Size        int    `json:"size"`
	} `json:"attachments"`
}

func (e *env) message(sid string, id int) messageDoc {
	e.t.Helper()
	r := e.get(fmt.Sprintf("/api/messages/%d", id), sid)
	require.Equal(e.t, http.StatusOK, r.status, r.body)
	var d messageDoc
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &d), r.body)
	return d
}

func TestMessage(t *testing.T) {
	e := newEnv(t, Options{})
	u := e.srv.Users()[0]
	sid := e.login(u)

	m := e.message(sid, 1)
	assert.Equal(t, 1, m.ID)
	assert.Equal(t, u.Email, m.To)
	assert.Contains(t, m.Body, u.Name)
	_, err := time.Parse(time.RFC3339, m.Date)
	assert.NoError(t, err)
	require.NotEmpty(t, m.Attachments)
	assert.Equal(t, 1, m.Attachments[0].N)

	r := e.get("/messages/1", sid)
	assert.Equal(t, http.StatusOK, r.status)
	// The full body, escaped the way the page shows it, lines and all.
	assert.Contains(t, r.body, escape(m.Body))
	assert.Contains(t, r.body, escape(m.Subject))
	assert.Contains(t, r.body, `href="/messages/1/attachments/1"`)

	for _, p := range []string{"/messages/6", "/messages/99999999999"} {
		assert.Equal(t, http.StatusNotFound, e.get(p, sid).status, p)
	}
	r = e.get("/api/messages/6", sid)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.JSONEq(t, `{"error":"not found"}`, r.body)
}

// Ids count per user, so every user has a message 3; asking for it must give
// each user their own.
func TestMessageIDsArePerUser(t *testing.T) {
	e := newEnv(t, Options{})
	users := e.srv.Users()
	sids := e.loginAll()
	seen := map[string]bool{}
	for i, sid := range sids {
		m := e.message(sid, 3)
		assert.Equal(t, users[i].Email, m.To)
		assert.Equal(t, []int{i}, owners(users, m.Body))
		html := e.get("/messages/3", sid).body
		assert.Equal(t, []int{i}, owners(users, html))
		assert.False(t, seen[m.Body], "two users got the same message 3")
		seen[m.Body] = true
	}
}

func TestAttachments(t *testing.T) {
	e := newEnv(t, Options{})
	users := e.srv.Users()
	sids := e.loginAll()
	for i, sid := range sids {
		m := e.message(sid, 1)
		r := e.get("/messages/1/attachments/1", sid)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, m.Attachments[0].ContentType, r.header.Get("Content-Type"))
		assert.Equal(t, fmt.Sprintf(`attachment; filename=%s`, m.Attachments[0].Name), r.header.Get("Content-Disposition"))
		assert.Len(t, r.body, m.Attachments[0].Size)
		assert.Contains(t, r.body, users[i].Email)
		assert.Equal(t, []int{i}, owners(users, r.body))
	}
	m := e.message(sids[0], 3)
	require.Len(t, m.Attachments, 2, "the project mail has notes and a budget")
	assert.Equal(t, http.StatusOK, e.get("/messages/3/attachments/2", sids[0]).status)
	assert.Equal(t, http.StatusNotFound, e.get("/messages/3/attachments/3", sids[0]).status)
	assert.Equal(t, http.StatusNotFound, e.get("/messages/1/attachments/0", sids[0]).status)
	assert.Equal(t, http.StatusNotFound, e.get("/messages/9/attachments/1", sids[0]).status)
}

func TestComposeDelivers(t *testing.T) {
	e := newEnv(t, Options{})
	users := e.srv.Users()
	alice, bob := e.login(users[0]), e.login(users[1])

	assert.Equal(t, http.StatusOK, e.get("/compose", alice).status)
	r := e.postForm("/compose", alice, url.Values{
		"to": {users[1].Email}, "subject": {"<b>lunch</b>\r\nBcc: x"}, "body": {"at noon? <script>x</script>"},
	})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, "/inbox", r.header.Get("Location"))

	assert.Len(t, e.inbox(alice).Messages, 5, "the sender's mailbox is unchanged")
	d := e.inbox(bob)
	require.Len(t, d.Messages, 6)
	got := d.Messages[0]
	assert.Equal(t, 6, got.ID)
	assert.Equal(t, users[0].Email, got.From)
	assert.Equal(t, "<b>lunch</b> Bcc: x", got.Subject, "a subject is one line")
	assert.Equal(t, "at noon? <script>x</script>", e.message(bob, 6).Body)

	page := e.get("/inbox", bob).body
	assert.Contains(t, page, "&lt;b&gt;lunch&lt;/b&gt;")
	assert.NotContains(t, page, "<b>lunch")
	view := e.get("/messages/6", bob).body
	assert.Contains(t, view, "&lt;script&gt;x&lt;/script&gt;")
	assert.NotContains(t, view, "<script>")
	assert.Contains(t, e.get("/profile", bob).body, "&lt;b&gt;lunch&lt;/b&gt;")

	r = e.postForm("/compose", alice, url.Values{"to": {"nobody@" + MailDomain}, "subject": {"x"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "unknown recipient")
	r = e.postForm("/compose", alice, url.Values{"to": {users[1].Email}, "body": {strings.Repeat("x", maxBodyBytes+1)}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Len(t, e.inbox(bob).Messages, 6)
}

func TestAPISend(t *testing.T) {
	e := newEnv(t, Options{})
	u := e.srv.Users()[4]
	sid := e.login(u)
	const canary = "CT-0123456789abcdef"

	body := fmt.Sprintf(`{"to":%q,"subject":"note","body":%q}`, u.Email, canary)
	r := e.must("POST", "/api/send", sid, "application/json", body)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"sent":true}`, r.body)

	d := e.inbox(sid)
	require.Len(t, d.Messages, 6)
	assert.Equal(t, "note", d.Messages[0].Subject)
	assert.Equal(t, canary, d.Messages[0].Snippet)
	assert.Equal(t, canary, e.message(sid, 6).Body)
	assert.Contains(t, e.get("/profile", sid).body, "6 messages")

	r = e.must("POST", "/api/send", sid, "application/json", `{"to":`)
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = e.must("POST", "/api/send", sid, "application/json", `{"to":"ghost@webmail.test","body":"x"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.JSONEq(t, `{"error":"unknown recipient"}`, r.body)
	assert.Len(t, e.inbox(sid).Messages, 6)
}

func TestMailboxIsBounded(t *testing.T) {
	s, err := New(Options{Users: 1})
	require.NoError(t, err)
	a := s.accounts[0]
	for i := range maxMailbox + 10 {
		s.deliver(a, draft{from: "x@" + MailDomain, subject: strconv.Itoa(i), date: time.Now()})
	}
	require.Len(t, a.mbox.msgs, maxMailbox)
	assert.Nil(t, a.mbox.find(1), "the oldest are expunged")
	assert.NotNil(t, a.mbox.find(maxMailbox+15))
}

var lastLoginRE = regexp.MustCompile(`Last login: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC) from ([0-9a-f.:]+)`)

func TestProfile(t *testing.T) {
	e := newEnv(t, Options{Work: time.Microsecond})
	u := e.srv.Users()[1]
	sid := e.login(u)
	d := e.inbox(sid)

	r := e.get("/profile", sid)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, "Welcome back, "+u.Name)
	assert.Contains(t, r.body, u.Email)
	assert.Contains(t, r.body, "5 messages")
	for i, m := range d.Messages {
		if i < 3 {
			assert.Contains(t, r.body, "<li>"+escape(m.Subject)+" <small>"+escape(m.Snippet)+"</small></li>")
		} else {
			assert.NotContains(t, r.body, escape(m.Subject))
		}
	}
	// Before any login here, the last login is the seeded one, which the
	// security mail (id 4) reported.
	got := lastLoginRE.FindStringSubmatch(r.body)
	require.NotNil(t, got, r.body)
	assert.Equal(t, "New sign-in from "+got[2], e.message(sid, 4).Subject)

	again := e.login(u)
	got = lastLoginRE.FindStringSubmatch(e.get("/profile", again).body)
	require.NotNil(t, got)
	assert.Equal(t, "127.0.0.1", got[2], "the previous login was the test's own")
	assert.Contains(t, e.get("/profile", sid).body, "New sign-in", "an older session keeps its own last login")
}

func TestReportArrival(t *testing.T) {
	on := newEnv(t, Options{ReportArrival: true})
	sid := on.login(on.srv.Users()[0])
	for _, r := range []reply{on.get("/profile", sid), on.get("/nope", sid), on.get("/api/inbox", ""),
		on.get("/inbox", ""), on.postForm("/login", "", url.Values{"login": {"x"}})} {
		v := r.header.Get("X-Arrival-Ns")
		require.NotEmpty(t, v, r.status)
		ns, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		assert.Positive(t, ns)
	}
	off := newEnv(t, Options{})
	assert.Empty(t, off.get("/profile", off.login(off.srv.Users()[0])).header.Values("X-Arrival-Ns"))
}

// burstProfiles has every user ask for /profile at once, released together,
// round after round, until stop says so or the request bound is spent. It
// returns the number of requests made.
func burstProfiles(t *testing.T, e *env, sids []string, maxRequests int, stop func(viewer int, page string) bool) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a bound, not an assertion
	n := 0
	for n < maxRequests && time.Now().Before(deadline) {
		pages := make([]string, len(sids))
		errs := make([]error, len(sids))
		release := make(chan struct{})
		var ready, done sync.WaitGroup
		for i, sid := range sids {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-release
				r, err := e.do("GET", "/profile", sid, "", "")
				if err == nil && r.status != http.StatusOK {
					err = fmt.Errorf("status %d", r.status)
				}
				pages[i], errs[i] = r.body, err
			})
		}
		ready.Wait()
		close(release)
		done.Wait()
		n += len(sids)
		for i := range sids {
			require.NoError(t, errs[i])
			if stop(i, pages[i]) {
				return n
			}
		}
	}
	return n
}

func TestProfileIsolatedUnderConcurrency(t *testing.T) {
	e := newEnv(t, Options{Bug: BugNone, Work: DefaultWork})
	users := e.srv.Users()
	sids := e.loginAll()
	var wrong []string
	n := burstProfiles(t, e, sids, 2000, func(i int, page string) bool {
		if o := owners(users, page); len(o) != 1 || o[0] != i {
			wrong = append(wrong, fmt.Sprintf("%s saw %v", users[i].Login, o))
		}
		return false
	})
	assert.Equal(t, 2000, n)
	assert.Empty(t, wrong)
}

func TestLastLoginBugLeaks(t *testing.T) {
	e := newEnv(t, Options{Bug: BugLastLogin, Work: DefaultWork})
	users := e.srv.Users()
	sids := e.loginAll()
	var viewer, owner = -1, -1
	var leaked string
	n := burstProfiles(t, e, sids, 20000, func(i int, page string) bool {
		o := owners(users, page)
		require.Len(t, o, 1, "a page is rendered for one user, right or wrong")
		if o[0] != i {
			viewer, owner, leaked = i, o[0], page
			return true
		}
		return false
	})
	require.NotEqual(t, -1, viewer, "no leak in %d requests", n)
	t.Logf("%s saw %s's profile after %d requests", users[viewer].Login, users[owner].Login, n)
	// The whole page is the other user's, as in 2008: name, email and mail.
	assert.Contains(t, leaked, "Welcome back, "+users[owner].Name)
	assert.Contains(t, leaked, users[owner].Email)
	assert.NotContains(t, leaked, users[viewer].Email)
}

// Every mode must be free of data races, whatever the mix of requests: run a
// bounded mix of reads, writes, logins and logouts from all users at once.
func TestRaceFreeInEveryMode(t *testing.T) {
	for _, bug := range Bugs() {
		t.Run(string(bug), func(t *testing.T) {
			e := newEnv(t, Options{Bug: bug, Work: time.Microsecond, ReportArrival: true})
			users := e.srv.Users()
			sids := e.loginAll()
			errs := make([]error, len(users))
			var wg sync.WaitGroup
			for i, u := range users {
				wg.Go(func() {
					sid := sids[i]
					for k := range 30 {
						var r reply
						var err error
						switch k % 6 {
						case 0:
							r, err = e.do("GET", "/profile", sid, "", "")
						case 1:
							r, err = e.do("GET", "/api/inbox", sid, "", "")
						case 2:
							r, err = e.do("GET", "/messages/2", sid, "", "")
						case 3:
							r, err = e.do("POST", "/api/send", sid, "application/json",
								fmt.Sprintf(`{"to":%q,"subject":"s%d","body":"b"}`, users[(i+1)%len(users)].Email, k))
						case 4:
							r, err = e.do("GET", "/messages/1/attachments/1", sid, "", "")
						case 5:
							if _, err = e.do("POST", "/logout", sid, "", ""); err == nil {
								r, err = e.do("POST", "/login", "", "application/x-www-form-urlencoded",
									url.Values{"login": {u.Login}, "password": {u.Password}}.Encode())
								for _, c := range r.cookie {
									sid = c.Value
								}
								r.status = http.StatusOK
							}
						}
						if err == nil && r.status != http.StatusOK {
							err = fmt.Errorf("request %d: status %d: %s", k, r.status, r.body)
						}
						if err != nil {
							errs[i] = err
							return
						}
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				assert.NoError(t, err)
			}
		})
	}
}
