package harness_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// basicSpec is a spec for a target with HTTP Basic auth (no login
// exchange, so a target that answers nothing useful still gets as far as
// the baselines) and the given YAML for seed and requests.
func basicSpec(t *testing.T, url, rest string) *spec.Spec {
	t.Helper()
	s, err := spec.Parse("basic.yaml", []byte(`
base_url: `+url+`
users:
  list:
    - {login: alice, password: pw-alice, email: alice@example.test}
    - {login: bob, password: pw-bob, email: bob@example.test}
    - {login: carol, password: pw-carol, email: carol@example.test}
login: {type: basic}
`+rest))
	require.NoError(t, err)
	return s
}

const profileRequests = `
requests:
  - {name: profile, path: /profile}
  - {name: inbox, path: /inbox}
`

// Targets that show nobody's data anywhere, the baseline included, are
// what an expired session or a wrong path look like: no verdict there may
// be Isolated.
func TestBlindTargetsAreInconclusive(t *testing.T) {
	hostile := map[string]http.HandlerFunc{
		"404 everywhere": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"empty 200":      func(w http.ResponseWriter, r *http.Request) {},
		"redirect to another host": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.2:9/login?next="+r.URL.Path, http.StatusFound)
		},
	}
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			ts := httptest.NewServer(h)
			defer ts.Close()
			out, recs := collect(t, context.Background(), basicSpec(t, ts.URL, profileRequests), harness.Options{MaxRequests: 600})
			require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
			assert.Contains(t, out.Reason, "blind")
			assert.Contains(t, out.Reason, "profile, inbox")
			require.NotNil(t, out.Coverage)
			assert.GreaterOrEqual(t, out.Coverage.Responses, 600)
			assert.Zero(t, out.Coverage.Seen)
			require.Len(t, out.Coverage.Requests, 2)
			for _, r := range out.Coverage.Requests {
				assert.True(t, r.Blind, r.Request)
				assert.Equal(t, 3, r.BaselineUsers, "every user's baseline got a reply")
				assert.Zero(t, r.BaselineSeen)
			}
			h := recs[0].Header
			require.Len(t, h.Coverage, 2, "the header says what the baseline showed")
			assert.True(t, h.Coverage[0].Blind)
		})
	}
}

