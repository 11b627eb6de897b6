// Command gen writes the realistic result streams in reports/testdata that the
// golden tests render. Run it from the module root after changing the record
// shapes, then refresh the golden files:
//
//	go run ./reports/testdata/gen && go test ./reports -run TestGolden -update
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/reports"
)

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func header(spec, target, sync string, us []string) harness.Header {
	return harness.Header{
		Version: "v0.9.0", Spec: spec, SpecFile: "specs/" + spec + ".yaml", SpecHash: specHash(spec), BaseURL: target, Sync: sync, Users: us, Started: t0,
		Requests:    []harness.RequestInfo{{Name: "inbox", Data: "mail"}, {Name: "message", Data: "mail"}, {Name: "attachment", Data: "attachment"}, {Name: "profile", Data: "profile"}},
		Markers:     map[oracle.Kind]int{oracle.Canary: 16, oracle.Identity: 24, oracle.Learned: 37, oracle.Static: 8},
		MaxRequests: 384, BurstSize: 8,
	}
}

type fspec struct {
	burst, step     int
	viewer, owner   string
	req, data       string
	method, path    string
	kind            oracle.Kind
	label, marker   string
	where, enc, exc string
}

var paths = map[string]string{"inbox": "/api/inbox", "message": "/api/messages/1", "attachment": "/api/messages/1/attachments/0", "profile": "/api/profile"}

func main() {
	must(leak())
	must(isolated())
	must(inconclusive())
	must(incomplete())
	must(blind())
	must(fuzzed())
}

// fuzzed is the stream of fuzz's measuring runs of a minimal plan: each
// run's header, burst, findings and verdict, then the reproduction.
func fuzzed() error {
	h := header("webmail-lastlogin", "http://127.0.0.1:41875", "lastbyte", []string{"carol", "erin"})
	plan := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "carol", Request: "profile"}, {User: "erin", Request: "profile"}}}}}
	var recs []harness.Record
	const runs, leaked = 5, 2
	for i := range runs {
		hh := h
		hh.Started = t0.Add(time.Duration(i) * 40 * time.Millisecond)
		release := hh.Started.Add(9 * time.Millisecond)
		recs = append(recs, harness.Record{Type: harness.RecordHeader, Header: &hh})
		bs := harness.BurstSummary{Burst: 1, Steps: 2, Users: []string{"carol", "erin"}, Release: release, ReleaseSkew: 41 * time.Microsecond}
		out := harness.Outcome{Verdict: harness.Isolated, Reason: "no response carried another user's data in 2 requests", Requests: 2, Bursts: 1,
			Elapsed: 14 * time.Millisecond}
		if i%2 == 1 && bs.Findings < leaked {
			recs = append(recs, harness.Record{Type: harness.RecordFinding, Finding: &harness.Finding{
				Viewer: "carol", Owner: "erin", Data: "profile", Request: "profile", Method: "GET", Path: "/profile", Burst: 1, Step: 0,
				Conn:  "127.0.0.1:52211",
				Match: oracle.Match{Kind: oracle.Canary, Marker: "ctk8d2f0e9a1b", Where: "body", Excerpt: "<p>Last login: <b>ctk8d2f0e9a1b</b>"},
				Sent:  release, Done: release.Add(610 * time.Microsecond), Persistence: harness.Transient,
			}})
			bs.Findings = 1
			out.Verdict, out.Reason, out.Findings, out.Persistence = harness.Leak, "1 response carried another user's data", 1, harness.Transient
		}
		recs = append(recs, harness.Record{Type: harness.RecordBurst, Burst: &bs}, harness.Record{Type: harness.RecordVerdict, Outcome: &out})
	}
	lo, hi := 0.1176, 0.7693 // the Wilson 95% interval of 2 in 5
	recs = append(recs, harness.Record{Type: harness.RecordReproduction, Reproduction: &harness.Reproduction{
		Plan: plan, FoundSteps: 37, Reproduced: leaked, Runs: runs, Low: lo, High: hi, Sync: "lastbyte", Persistence: harness.Transient,
		PlanFile: "testdata/crosstalk/webmail-lastlogin-63.json",
		Command:  "crosstalk replay -plan testdata/crosstalk/webmail-lastlogin-63.json -url http://127.0.0.1:41875 -n 50",
	}})
	return write("fuzzed", recs)
}

