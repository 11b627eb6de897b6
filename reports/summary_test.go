package reports

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
)

func finding(viewer, owner, data, marker string, burst, step int) harness.Record {
	return harness.Record{Type: harness.RecordFinding, Finding: &harness.Finding{
		Viewer: viewer, Owner: owner, Data: data, Request: data + "-req", Method: "GET", Path: "/" + data,
		Burst: burst, Step: step, Match: oracle.Match{Kind: oracle.Canary, Marker: marker, Where: "body", Excerpt: "…" + marker + "…"},
	}}
}

func verdict(v harness.Verdict, findings int) harness.Record {
	return harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: v, Findings: findings, Reason: "because"}}
}

func render(t *testing.T, r Reporter, s Summary) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, r(&buf, s))
	return buf.String()
}

func TestSummarizeNoRecords(t *testing.T) {
	for _, recs := range [][]harness.Record{nil, {}} {
		s := Summarize(recs)
		assert.Nil(t, s.Header)
		assert.Nil(t, s.Outcome)
		assert.Equal(t, harness.Inconclusive, s.Verdict, "an empty stream must never read as isolated")
		require.Len(t, s.Problems, 2)

		text := render(t, Text, s)
		assert.True(t, strings.HasPrefix(text, "INCONCLUSIVE: "), text)
		assert.Contains(t, text, "incomplete")
		assert.Contains(t, text, "no header record")
		assert.Contains(t, text, "no verdict record")
		for _, f := range formats {
			name, r := f.name, f.render
			assert.NotEmpty(t, render(t, r, s), name)
		}
	}
}

func TestSummarizeCountsExposure(t *testing.T) {
	recs := []harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: "s"}},
		finding("u2", "u1", "mail", "m1", 4, 1),
		finding("u2", "u1", "mail", "m1", 2, 0), // an earlier repeat of the same leak
		finding("u3", "u1", "attachment", "a1", 5, 2),
		finding("u10", "u4", "profile", "p4", 6, 0),
		finding("u3", "u4", "mail", "m4", 6, 1),
		finding("u2", "u5", "calendar", "c5", 7, 3),
		verdict(harness.Leak, 6),
	}
	s := Summarize(recs)
	require.Equal(t, harness.Leak, s.Verdict)
	assert.Empty(t, s.Problems)
	assert.Equal(t, []string{"u2", "u3", "u10"}, s.Viewers, "natural order puts u10 after u3")
	assert.Equal(t, []string{"u1", "u4", "u5"}, s.Owners)

	kinds := map[string]KindExposure{}
	var order []string
	for _, k := range s.Kinds {
		kinds[k.Data] = k
		order = append(order, k.Data)
	}
	assert.Equal(t, []string{"mail", "attachment", "profile", "calendar"}, order)
	assert.Equal(t, KindExposure{Data: "mail", Owners: 2, Viewers: 2, Findings: 3}, kinds["mail"])
	assert.Equal(t, KindExposure{Data: "calendar", Owners: 1, Viewers: 1, Findings: 1}, kinds["calendar"])

	require.Len(t, s.Groups, 5, "the repeated u2/u1/m1 leak folds into one group")
	assert.Equal(t, 2, s.Groups[0].Count)
	assert.Equal(t, 2, s.Groups[0].First.Burst, "the group shows the first occurrence")

	var pairs []string
	for _, e := range s.Exposure {
		pairs = append(pairs, fmt.Sprintf("%s>%s:%s", e.Owner, e.Viewer, strings.Join(e.Data, "+")))
	}
	assert.Equal(t, []string{"u1>u2:mail", "u1>u3:attachment", "u4>u3:mail", "u4>u10:profile", "u5>u2:calendar"}, pairs)

	text := render(t, Text, s)
	for _, want := range []string{
		"LEAK: 3 users saw other users' data (6 findings in 0 bursts, 0 requests, 0 errors, 0s)",
		"2 users had mail content seen by others.",
		"1 user had attachments downloaded by others.",
		"1 user had their profile seen by others.",
		"1 user had calendar data seen by others.",
		"3 users in all had data seen by others.",
		"3 users saw data that was not theirs.",
		"u2 saw u1's mail, 2 times, first in burst 2 step 0",
		"c = calendar",
	} {
		assert.Contains(t, text, want)
	}
	// The text sections come in the promised order.
	idx := func(s string) int { return strings.Index(text, s) }
	assert.Less(t, idx("LEAK:"), idx("Who was exposed"))
	assert.Less(t, idx("Who was exposed"), idx("Exposure matrix"))
	assert.Less(t, idx("Exposure matrix"), idx("Findings ("))
	assert.Less(t, idx("Findings ("), idx("Burst timing"))
}