// userPages answers each Basic-auth user with a page of their own: their
// login and address on /profile, a note on /inbox. After expireAfter
// requests of a user (0: never), it answers the login page instead, as a
// site whose session expired does.
func userPages(t *testing.T, expireAfter int64) string {
	var mu sync.Mutex
	seen := map[string]int64{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		mu.Lock()
		seen[user]++
		n := seen[user]
		mu.Unlock()
		if expireAfter > 0 && n > expireAfter {
			_, _ = w.Write([]byte("<html><form action=/login>Please log in</form></html>"))
			return
		}
		switch r.URL.Path {
		case "/profile":
			fmt.Fprintf(w, "<h1>%s</h1><p>%s@example.test</p>", user, user)
		case "/inbox":
			fmt.Fprintf(w, `{"owner":"%s@example.test","messages":[]}`, user)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestCoverageIsReportedPerRequest(t *testing.T) {
	out, _ := collect(t, context.Background(), basicSpec(t, userPages(t, 0), profileRequests+`
  - {name: health, path: /health}
`), harness.Options{MaxRequests: 300, Seed: 3})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	require.NotNil(t, out.Coverage)
	c := out.Coverage
	assert.Equal(t, 0.5, c.Min, "the default of limits.min_coverage")
	byName := map[string]harness.RequestCoverage{}
	for _, r := range c.Requests {
		byName[r.Request] = r
	}
	assert.True(t, byName["health"].Blind, "a 404 for everyone is blind")
	assert.False(t, byName["profile"].Blind)
	assert.Equal(t, 3, byName["profile"].BaselineSeen)
	assert.Equal(t, byName["profile"].Responses, byName["profile"].Seen)
	assert.Zero(t, byName["health"].Seen)
	assert.Equal(t, c.Responses, byName["profile"].Responses+byName["inbox"].Responses+byName["health"].Responses)
	assert.Contains(t, out.Reason, "blind request: health", "an Isolated verdict names the blind requests")
	assert.Contains(t, out.Reason, fmt.Sprintf("%d of %d responses", c.Seen, c.Responses))

	// Asking for more coverage than a third blind request leaves makes
	// the same run inconclusive.
	s := basicSpec(t, userPages(t, 0), profileRequests+`
  - {name: health, path: /health}
limits: {min_coverage: 0.9}
`)
	out, _ = collect(t, context.Background(), s, harness.Options{MaxRequests: 300, Seed: 3})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.Contains(t, out.Reason, "Isolated needs more than 90%")
}

// A session that expires after the baseline turns every page into the
// login page: the responses still carry no one else's data, but no longer
// the viewer's either.
func TestCoverageLostDuringTheRun(t *testing.T) {
	// Two fetches of two requests each for the baseline, then the login
	// page.
	out, _ := collect(t, context.Background(), basicSpec(t, userPages(t, 4), profileRequests), harness.Options{MaxRequests: 300})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	require.NotNil(t, out.Coverage)
	assert.Zero(t, out.Coverage.Seen)
	assert.Equal(t, out.Coverage.Responses, out.Coverage.Lost, "every response lost what its baseline had")
	assert.Contains(t, out.Reason, "lost their viewer's data after the baseline had it")
	for _, r := range out.Coverage.Requests {
		assert.False(t, r.Blind, "the baseline saw each user's data")
	}
	// A cache-bust parameter makes each burst's path new; it is still the
	// page the baseline had.
	out, _ = collect(t, context.Background(), basicSpec(t, userPages(t, 4), profileRequests), harness.Options{MaxRequests: 60, CacheBust: "cb"})
	require.NotNil(t, out.Coverage)
	assert.Equal(t, out.Coverage.Responses, out.Coverage.Lost)
}

// A request whose extracted id names another page than the baseline's (a
// message without an attachment) shows no data there, but lost none.
func TestAnotherPageIsNotLostCoverage(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		switch r.URL.Path {
		case "/list":
			_, _ = w.Write([]byte(`{"ids":[1,2]}`))
		case "/item/1":
			fmt.Fprintf(w, "item of %s@example.test", user)
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	out, _ := collect(t, context.Background(), basicSpec(t, ts.URL, `
requests:
  - {name: list, path: /list, extract: [{var: id, json: "$.ids[*]"}]}
  - {name: item, path: "/item/{{id}}", weight: 4}
`), harness.Options{MaxRequests: 600, Seed: 5})
	require.NotNil(t, out.Coverage)
	assert.Zero(t, out.Coverage.Lost, "item 2 is another page than item 1, not item 1 lost")
	assert.Positive(t, out.Coverage.Responses-out.Coverage.Seen, "item 2 and the list show no one's data")
}

// A body cut at max_body was not fully scanned: it is not coverage, and
// the verdict says why.
func TestCutBodiesAreNotFullyScanned(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	s := webmailSpec(t)
	s.Limits.MaxBody = 64
	out, _ := collect(t, context.Background(), s, harness.Options{BaseURL: url, MaxRequests: 200})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	require.NotNil(t, out.Coverage)
	assert.Positive(t, out.Coverage.Cut)
	assert.Contains(t, out.Reason, "cut at max_body and not fully scanned")
}

// records is a small multi-user app with per-record owner rules. Every
// record carries the id of the collection it belongs to, the same for all
// users: a schema id, not anyone's data.
type records struct {
	mu   sync.Mutex
	byID map[string][]string // user → titles
	// shared: every user lists every user's records, oldest first, ten
	// to a page.
	shared bool
	all    []string
}

const collectionID = "col7x9k2q"

func (a *records) add(user, title string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byID[user] = append(a.byID[user], title)
	a.all = append(a.all, title)
}

func (a *records) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, _, ok := r.BasicAuth()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	type rec struct {
		Collection string `json:"collection"`
		Title      string `json:"title"`
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/records":
		var in struct{ Title string }
		if json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a.add(user, in.Title)
		a.mu.Lock()
		n := len(a.all)
		a.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"id": fmt.Sprintf("r%d", n)})
	case r.URL.Path == "/records":
		a.mu.Lock()
		var list []rec
		if a.shared {
			for _, t := range a.all[:min(10, len(a.all))] {
				list = append(list, rec{collectionID, t})
			}
		} else {
			for _, t := range a.byID[user] {
				list = append(list, rec{collectionID, t})
			}
		}
		a.mu.Unlock()
		out := map[string]any{"records": list}
		if !a.shared {
			out["user"] = user
		}
		_ = json.NewEncoder(w).Encode(out)
	case strings.HasPrefix(r.URL.Path, "/records/r"):
		var n int
		_, _ = fmt.Sscanf(r.URL.Path, "/records/r%d", &n)
		a.mu.Lock()
		defer a.mu.Unlock()
		if n < 1 || n > len(a.all) {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(rec{collectionID, a.all[n-1]})
	default:
		http.NotFound(w, r)
	}
}

// A schema id that only one user's records showed at baseline time is
// learned as that user's marker. When another user creates a record, the
// id shows in that user's own list: the finding is confirmed against the
// viewer's own responses, dropped, and the marker unlearned.
func TestSharedSchemaIDIsNoLeak(t *testing.T) {
	app := &records{byID: map[string][]string{}}
	app.add("alice", "Quarterly plan Q3x7")
	ts := httptest.NewServer(app)
	defer ts.Close()
	s := basicSpec(t, ts.URL, `
requests:
  - {name: records, path: /records}
`)
	var header *harness.Header
	fx, err := harness.NewFixture(context.Background(), s, harness.FixtureOptions{}, func(r harness.Record) error {
		if r.Header != nil {
			header = r.Header
		}
		return nil
	})
	require.NoError(t, err)
	defer fx.Close()
	require.NotNil(t, header)
	var learned []string
	for _, m := range header.Learned {
		if m.Owner == "alice" {
			learned = append(learned, m.Value)
		}
	}
	require.Contains(t, learned, collectionID, "the schema id was learned as alice's: the header lists learned markers")

	app.add("bob", "Shopping list")
	plan := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "bob", Request: "records"}, {User: "carol", Request: "records"}}}}}
	var recs []harness.Record
	out, err := fx.Execute(context.Background(), plan, func(r harness.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, findings(recs), "a schema id in bob's own record is no leak")
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	require.Len(t, out.Unlearned, 1)
	u := out.Unlearned[0]
	assert.Equal(t, harness.Unlearned{Owner: "alice", Value: collectionID, Viewer: "bob",
		Why: "the viewer's own records, fetched again one at a time, carried it"}, u)

	// Unlearned for good: the next execution does not even need to check.
	out, err = fx.Execute(context.Background(), plan, nil)
	require.NoError(t, err)
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	assert.Empty(t, out.Unlearned)
	assert.Equal(t, 2, out.Requests, "no refetch: nothing rested on the marker any more")
}

