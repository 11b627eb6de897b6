package webmail_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// The bug zoo: every variant must be found by crosstalk black-box, through
// webmail.yaml alone, within a bounded budget, and the correct server must be
// isolated under exactly the same load. Budgets are request and time caps, so
// a run always ends; no test asserts on how long anything took. The logged
// figures (time to first finding, requests needed) are for the report.

// zooUsers is the account count of webmail.yaml.
const zooUsers = 8

// load is how crosstalk is driven against one variant: options with either a
// request budget for random bursts or a plan.
type load struct {
	name string
	opts harness.Options
}

// hunt is the outcome of one run, with the figures the report quotes.
type hunt struct {
	out      *harness.Outcome
	findings []harness.Finding
	// toFirst is from the start of the run to the end of the exchange that
	// carried the first finding; requests counts exchanges up to and
	// including it, baselines included.
	toFirst  time.Duration
	requests int
}

// serve starts the webmail with bug behind a loopback test server.
func serve(t *testing.T, bug webmail.Bug) string {
	t.Helper()
	srv, err := webmail.New(webmail.Options{Bug: bug, Users: zooUsers, Work: webmail.DefaultWork, Seed: 1})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return ts.URL
}

// run hunts bug under l and collects the stream.
func run(t *testing.T, bug webmail.Bug, l load) hunt {
	t.Helper()
	s, err := spec.Load("webmail.yaml")
	require.NoError(t, err)
	opts := l.opts
	opts.BaseURL = serve(t, bug)
	opts.Trace = true
	var h hunt
	var started time.Time
	exchanges := 0
	out, err := harness.Run(context.Background(), s, opts, func(r harness.Record) error {
		switch {
		case r.Header != nil:
			started = r.Header.Started
		case r.Exchange != nil:
			exchanges++
		case r.Finding != nil:
			if len(h.findings) == 0 {
				h.toFirst = r.Finding.Done.Sub(started)
				// A finding is streamed just before its own exchange.
				h.requests = exchanges + 1
			}
			h.findings = append(h.findings, *r.Finding)
		}
		return nil
	})
	require.NoError(t, err)
	h.out = out
	return h
}

// requireLeak checks that a leak across users was reported and logs the
// figures.
func requireLeak(t *testing.T, bug webmail.Bug, l load, h hunt) {
	t.Helper()
	require.Equal(t, harness.Leak, h.out.Verdict, "%s under %s: %s", bug, l.name, h.out.Reason)
	require.NotEmpty(t, h.findings)
	for _, f := range h.findings {
		assert.NotEqual(t, f.Viewer, f.Owner)
	}
	f := h.findings[0]
	t.Logf("ZOO %s: expected leak, got %s; first finding after %v and %d requests (run: %d requests, %d bursts, %v); %s saw %s's %s in %s (%s marker)",
		bug, h.out.Verdict, h.toFirst.Round(time.Microsecond), h.requests, h.out.Requests, h.out.Bursts,
		h.out.Elapsed.Round(time.Millisecond), f.Viewer, f.Owner, f.Data, f.Request, f.Match.Kind)
}

// requireIsolated checks that the same load found nothing and logs it.
func requireIsolated(t *testing.T, bug webmail.Bug, l load, h hunt) {
	t.Helper()
	require.Equal(t, harness.Isolated, h.out.Verdict, "%s under %s: %s", bug, l.name, h.out.Reason)
	t.Logf("ZOO %s under %s: expected isolated, got %s after %d requests in %v",
		bug, l.name, h.out.Verdict, h.out.Requests, h.out.Elapsed.Round(time.Millisecond))
}

// random is a load of drawn bursts of reads, stopping at the first finding.
func random(requests int) load {
	return load{name: "random bursts", opts: harness.Options{MaxRequests: requests, Duration: time.Minute, StopOnFirst: true, Seed: 11}}
}

// busted is random with a fresh query parameter per burst, which makes every
// burst miss a cache in front of the server for all its users at once.
func busted(requests int) load {
	l := random(requests)
	l.name = "random bursts, cache-busted"
	l.opts.CacheBust = "ct"
	return l
}