// coverage is the coverage of a run of reqs requests, spread over the
// header's four requests, with lost and blind ones where asked.
func coverage(reqs int, lost map[string]int, blind map[string]bool) harness.Coverage {
	c := harness.Coverage{Min: 0.5}
	names := []string{"inbox", "message", "attachment", "profile"}
	for i, n := range names {
		r := harness.RequestCoverage{Request: n, BaselineUsers: 8, BaselineSeen: 8, Responses: reqs / 4}
		if i == 0 {
			r.Responses += reqs % 4
		}
		switch {
		case blind[n]:
			r.BaselineSeen, r.Blind = 0, true
		default:
			r.Lost = lost[n]
			r.Seen = r.Responses - r.Lost
		}
		c.Requests = append(c.Requests, r)
		c.Responses += r.Responses
		c.Seen += r.Seen
		c.Lost += r.Lost
	}
	return c
}

// baselineOnly keeps what a header says: the baseline's figures.
func baselineOnly(c harness.Coverage) []harness.RequestCoverage {
	var out []harness.RequestCoverage
	for _, r := range c.Requests {
		out = append(out, harness.RequestCoverage{Request: r.Request, BaselineUsers: r.BaselineUsers, BaselineSeen: r.BaselineSeen, Blind: r.Blind})
	}
	return out
}

// blind is a run against a target that answers 404 to everything: no
// request ever showed anyone's own data.
func blind() error {
	rng := rand.New(rand.NewPCG(9, 10))
	h := header("webmail-wrong-path", "http://127.0.0.1:41875", "barrier", users)
	h.Markers = map[oracle.Kind]int{oracle.Canary: 8, oracle.Identity: 24}
	h.Warnings = []string{"user alice: 1 of 1 seeded canary never appeared in the user's own baseline responses; no read request shows where the seed planted it"}
	body, reqs, errs := run(rng, users, 48, nil, false, nil, 0)
	cov := coverage(reqs, nil, map[string]bool{"inbox": true, "message": true, "attachment": true, "profile": true})
	h.Coverage = baselineOnly(cov)
	recs := append([]harness.Record{{Type: harness.RecordHeader, Header: &h}}, body...)
	recs = append(recs, harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{
		Verdict: harness.Inconclusive, Reason: "blind: " + cov.Summary() + ", and Isolated needs more than 50%",
		Requests: reqs, Errors: errs, Bursts: 48, Elapsed: 1650 * time.Millisecond, Coverage: &cov,
	}})
	return write("blind", recs)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func canary(u string) string {
	h := fnv.New32a()
	h.Write([]byte(u))
	return fmt.Sprintf("ctk_%08xq7m2", h.Sum32())
}

