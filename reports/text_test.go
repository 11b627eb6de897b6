package reports

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
)

// manyLeaks has every one of n viewers see one owner's mail, each leak
// distinct.
func manyLeaks(n int, name func(int) string) Summary {
	var recs []harness.Record
	for i := range n {
		recs = append(recs, finding(name(i), "owner", "mail", fmt.Sprintf("m%d", i), i, 0))
	}
	return Summarize(append(recs, verdict(harness.Leak, n)))
}

func TestTextCapsColumnsAndFindings(t *testing.T) {
	const n = maxColumns + 5
	s := manyLeaks(n, func(i int) string { return fmt.Sprintf("v%d", i) })
	text := render(t, Text, s)
	assert.Contains(t, text, fmt.Sprintf("showing 1 of 1 owners and %d of %d viewers", maxColumns, n))
	assert.Contains(t, text, fmt.Sprintf("... and %d more", n-maxGroups))
	assert.Contains(t, text, fmt.Sprintf("%2d. ", maxGroups))
	assert.NotContains(t, text, fmt.Sprintf("%2d. ", maxGroups+1))

	header := regexp.MustCompile(`(?m)^\s+v\d+(\s+v\d+)+$`).FindString(text)
	require.NotEmpty(t, header, text)
	assert.Len(t, strings.Fields(header), maxColumns)

	md := render(t, Markdown, s)
	assert.Contains(t, md, fmt.Sprintf("… and %d more", n-maxGroups))
	assert.Contains(t, md, fmt.Sprintf("%d of %d viewers", maxColumns, n))
}

func TestTextNumbersLongColumnNames(t *testing.T) {
	s := manyLeaks(3, func(i int) string { return fmt.Sprintf("viewer-%d@example.test", i) })
	text := render(t, Text, s)
	assert.Contains(t, text, "1 = viewer-0@example.test")
	assert.Contains(t, text, "3 = viewer-2@example.test")
	assert.Regexp(t, `(?m)^\s+1  2  3$`, text)
	assert.Regexp(t, `(?m)^  owner\s+m  m  m$`, text)
}

// TestHostileTextIsNeutralised feeds a finding whose fields carry terminal
// escapes and markup, as a malicious target could.
func TestHostileTextIsNeutralised(t *testing.T) {
	evil := "x\x1b]0;pwned\x07\x1b[2J<script>|`*_[a](b)\n"
	recs := []harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: evil, BaseURL: evil, Sync: evil}},
		{Type: harness.RecordFinding, Finding: &harness.Finding{Viewer: evil, Owner: "o\r\n", Data: evil, Request: evil, Path: evil,
			Match: oracle.Match{Kind: oracle.Kind(evil), Label: evil, Marker: evil, Where: evil, Encoding: evil, Excerpt: evil}}},
		{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Leak, Reason: evil, LoginFailures: []string{evil}}},
	}
	s := Summarize(recs)
	for _, f := range formats {
		name, r := f.name, f.render
		out := render(t, r, s)
		assert.NotContains(t, out, "\x1b", name)
		assert.NotContains(t, out, "\x07", name)
		assert.NotContains(t, out, "\r", name)
	}
	md := render(t, Markdown, s)
	assert.NotContains(t, md, "<script>")
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| 1 |") {
			assert.Equal(t, 11, strings.Count(line, "|")-strings.Count(line, `\|`), "escaped pipes keep the table's columns: %s", line)
		}
	}

	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(render(t, JSON, s)), &doc))
	require.NoError(t, xml.Unmarshal([]byte(render(t, JUnit, s)), new(junitSuites)))
}