func TestSummarizeFindingsOverrideVerdict(t *testing.T) {
	s := Summarize([]harness.Record{finding("b", "a", "mail", "x", 0, 0), verdict(harness.Isolated, 0)})
	assert.Equal(t, harness.Leak, s.Verdict, "a finding is proof of a leak whatever the verdict record says")
	require.Len(t, s.Problems, 2)
	assert.Contains(t, s.Problems[1], "says isolated")
}

func TestSummarizeUnknownVerdict(t *testing.T) {
	s := Summarize([]harness.Record{{Type: harness.RecordHeader, Header: &harness.Header{}}, verdict("maybe", 0)})
	assert.Equal(t, harness.Inconclusive, s.Verdict)
	require.Len(t, s.Problems, 1)
	assert.Contains(t, s.Problems[0], `"maybe"`)
}

func TestSummarizeIgnoresRecordsWithoutPayload(t *testing.T) {
	// Records built in memory (not decoded) can disagree with their type.
	s := Summarize([]harness.Record{
		{Type: harness.RecordFinding},
		{Type: harness.RecordBurst, Finding: &harness.Finding{}},
		{Type: "other"},
	})
	assert.Zero(t, s.Found)
	assert.Zero(t, s.Bursts)
}

func TestSummarizeMergesStreams(t *testing.T) {
	s := Summarize([]harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: "first"}},
		verdict(harness.Isolated, 0),
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: "second"}},
		verdict(harness.Inconclusive, 0),
	})
	assert.Equal(t, "first", s.Header.Spec, "the first header names the report")
	require.Len(t, s.Headers, 2)
	assert.Equal(t, "second", s.Headers[1].Spec)
	assert.Equal(t, harness.Inconclusive, s.Verdict, "one run that cannot vouch for isolation keeps the merge from doing so")
	assert.Contains(t, s.Reason, "2 streams merged; stream 2")
}

func TestSummarizeDoesNotAliasRecords(t *testing.T) {
	recs := []harness.Record{{Type: harness.RecordHeader, Header: &harness.Header{Spec: "s"}}, finding("b", "a", "mail", "x", 0, 0)}
	s := Summarize(recs)
	s.Header.Spec = "changed"
	s.Groups[0].First.Viewer = "changed"
	assert.Equal(t, "s", recs[0].Header.Spec)
	assert.Equal(t, "b", recs[1].Finding.Viewer)
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 10; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Microsecond)
	}
	p50, p90 := percentiles(ds)
	assert.Equal(t, 5*time.Microsecond, p50)
	assert.Equal(t, 9*time.Microsecond, p90)
	assert.Equal(t, 10*time.Microsecond, ds[0], "input left unsorted")

	p50, p90 = percentiles([]time.Duration{7})
	assert.Equal(t, time.Duration(7), p50)
	assert.Equal(t, time.Duration(7), p90)
	p50, p90 = percentiles(nil)
	assert.Zero(t, p50)
	assert.Zero(t, p90)
}

func TestSummarizeBurstTiming(t *testing.T) {
	var recs []harness.Record
	for i := range 20 {
		b := &harness.BurstSummary{Burst: i, ReleaseSkew: time.Duration(i+1) * time.Microsecond}
		if i%2 == 0 {
			b.ArrivalSpread = time.Duration(i+1) * 100 * time.Microsecond
		}
		recs = append(recs, harness.Record{Type: harness.RecordBurst, Burst: b})
	}
	s := Summarize(recs)
	assert.Equal(t, 20, s.Bursts)
	assert.Equal(t, 10*time.Microsecond, s.ReleaseSkewP50)
	assert.Equal(t, 18*time.Microsecond, s.ReleaseSkewP90)
	assert.Equal(t, 10, s.ArrivalBursts)
	assert.Equal(t, 900*time.Microsecond, s.ArrivalSpreadP50)
	assert.Equal(t, 1700*time.Microsecond, s.ArrivalSpreadP90)

	text := render(t, Text, s)
	assert.Contains(t, text, "release skew:   p50 10 µs, p90 18 µs")
	assert.Contains(t, text, "arrival spread: p50 900 µs, p90 1,700 µs (10 bursts reported arrival times)")
}