func findings() []fspec {
	mail := func(b, st int, v, o, req string) fspec {
		return fspec{b, st, v, o, req, "mail", "GET", paths[req], oracle.Canary, "subject canary", canary(o), "body", "gzip",
			fmt.Sprintf(`{"id":1,"from":"%s@example.test","subject":"Quarterly numbers %s","preview":"see the attached figures before Friday"}`, o, canary(o))}
	}
	att := func(b, st int, v, o string) fspec {
		return fspec{b, st, v, o, "attachment", "attachment", "GET", paths["attachment"], oracle.Static, "", "Payroll " + o + " 2025-02", "body", "gzip>base64",
			fmt.Sprintf("Content-Disposition: attachment; filename=\"payroll-%s.pdf\"\r\n\r\n%%PDF-1.7 Payroll %s 2025-02 net 4,210.00 EUR", o, o)}
	}
	prof := func(b, st int, v, o string) fspec {
		return fspec{b, st, v, o, "profile", "profile", "GET", paths["profile"], oracle.Identity, "email", o + "@example.test", "body", "json-escape",
			fmt.Sprintf(`{"login":"%s","email":"%s\u0040example.test","session":"[redacted]","last_login":"2025-03-14T09:26:54Z"}`, o, o)}
	}
	cookie := func(b, st int, v, o string) fspec {
		return fspec{b, st, v, o, "profile", "profile", "GET", paths["profile"], oracle.Identity, "session cookie", "[redacted]", "header:Set-Cookie", "",
			"session=[redacted]; Path=/; HttpOnly; SameSite=Lax"}
	}
	return []fspec{
		mail(3, 5, "carol", "alice", "inbox"),
		mail(7, 2, "dave", "bob", "message"),
		mail(7, 6, "carol", "alice", "inbox"),
		mail(12, 1, "erin", "frank", "message"),
		att(12, 4, "dave", "bob"),
		prof(15, 0, "heidi", "grace"),
		mail(19, 3, "carol", "alice", "inbox"),
		cookie(22, 7, "heidi", "grace"),
		mail(26, 2, "erin", "heidi", "inbox"),
		att(31, 5, "carol", "alice"),
		prof(31, 6, "dave", "erin"),
		mail(40, 0, "dave", "bob", "message"),
		mail(44, 3, "grace", "dave", "message"),
	}
}

func write(name string, recs []harness.Record) error {
	f, err := os.Create(filepath.Join("reports", "testdata", name+".jsonl"))
	if err != nil {
		return err
	}
	enc := reports.NewEncoder(f)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// run lays out bursts over the given users the way the fire stage reports
// them: exchanges for the first traceBursts bursts, the findings of each
// burst, then its summary.
func run(rng *rand.Rand, us []string, bursts int, fs []fspec, arrival bool, errorsAt map[int]int, traceBursts int) (recs []harness.Record, reqs, errs int) {
	byBurst := map[int][]fspec{}
	for _, f := range fs {
		byBurst[f.burst] = append(byBurst[f.burst], f)
	}
	for b := 0; b < bursts; b++ {
		release := t0.Add(200*time.Millisecond + time.Duration(b)*43*time.Millisecond)
		bs := harness.BurstSummary{Burst: b, Steps: len(us), Users: us, Release: release,
			ReleaseSkew: time.Duration(4000 + rng.IntN(60000) + rng.IntN(2)*rng.IntN(90000))}
		if arrival {
			bs.ArrivalSpread = time.Duration(18000 + rng.IntN(250000))
		}
		bs.Errors = errorsAt[b]
		errs += bs.Errors
		reqs += len(us)
		if b < traceBursts {
			for st, u := range us {
				sent := release.Add(time.Duration(st*900+rng.IntN(500)) * time.Nanosecond)
				req := []string{"inbox", "message", "attachment", "profile"}[(b+st)%4]
				recs = append(recs, harness.Record{Type: harness.RecordExchange, Exchange: &harness.Exchange{
					Burst: b, Step: st, User: u, Request: req, Method: "GET", Path: paths[req], Status: 200,
					Bytes: 300 + rng.IntN(4000), Sent: sent, FirstByte: sent.Add(310 * time.Microsecond),
					Done: sent.Add(420 * time.Microsecond), Conn: fmt.Sprintf("127.0.0.1:%d", 52100+st),
				}})
			}
		}
		for _, f := range byBurst[b] {
			sent := release.Add(time.Duration(f.step*700+rng.IntN(300)) * time.Nanosecond)
			recs = append(recs, harness.Record{Type: harness.RecordFinding, Finding: &harness.Finding{
				Viewer: f.viewer, Owner: f.owner, Data: f.data, Request: f.req, Method: f.method, Path: f.path,
				Burst: b, Step: f.step, Conn: fmt.Sprintf("127.0.0.1:%d", 52100+f.step),
				Match: oracle.Match{Kind: f.kind, Label: f.label, Marker: f.marker, Where: f.where, Encoding: f.enc, Excerpt: f.exc},
				Sent:  sent, Done: sent.Add(time.Duration(300+rng.IntN(400)) * time.Microsecond),
			}})
			bs.Findings++
		}
		recs = append(recs, harness.Record{Type: harness.RecordBurst, Burst: &bs})
	}
	return recs, reqs, errs
}

func leak() error {
	rng := rand.New(rand.NewPCG(1, 2))
	h := header("webmail-lastlogin", "http://127.0.0.1:41873", "barrier", users)
	fs := findings()
	body, reqs, errs := run(rng, users, 48, fs, true, nil, 2)
	cov := coverage(reqs, nil, nil)
	h.Coverage = baselineOnly(cov)
	recs := append([]harness.Record{{Type: harness.RecordHeader, Header: &h}}, body...)
	recs = append(recs, harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{
		Verdict: harness.Leak, Reason: fmt.Sprintf("%d responses carried another user's data", len(fs)),
		Requests: reqs, Errors: errs, Bursts: 48, Findings: len(fs), Elapsed: 2134 * time.Millisecond, Coverage: &cov,
	}})
	return write("leak", recs)
}