// plan is a load that fires bursts as given.
func plan(name string, bursts []harness.Burst) load {
	return load{name: name, opts: harness.Options{Plan: &harness.Plan{Bursts: bursts}, Duration: time.Minute, StopOnFirst: true, Seed: 11}}
}

func users() []string {
	out := make([]string, zooUsers)
	for i := range out {
		out[i] = "user" + string(rune('1'+i))
	}
	return out
}

// readAll is a burst in which every user reads the same request.
func readAll(request string) harness.Burst {
	var b harness.Burst
	for _, u := range users() {
		b.Steps = append(b.Steps, harness.Step{User: u, Request: request})
	}
	return b
}

// cancelPlan: one user's page request is abandoned after 500µs, while the
// server still waits for its backend; then everyone reads. The cancelled user
// changes every round.
func cancelPlan(rounds int) load {
	var bs []harness.Burst
	us := users()
	for i := range rounds {
		bs = append(bs,
			harness.Burst{Steps: []harness.Step{{User: us[i%len(us)], Request: "profile", CancelAfter: 500 * time.Microsecond}}},
			readAll("profile"))
	}
	return plan("cancel then read", bs)
}

// loginPlan: every user logs in again at once, then everyone reads with the
// cookie its login set.
func loginPlan(rounds int) load {
	var bs []harness.Burst
	for range rounds {
		bs = append(bs, readAll(harness.LoginStep), readAll("profile"))
	}
	return plan("concurrent logins then read", bs)
}

// sequentialLoginPlan logs users in one burst at a time.
func sequentialLoginPlan(rounds int) load {
	var bs []harness.Burst
	for range rounds {
		for _, u := range users() {
			bs = append(bs, harness.Burst{Steps: []harness.Step{{User: u, Request: harness.LoginStep}}})
		}
		bs = append(bs, readAll("profile"))
	}
	return plan("sequential logins then read", bs)
}

// sendPlan: every user mails its neighbour at once, then every user reads
// its inbox twice, the second time after the mail queue had its chance.
func sendPlan(rounds int) load {
	var bs []harness.Burst
	us := users()
	for range rounds {
		var send harness.Burst
		for i, u := range us {
			send.Steps = append(send.Steps, harness.Step{User: u, Request: "send", Peer: us[(i+1)%len(us)]})
		}
		bs = append(bs, send, readAll("inbox"), readAll("inbox"))
	}
	return plan("send then read the mailboxes", bs)
}

// outboxPlan: in every burst one user mails its neighbour while all the
// others read their inboxes. The sender changes every round.
func outboxPlan(rounds int) load {
	var bs []harness.Burst
	us := users()
	for i := range rounds {
		b := readAll("inbox")
		from := i % len(us)
		b.Steps[from] = harness.Step{User: us[from], Request: "send", Peer: us[(from+1)%len(us)]}
		bs = append(bs, b)
	}
	return plan("a send among inbox reads", bs)
}

// sequentialPlan fires n reads, one request per burst, cycling through users
// and the spec's plain reads.
func sequentialPlan(n int) load {
	us := users()
	reads := []string{"profile", "inbox", "inbox_html", "message", "batch"}
	var bs []harness.Burst
	for i := range n {
		bs = append(bs, harness.Burst{Steps: []harness.Step{{User: us[i%len(us)], Request: reads[(i/len(us))%len(reads)]}}})
	}
	return load{name: "one request at a time", opts: harness.Options{Plan: &harness.Plan{Bursts: bs}, Duration: time.Minute, Seed: 11}}
}

// zoo lists every variant with the load that must find it;
// TestZooCoversEveryBug holds it to [webmail.Bugs].
var zoo = []struct {
	bug  webmail.Bug
	load load
	// concurrent: the sequential baseline (burst 0) must not leak.
	concurrent bool
}{
	{webmail.BugLastLogin, random(6000), true},
	{webmail.BugCacheKey, random(2000), false},
	{webmail.BugMicrocache, busted(6000), true},
	{webmail.BugPool, random(6000), true},
	{webmail.BugConnDesync, cancelPlan(30), true},
	{webmail.BugSessionMix, loginPlan(60), true},
	// The seed requests are writes too, and the baseline reads every
	// mailbox afterwards: that alone is a check of side effects, and it
	// already finds the mail delivered from a recycled context.
	{webmail.BugAfterReturn, sendPlan(20), false},
	{webmail.BugLoopVar, random(6000), true},
	{webmail.BugOutbox, outboxPlan(400), true},
}

