package harness_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/crosstalk/crosstalk/harness"
)

func TestDecide(t *testing.T) {
	const rate = 0.01
	clean := harness.Counts{Requests: 1000, Errors: 10, Bursts: 125,
		Coverage: harness.Coverage{Responses: 990, Seen: 900, Min: 0.5, Requests: []harness.RequestCoverage{
			{Request: "profile", Responses: 600, Seen: 600}, {Request: "inbox", Responses: 390, Seen: 300}}}}
	with := func(f func(*harness.Counts)) harness.Counts {
		c := clean
		c.Coverage.Requests = append([]harness.RequestCoverage(nil), clean.Coverage.Requests...)
		f(&c)
		return c
	}
	cases := []struct {
		name   string
		counts harness.Counts
		want   harness.Verdict
		reason string
	}{
		{"isolated", clean, harness.Isolated, "no response carried another user's data in 1000 requests; coverage 90%: 900 of 990 responses carried their viewer's own data"},
		{"coverage at the threshold is not enough", with(func(c *harness.Counts) { c.Coverage.Seen = 495 }), harness.Inconclusive,
			"too little coverage: coverage 50%: 495 of 990 responses carried their viewer's own data, and Isolated needs more than 50%"},
		{"blind requests are named", with(func(c *harness.Counts) {
			c.Coverage.Seen, c.Coverage.Requests[1].Blind, c.Coverage.Requests[1].Seen = 400, true, 0
		}), harness.Inconclusive, "blind: coverage 40%: 400 of 990 responses carried their viewer's own data (blind request: inbox)"},
		{"a blind request under enough coverage is still named", with(func(c *harness.Counts) { c.Coverage.Requests[1].Blind = true }),
			harness.Isolated, "(blind request: inbox)"},
		{"lost and cut are said", with(func(c *harness.Counts) { c.Coverage.Seen, c.Coverage.Lost, c.Coverage.Cut = 300, 600, 90 }),
			harness.Inconclusive, "(600 lost their viewer's data after the baseline had it; 90 bodies were cut at max_body and not fully scanned)"},
		{"nothing judged", with(func(c *harness.Counts) { c.Coverage = harness.Coverage{Min: 0.5} }), harness.Inconclusive,
			"no read response of a burst was judged"},
		{"a zero threshold turns the check off", with(func(c *harness.Counts) { c.Coverage = harness.Coverage{} }), harness.Isolated, "in 1000 requests"},
		{"a leak stands without coverage", with(func(c *harness.Counts) { c.Findings, c.Coverage.Seen = 2, 0 }), harness.Leak, "2 responses carried"},
		{"errors at the threshold are still isolated", with(func(c *harness.Counts) { c.Errors = 10 }), harness.Isolated, "in 1000 requests"},
		{"leak", with(func(c *harness.Counts) { c.Findings = 3 }), harness.Leak, "3 responses carried another user's data"},
		{"a leak stands over everything else", with(func(c *harness.Counts) {
			c.Findings, c.Errors, c.CutShort, c.SetupError, c.StopReason = 1, 900, true, "boom", "stopped"
			c.LoginFailures = []string{"user x: login failed"}
		}), harness.Leak, "1 responses carried"},
		{"too many errors", with(func(c *harness.Counts) { c.Errors = 11 }), harness.Inconclusive, "11 of 1000 requests failed, above the 1% error threshold"},
		{"failed logins", with(func(c *harness.Counts) { c.LoginFailures = []string{"user a: login failed", "user b: no token"} }),
			harness.Inconclusive, "setup failed: user a: login failed; user b: no token"},
		{"unreachable target", with(func(c *harness.Counts) { c.SetupError = "cannot reach the target http://127.0.0.1:1" }),
			harness.Inconclusive, "cannot reach the target http://127.0.0.1:1"},
		{"nothing sent", harness.Counts{}, harness.Inconclusive, "no request was sent"},
		{"nothing fired", harness.Counts{Requests: 32}, harness.Inconclusive, "no burst was fired: setup (logins, baselines, calibration) took the whole budget after 32 requests"},
		{"cut short", with(func(c *harness.Counts) { c.CutShort = true }), harness.Inconclusive, "the run was cut short after 1000 requests, before its budget was spent"},
		{"stopped early", with(func(c *harness.Counts) { c.CutShort, c.StopReason = true, "the target failed 30 of 40 requests" }),
			harness.Inconclusive, "the target failed 30 of 40 requests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, reason := harness.Decide(c.counts, rate)
			assert.Equal(t, c.want, v)
			assert.Contains(t, reason, c.reason)
		})
	}
}