func isolated() error {
	rng := rand.New(rand.NewPCG(3, 4))
	h := header("webmail-fixed", "https://127.0.0.1:41874", "h2", users)
	body, reqs, errs := run(rng, users, 48, nil, false, map[int]int{17: 1}, 0)
	cov := coverage(reqs-errs, map[string]int{"attachment": 7}, nil)
	h.Coverage = baselineOnly(cov)
	recs := append([]harness.Record{{Type: harness.RecordHeader, Header: &h}}, body...)
	recs = append(recs, harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{
		Verdict: harness.Isolated, Reason: fmt.Sprintf("no response carried another user's data in %d requests; %s", reqs, cov.Summary()),
		Requests: reqs, Errors: errs, Bursts: 48, Elapsed: 1870 * time.Millisecond, Coverage: &cov,
	}})
	return write("isolated", recs)
}

func inconclusive() error {
	rng := rand.New(rand.NewPCG(5, 6))
	h := header("mox-webapi", "http://127.0.0.1:1080", "lastbyte", users)
	h.MaxRequests = 0
	h.Duration = 30 * time.Second
	ok := []string{"alice", "bob", "dave", "erin", "heidi"}
	body, reqs, errs := run(rng, ok, 12, nil, true, map[int]int{2: 3, 5: 2, 9: 4}, 0)
	recs := append([]harness.Record{{Type: harness.RecordHeader, Header: &h}}, body...)
	recs = append(recs, harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{
		Verdict: harness.Inconclusive, Reason: "3 of 8 users could not log in, so the run cannot vouch for isolation",
		Requests: reqs, Errors: errs, Bursts: 12, Elapsed: 30 * time.Second, CutShort: true,
		LoginFailures: []string{
			"carol: POST /webapi/v0/Login: 401 Unauthorized",
			"frank: POST /webapi/v0/Login: 429 Too Many Requests (login rate limit)",
			"grace: POST /webapi/v0/Login: dial tcp 127.0.0.1:1080: connect: connection refused",
		},
	}})
	return write("inconclusive", recs)
}

// incomplete is a leak run killed before it wrote its verdict.
func incomplete() error {
	rng := rand.New(rand.NewPCG(7, 8))
	h := header("webmail-lastlogin", "http://127.0.0.1:41873", "barrier", users)
	body, _, _ := run(rng, users, 9, findings()[:3], true, nil, 0)
	recs := append([]harness.Record{{Type: harness.RecordHeader, Header: &h}}, body...)
	return write("incomplete", recs)
}

// specHash stands in for the digest of a spec file the streams never had.
func specHash(spec string) string {
	sum := sha256.Sum256([]byte(spec))
	return "sha256:" + hex.EncodeToString(sum[:])
}