func TestJUnitShape(t *testing.T) {
	// One case per check: the run, each request, each data kind, and the
	// checks a verdict rests on. status maps case name to "pass",
	// "failure" or "error".
	cases := []struct {
		verdict  harness.Verdict
		findings bool
		status   map[string]string
	}{
		{harness.Isolated, false, map[string]string{"isolation": "pass", "request/mail-req": "pass", "request/profile": "pass", "data/mail": "pass", "data/profile": "pass"}},
		{harness.Leak, true, map[string]string{"isolation": "failure", "request/mail-req": "failure", "request/profile": "pass", "data/mail": "failure", "data/profile": "pass"}},
		{harness.Inconclusive, false, map[string]string{"isolation": "error", "request/mail-req": "error", "request/profile": "error", "data/mail": "error", "data/profile": "error"}},
	}
	for _, c := range cases {
		t.Run(string(c.verdict), func(t *testing.T) {
			recs := []harness.Record{{Type: harness.RecordHeader, Header: &harness.Header{Spec: "mail-app", SpecFile: "specs/mail.yaml", BaseURL: "http://127.0.0.1:1",
				Requests: []harness.RequestInfo{{Name: "mail-req", Data: "mail"}, {Name: "profile", Data: "profile"}}}},
				{Type: harness.RecordBurst, Burst: &harness.BurstSummary{Burst: 1}}}
			if c.findings {
				recs = append(recs, finding("b", "a", "mail", "x", 0, 0))
			}
			recs = append(recs, harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{
				Verdict: c.verdict, Reason: "the reason", Elapsed: 1500 * time.Millisecond, Bursts: 1}})
			out := render(t, JUnit, Summarize(recs))
			var doc junitSuites
			require.NoError(t, xml.Unmarshal([]byte(out), &doc))
			require.Len(t, doc.Suites, 1)
			got := map[string]string{}
			failures, errs := 0, 0
			for _, tc := range doc.Suites[0].Cases {
				assert.Equal(t, "mail-app", tc.Classname)
				switch {
				case tc.Failure != nil:
					got[tc.Name] = "failure"
					failures++
					assert.Contains(t, tc.Failure.Text, "b saw a's mail", tc.Name)
					assert.Contains(t, tc.Failure.Text, "crosstalk run -target specs/mail.yaml -url http://127.0.0.1:1", "the failure says how to reproduce it")
				case tc.Error != nil:
					got[tc.Name] = "error"
					errs++
					assert.Equal(t, "the reason", tc.Error.Message)
				default:
					got[tc.Name] = "pass"
				}
			}
			for name, want := range c.status {
				assert.Equal(t, want, got[name], name)
			}
			for _, check := range []string{"check/stream", "check/logins", "check/bursts", "check/budget"} {
				assert.Equal(t, "pass", got[check], check)
			}
			assert.Equal(t, len(doc.Suites[0].Cases), doc.Tests)
			assert.Equal(t, failures, doc.Failures)
			assert.Equal(t, errs, doc.Errors)
			assert.Equal(t, "1.500", doc.Time)
		})
	}
}

func TestJUnitChecks(t *testing.T) {
	s := Summarize([]harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: "s"}},
		{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Inconclusive, Reason: "r", CutShort: true, LoginFailures: []string{"u1: 401"}}},
	})
	var doc junitSuites
	require.NoError(t, xml.Unmarshal([]byte(render(t, JUnit, s)), &doc))
	errs := map[string]string{}
	for _, tc := range doc.Suites[0].Cases {
		if tc.Error != nil {
			errs[tc.Name] = tc.Error.Message
		}
	}
	assert.Contains(t, errs["check/logins"], "u1: 401")
	assert.Contains(t, errs["check/bursts"], "no burst")
	assert.Contains(t, errs["check/budget"], "before its budget")
	assert.NotContains(t, errs, "check/stream", "the stream itself is complete")
}