// A variant without a load here would be a defect no test shows crosstalk
// finding.
func TestZooCoversEveryBug(t *testing.T) {
	covered := map[webmail.Bug]bool{}
	for _, z := range zoo {
		covered[z.bug] = true
	}
	for _, b := range webmail.Bugs() {
		assert.Equal(t, b != webmail.BugNone, covered[b], "%s: every variant but none needs a load in zoo", b)
	}
}

func TestZooEveryVariantIsFound(t *testing.T) {
	for _, z := range zoo {
		t.Run(string(z.bug), func(t *testing.T) {
			h := run(t, z.bug, z.load)
			requireLeak(t, z.bug, z.load, h)
			if z.concurrent {
				for _, f := range h.findings {
					assert.Positive(t, f.Burst, "%s must not leak in the sequential baseline", z.bug)
				}
			}
		})
	}
}

func TestZooNoneIsIsolatedUnderTheSameLoads(t *testing.T) {
	for _, z := range zoo {
		t.Run(string(z.bug), func(t *testing.T) {
			requireIsolated(t, webmail.BugNone, z.load, run(t, webmail.BugNone, z.load))
		})
	}
}

// The cache keyed on the URL leaks without any concurrency: already the
// sequential baseline, one user after another, shows it.
func TestZooCacheKeyLeaksSequentially(t *testing.T) {
	h := run(t, webmail.BugCacheKey, random(2000))
	requireLeak(t, webmail.BugCacheKey, random(2000), h)
	assert.Zero(t, h.findings[0].Burst, "the first finding is in the sequential baseline")
}

// Every response to a send is right; only the recipients' mailboxes show
// the leak, so the finding must come from a read, never from the write.
func TestZooAfterReturnShowsOnlyInSideEffects(t *testing.T) {
	l := sendPlan(20)
	l.opts.StopOnFirst = false
	h := run(t, webmail.BugAfterReturn, l)
	requireLeak(t, webmail.BugAfterReturn, l, h)
	for _, f := range h.findings {
		assert.NotEqual(t, "send", f.Request, "the send responses carry nothing of others")
	}
}

// The variants that need concurrency, a cancel, a concurrent login or a
// side effect stay hidden from a hunt without it. This is what makes the
// loads above necessary, and it keeps the variants honest: a variant that
// leaked to anything would prove nothing about the harness.
func TestZooVariantsHideFromTheWrongLoad(t *testing.T) {
	for _, c := range []struct {
		bug  webmail.Bug
		load load
	}{
		{webmail.BugMicrocache, sequentialPlan(400)},
		{webmail.BugLoopVar, sequentialPlan(400)},
		{webmail.BugPool, sequentialPlan(400)},
		{webmail.BugConnDesync, random(3000)},
		{webmail.BugSessionMix, sequentialLoginPlan(4)},
		{webmail.BugOutbox, random(3000)},
	} {
		t.Run(string(c.bug), func(t *testing.T) {
			requireIsolated(t, c.bug, c.load, run(t, c.bug, c.load))
		})
	}
}

// A cancel inside a busy burst: one user gives up while the seven others
// still wait for their pages. The server must hear of it when the client
// gives up, not when the burst is over, or it would have read its reply by
// then.
func TestZooConnDesyncCancelInsideABurst(t *testing.T) {
	us := users()
	var bs []harness.Burst
	for i := range 30 {
		b := readAll("profile")
		b.Steps[i%len(us)].CancelAfter = 500 * time.Microsecond
		bs = append(bs, b)
	}
	l := plan("a cancel among reads", bs)
	requireLeak(t, webmail.BugConnDesync, l, run(t, webmail.BugConnDesync, l))
	requireIsolated(t, webmail.BugNone, l, run(t, webmail.BugNone, l))
}