// A finding on learned markers alone that the viewer's own responses do not
// carry when fetched again stands, and says how it was confirmed.
func TestLearnedLeakIsConfirmed(t *testing.T) {
	var leak, withEmail atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		code := map[string]string{"alice": "INV-4471a", "bob": "INV-9182b", "carol": "INV-3355c"}[user]
		if user == "bob" && leak.Swap(false) {
			code = "INV-4471a"
			if withEmail.Load() {
				code += " alice@example.test"
			}
		}
		fmt.Fprintf(w, `{"invoice":%q}`, code)
	}))
	defer ts.Close()
	s := basicSpec(t, ts.URL, `
requests:
  - {name: invoices, path: /invoices}
`)
	fx, err := harness.NewFixture(context.Background(), s, harness.FixtureOptions{}, nil)
	require.NoError(t, err)
	defer fx.Close()
	leak.Store(true)
	var recs []harness.Record
	out, err := fx.Execute(context.Background(), harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "bob", Request: "invoices"}}}}},
		func(r harness.Record) error {
			recs = append(recs, r)
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	fs := findings(recs)
	require.Len(t, fs, 1)
	assert.Equal(t, "alice", fs[0].Owner)
	assert.Contains(t, fs[0].Confirmed, "confirmed: bob's 1 reads, fetched again one at a time, and bob's writes did not carry it")
	assert.Empty(t, out.Unlearned)
	assert.Equal(t, 2, out.Requests, "the burst's request and the one fetched again")

	// With alice's address beside it, the finding needs no confirming.
	leak.Store(true)
	withEmail.Store(true)
	recs = nil
	out, err = fx.Execute(context.Background(), harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "bob", Request: "invoices"}}}}},
		func(r harness.Record) error {
			recs = append(recs, r)
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	fs = findings(recs)
	require.Len(t, fs, 1)
	assert.Equal(t, "identity", string(fs[0].Kind))
	assert.Empty(t, fs[0].Confirmed)
	assert.Equal(t, 1, out.Requests, "nothing fetched again")
}

// Every user lists every user's records, so nothing is unique to anyone and
// the seeded canaries sit on a second page no request reads: the request is
// blind, and the run says so instead of calling it isolated.
func TestEveryoneSeesEverythingIsBlind(t *testing.T) {
	app := &records{byID: map[string][]string{}, shared: true}
	for i := range 10 {
		app.add("admin", fmt.Sprintf("Welcome note %d", i))
	}
	ts := httptest.NewServer(app)
	defer ts.Close()
	s := basicSpec(t, ts.URL, `
seed:
  - name: plant
    method: POST
    path: /records
    headers: {Content-Type: application/json}
    body: '{"title":"{{canary}}"}'
    action: write
    extract: [{var: rec, json: "$.id"}]
requests:
  - {name: records, path: /records}
`)
	out, recs := collect(t, context.Background(), s, harness.Options{MaxRequests: 300})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.Contains(t, out.Reason, "blind request: records")
	h := recs[0].Header
	require.Len(t, h.Warnings, 3, "one warning per user whose canary never showed")
	assert.Contains(t, h.Warnings[0], "user alice: 1 of 1 seeded canary never appeared in the user's own baseline responses")
	assert.Empty(t, h.Learned)
}

// Seed extract is applied: a later request using the variable works.
func TestSeedExtractIsApplied(t *testing.T) {
	app := &records{byID: map[string][]string{}}
	ts := httptest.NewServer(app)
	defer ts.Close()
	s := basicSpec(t, ts.URL, `
seed:
  - name: plant
    method: POST
    path: /records
    headers: {Content-Type: application/json}
    body: '{"title":"{{canary}}"}'
    action: write
    extract: [{var: rec, json: "$.id"}]
requests:
  - {name: record, path: "/records/{{rec}}"}
`)
	out, recs := collect(t, context.Background(), s, harness.Options{MaxRequests: 90, Trace: true})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	opened := 0
	for _, r := range recs {
		if x := r.Exchange; x != nil && x.Request == "record" && x.Burst > 0 {
			opened++
			assert.Regexp(t, `^/records/r[123]$`, x.Path)
		}
	}
	assert.GreaterOrEqual(t, opened, 90)
	assert.Empty(t, recs[0].Header.Warnings, "each canary showed in its owner's list")
}