func TestJSONReport(t *testing.T) {
	s := Summarize([]harness.Record{
		finding("b", "a", "mail", "x", 1, 0),
		finding("b", "a", "mail", "x", 2, 0),
		verdict(harness.Leak, 2),
	})
	var doc struct {
		Verdict  string `json:"verdict"`
		ExitCode int    `json:"exit_code"`
		Counts   struct {
			Findings     int `json:"findings"`
			Distinct     int `json:"distinct_findings"`
			UsersExposed int `json:"users_exposed"`
		} `json:"counts"`
		Exposure struct {
			Pairs []Exposure `json:"pairs"`
		} `json:"exposure"`
		Findings []struct {
			Viewer string `json:"viewer"`
			Marker string `json:"marker"`
			Burst  int    `json:"burst"`
			Count  int    `json:"count"`
		} `json:"findings"`
	}
	require.NoError(t, json.Unmarshal([]byte(render(t, JSON, s)), &doc))
	assert.Equal(t, "leak", doc.Verdict)
	assert.Equal(t, harness.ExitLeak, doc.ExitCode)
	assert.Equal(t, 2, doc.Counts.Findings)
	assert.Equal(t, 1, doc.Counts.Distinct)
	assert.Equal(t, 1, doc.Counts.UsersExposed)
	assert.Equal(t, []Exposure{{Owner: "a", Viewer: "b", Data: []string{"mail"}, Findings: 2}}, doc.Exposure.Pairs)
	require.Len(t, doc.Findings, 1)
	assert.Equal(t, 2, doc.Findings[0].Count)
	assert.Equal(t, 1, doc.Findings[0].Burst)
}

func TestByName(t *testing.T) {
	for _, name := range []string{"text", "json", "junit", "markdown", " Markdown "} {
		r, err := ByName(name)
		require.NoError(t, err, name)
		require.NotNil(t, r)
	}
	r, err := ByName("pdf")
	require.Error(t, err)
	assert.Nil(t, r)
	assert.Contains(t, err.Error(), `"pdf"`)
	assert.Contains(t, err.Error(), strings.Join(Names(), ", "), "the error lists every format")
	assert.Equal(t, []string{"text", "json", "junit", "markdown", "html", "github", "sarif"}, Names())
}

func TestKindLetters(t *testing.T) {
	kinds := []KindExposure{{Data: "mail"}, {Data: "attachment"}, {Data: "profile"}, {Data: "messages"}, {Data: "amm"}, {Data: ""}, {Data: "日記"}}
	got := kindLetters(kinds)
	assert.Equal(t, "m", got["mail"])
	assert.Equal(t, "a", got["attachment"])
	assert.Equal(t, "p", got["profile"])
	assert.Equal(t, "e", got["messages"], "the next unused letter of the name")
	seen := map[string]string{}
	for kind, l := range got {
		if other, dup := seen[l]; dup {
			t.Errorf("kinds %q and %q share letter %q", kind, other, l)
		}
		seen[l] = kind
	}
}

func TestFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                        "0s",
		850:                      "850ns",
		1500:                     "1.5µs",
		12 * time.Millisecond:    "12ms",
		2134 * time.Millisecond:  "2.1s",
		2 * time.Second:          "2s",
		65 * time.Second:         "1m5s",
		-3 * time.Millisecond:    "-3ms",
		time.Duration(-1 << 63):  "-2562047h47m16s",
		90*time.Minute + 400e6:   "1h30m0s",
		999*time.Millisecond + 1: "999ms",
	} {
		assert.Equal(t, want, humanDuration(d), "%d", int64(d))
	}
	for d, want := range map[time.Duration]string{
		0:                          "0.0 µs",
		3400:                       "3.4 µs",
		59 * time.Microsecond:      "59 µs",
		2679 * time.Microsecond:    "2,679 µs",
		-12 * time.Microsecond:     "-12 µs",
		1234567 * time.Microsecond: "1,234,567 µs",
	} {
		assert.Equal(t, want, micros(d), "%d", int64(d))
	}
	assert.True(t, naturalLess("user2", "user10"))
	assert.True(t, naturalLess("user01", "user1"), "equal values fall back to byte order")
	assert.False(t, naturalLess("user1", "user01"))
	assert.True(t, naturalLess("a", "ab"))
	assert.Equal(t, "ab…", truncate("abcdef", 2))
	assert.Equal(t, "日本", truncate("日本", 2))
	assert.Equal(t, `a\x1b\n\xff"é`, clean("a\x1b\n\xff\"é"))
}
