package reports

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

func TestReadIntoTornStream(t *testing.T) {
	data, err := os.ReadFile("testdata/leak.jsonl")
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	// Cut the stream in the middle of its last finding, as a SIGKILL does.
	last := 0
	for i, l := range lines {
		if bytes.Contains(l, []byte(`"type":"finding"`)) {
			last = i
		}
	}
	torn := append(bytes.Join(lines[:last], []byte("\n")), '\n')
	torn = append(torn, lines[last][:len(lines[last])/2]...)

	a := NewAggregator()
	n, warnings, err := ReadInto(a, bytes.NewReader(torn), "leak.jsonl")
	require.NoError(t, err)
	assert.Equal(t, last, n, "every intact record is read")
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], fmt.Sprintf("leak.jsonl: line %d is torn", last+1))
	s := a.Summary()
	assert.Equal(t, harness.Leak, s.Verdict, "the findings before the tear stand")
	assert.Contains(t, strings.Join(s.Problems, "\n"), "is torn")
	assert.Contains(t, strings.Join(s.Problems, "\n"), "no verdict record")
}

func TestReadIntoSkipsMalformedLines(t *testing.T) {
	in := `{"v":1,"type":"header","header":{"spec":"s"}}` + "\n" +
		"not json\n" +
		`{"v":1,"type":"verdict","verdict":{"verdict":"isolated"}}` + "\n"
	a := NewAggregator()
	n, warnings, err := ReadInto(a, strings.NewReader(in), "x")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "x: line 2 skipped")
	assert.NotContains(t, warnings[0], "torn", "a bad line in the middle is not a tear")
	assert.Equal(t, harness.Isolated, a.Summary().Verdict)
}

// TestAggregatorKeepsDistinctLeaksOnly: a run that leaks on every response
// costs the summary one group, not one finding per response.
func TestAggregatorKeepsDistinctLeaksOnly(t *testing.T) {
	a := NewAggregator()
	for i := range 100_000 {
		a.Add(finding("b", "a", "mail", "ctk1", i, 0))
	}
	for i := range maxKeptGroups + 5 {
		a.Add(finding("c", "a", "mail", fmt.Sprintf("m%d", i), 200_000+i, 0))
	}
	s := a.Summary()
	assert.Equal(t, 100_000+maxKeptGroups+5, s.Found)
	require.Len(t, s.Groups, maxKeptGroups)
	assert.Equal(t, 100_000, s.Groups[0].Count)
	assert.Equal(t, 6, s.GroupsDropped, "distinct leaks past the cap are counted, not kept")
	assert.Equal(t, 0, s.Groups[0].First.Burst, "the first occurrence is kept")
}

func TestTimelineBinsDouble(t *testing.T) {
	a := NewAggregator()
	start := sampleRecords()[0].Header.Started
	a.Add(harness.Record{Type: harness.RecordHeader, Header: &harness.Header{Started: start}})
	for i := range 1000 {
		a.Add(harness.Record{Type: harness.RecordBurst, Burst: &harness.BurstSummary{Release: start.Add(time3ms(i))}})
	}
	s := a.Summary()
	assert.LessOrEqual(t, len(s.Timeline.Bins), timelineBins)
	total := 0
	for _, b := range s.Timeline.Bins {
		total += b.Bursts
	}
	assert.Equal(t, 1000, total, "merging bins loses no burst")
	assert.GreaterOrEqual(t, s.Timeline.Width*timelineBins, time3ms(999), "the bins cover the run")
}

func time3ms(i int) time.Duration { return time.Duration(i) * 3 * time.Millisecond }

func TestRequestPairs(t *testing.T) {
	ex := func(burst int, user, req string) harness.Record {
		return harness.Record{Type: harness.RecordExchange, Exchange: &harness.Exchange{Burst: burst, User: user, Request: req}}
	}
	f := finding("u2", "u1", "profile", "ctk1", 1, 1)
	f.Finding.Request = "profile"
	recs := []harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: "s", Requests: []harness.RequestInfo{{Name: "inbox", Data: "mail"}, {Name: "profile", Data: "profile"}}}},
		ex(1, "u1", "inbox"), f, ex(1, "u2", "profile"), ex(1, "u3", "profile"),
		{Type: harness.RecordBurst, Burst: &harness.BurstSummary{Burst: 1}},
		ex(2, "u1", "inbox"), ex(2, "u2", "profile"),
		{Type: harness.RecordBurst, Burst: &harness.BurstSummary{Burst: 2}},
		verdict(harness.Leak, 1),
	}
	s := Summarize(recs)
	require.Len(t, s.Pairs, 2)
	assert.Equal(t, RequestPair{A: "inbox", B: "profile", Bursts: 2, Findings: 1, Evidence: []harness.Finding{*f.Finding}}, s.Pairs[0],
		"u2's profile carried u1's data while u1's inbox ran: the pair is inbox+profile")
	assert.Equal(t, "profile", s.Pairs[1].A)
	assert.Equal(t, 1, s.Pairs[1].Bursts, "two users sent profile together once")
	assert.Zero(t, s.Pairs[1].Findings)

	out := render(t, JUnit, s)
	assert.Contains(t, out, `name="pair/inbox+profile" time="0.000">`+"\n\t\t\t"+`<failure message="1 response carried another user&#39;s data while inbox and profile ran together"`)
	assert.Contains(t, out, `name="pair/profile+profile" time="0.000"></testcase>`)

	// A stream cut off in the middle of a burst counts what it holds.
	cut := Summarize(recs[:5])
	require.Len(t, cut.Pairs, 2)
	assert.Equal(t, 1, cut.Pairs[0].Findings)
}
