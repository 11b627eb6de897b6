package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
)

func sampleRecords() []harness.Record {
	start := time.Date(2025, 3, 14, 9, 0, 0, 123456789, time.UTC)
	return []harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{
			Version: "v1.2.3", Spec: "webmail", BaseURL: "http://127.0.0.1:8080", Sync: "barrier", Users: []string{"u1", "u2"},
			Started: start, Requests: []harness.RequestInfo{{Name: "inbox", Data: "mail"}},
			Markers: map[oracle.Kind]int{oracle.Canary: 2}, BurstSize: 2,
		}},
		{Type: harness.RecordExchange, Exchange: &harness.Exchange{
			Burst: 0, Step: 1, User: "u2", Request: "inbox", Method: "GET", Path: "/inbox", Status: 200, Bytes: 12,
			Sent: start, Done: start.Add(time.Millisecond), Conn: "127.0.0.1:5000",
		}},
		{Type: harness.RecordFinding, Finding: &harness.Finding{
			Viewer: "u2", Owner: "u1", Data: "mail", Request: "inbox", Method: "GET", Path: "/inbox",
			Match: oracle.Match{Kind: oracle.Canary, Marker: "ctk_1", Where: "body", Encoding: "gzip", Excerpt: `<p>ctk_1 & "x"</p>`},
			Sent:  start, Done: start.Add(time.Millisecond),
		}},
		{Type: harness.RecordBurst, Burst: &harness.BurstSummary{Burst: 0, Steps: 2, Users: []string{"u1", "u2"},
			Release: start, ReleaseSkew: 12 * time.Microsecond, Findings: 1}},
		{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Leak, Reason: "1 leak", Requests: 2, Bursts: 1, Findings: 1, Elapsed: time.Second}},
	}
}

func encodeAll(t *testing.T, recs []harness.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, r := range recs {
		require.NoError(t, enc.Encode(r))
	}
	return buf.Bytes()
}

func TestEncoderDecoderRoundTrip(t *testing.T) {
	recs := sampleRecords()
	data := encodeAll(t, recs)

	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, len(recs), "one line per record")
	assert.Contains(t, lines[2], `<p>ctk_1 & \"x\"</p>`, "HTML in evidence is not escaped, so the stream stays greppable")

	got, err := ReadAll(bytes.NewReader(data))
	require.NoError(t, err)
	for i := range recs {
		recs[i].V = harness.StreamVersion
	}
	require.Equal(t, recs, got)
}

func TestEncoderStampsBuildVersion(t *testing.T) {
	var buf bytes.Buffer
	h := &harness.Header{Spec: "s"}
	require.NoError(t, NewEncoder(&buf).Encode(harness.Record{Type: harness.RecordHeader, Header: h}))
	rec, err := NewDecoder(&buf).Decode()
	require.NoError(t, err)
	assert.Equal(t, Version(), rec.Header.Version, "a header without a version gets this build's")
	assert.NotEmpty(t, rec.Header.Version)
	assert.Empty(t, h.Version, "the caller's header is left alone")
}

func TestVersionOf(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.4.1"}}
	assert.Equal(t, "v0.4.1", versionOf(bi))
	bi = &debug.BuildInfo{Main: debug.Module{Path: "example.test/app", Version: "v9.9.9"},
		Deps: []*debug.Module{{Path: modulePath, Version: "v0.3.0"}}}
	assert.Equal(t, "v0.3.0", versionOf(bi), "as a library, crosstalk's own version, not the program's")
	bi = &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "devel-0123456789ab+dirty", versionOf(bi))
	assert.Equal(t, "devel", versionOf(&debug.BuildInfo{Main: debug.Module{Path: modulePath}}))
}

func TestEncoderKeepsExplicitVersion(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, NewEncoder(&buf).Encode(harness.Record{V: 7, Type: "future"}))
	assert.True(t, strings.HasPrefix(buf.String(), `{"v":7,`), buf.String())
}

func TestEncoderConcurrentLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				f := &harness.Finding{Viewer: fmt.Sprintf("v%d", w), Owner: "o", Burst: i,
					Match: oracle.Match{Excerpt: strings.Repeat("x", 1000)}}
				assert.NoError(t, enc.Encode(harness.Record{Type: harness.RecordFinding, Finding: f}))
			}
		})
	}
	wg.Wait()
	got, err := ReadAll(&buf)
	require.NoError(t, err)
	require.Len(t, got, writers*each)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncoderReportsWriteError(t *testing.T) {
	err := NewEncoder(failingWriter{}).Encode(harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{}})
	require.ErrorContains(t, err, "disk full")
}

func TestDecoderRejectsNewerVersion(t *testing.T) {
	in := `{"v":1,"type":"header","header":{"spec":"s"}}` + "\n" +
		fmt.Sprintf(`{"v":%d,"type":"header","header":{}}`, harness.StreamVersion+1) + "\n"
	d := NewDecoder(strings.NewReader(in))
	_, err := d.Decode()
	require.NoError(t, err)
	_, err = d.Decode()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")
	assert.Contains(t, err.Error(), fmt.Sprintf("version %d", harness.StreamVersion), "the error says which version this build reads")
	assert.Contains(t, err.Error(), fmt.Sprintf("stream version %d", harness.StreamVersion+1))
}

func TestDecoderMalformedLineNamesTheLine(t *testing.T) {
	cases := map[string]string{
		"not json":          `{"v":1,"type":"burst"`,
		"no version":        `{"type":"burst","burst":{}}`,
		"zero version":      `{"v":0,"type":"burst","burst":{}}`,
		"wrong field type":  `{"v":1,"type":"burst","burst":{"burst":"three"}}`,
		"missing payload":   `{"v":1,"type":"finding"}`,
		"trailing garbage":  `{"v":1,"type":"burst","burst":{}} {}`,
		"array, not object": `[1,2,3]`,
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			in := `{"v":1,"type":"burst","burst":{"burst":0}}` + "\n\n   \n" + bad + "\n" + `{"v":1,"type":"burst","burst":{"burst":1}}` + "\n"
			d := NewDecoder(strings.NewReader(in))
			first, err := d.Decode()
			require.NoError(t, err)
			require.Equal(t, 0, first.Burst.Burst)
			_, err = d.Decode()
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "line 4: "), "blank lines still count: %v", err)

			// A bad line does not end the stream: the next record still reads.
			next, err := d.Decode()
			require.NoError(t, err)
			require.Equal(t, 1, next.Burst.Burst)
			_, err = d.Decode()
			require.ErrorIs(t, err, io.EOF)

			recs, err := ReadAll(strings.NewReader(in))
			require.Error(t, err)
			assert.Len(t, recs, 1, "ReadAll returns what it read before the bad line")
		})
	}
}

func TestDecoderSkipsUnknownTypesAndBlankLines(t *testing.T) {
	in := "\n" +
		`{"v":1,"type":"header","header":{"spec":"s"}}` + "\r\n" +
		`{"v":1,"type":"histogram","histogram":{"buckets":"a shape no build knows yet"}}` + "\n" +
		"  \t \n" +
		`{"v":1,"type":"verdict","verdict":{"verdict":"isolated"},"extra":"ignored"}` + "\n"
	recs, err := ReadAll(strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, harness.RecordHeader, recs[0].Type)
	assert.Equal(t, "s", recs[0].Header.Spec)
	assert.Equal(t, harness.RecordVerdict, recs[1].Type)
	assert.Equal(t, harness.Isolated, recs[1].Outcome.Verdict)
}

func TestDecoderReadsLongLines(t *testing.T) {
	excerpt := strings.Repeat("e", 17<<20)
	data := encodeAll(t, []harness.Record{
		{Type: harness.RecordFinding, Finding: &harness.Finding{Viewer: "a", Owner: "b", Match: oracle.Match{Excerpt: excerpt}}},
		{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Leak}},
	})
	recs, err := ReadAll(bytes.NewReader(data))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Len(t, recs[0].Finding.Excerpt, len(excerpt))
}

func TestDecoderLineTooLong(t *testing.T) {
	in := `{"v":1,"type":"header","header":{}}` + "\n" + strings.Repeat("x", maxLineBytes+10)
	d := NewDecoder(strings.NewReader(in))
	_, err := d.Decode()
	require.NoError(t, err)
	_, err = d.Decode()
	require.ErrorContains(t, err, "line 2")
	_, again := d.Decode()
	require.Equal(t, err, again, "a read failure is final")
}

type brokenReader struct{ r io.Reader }

func (b brokenReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestDecoderReadError(t *testing.T) {
	in := `{"v":1,"type":"header","header":{}}` + "\n"
	recs, err := ReadAll(brokenReader{strings.NewReader(in)})
	require.ErrorContains(t, err, "connection reset")
	require.ErrorContains(t, err, "after line 1")
	assert.Len(t, recs, 1)
}

// TestRoundTripProperty checks that any finding survives the stream,
// whatever text the target put into it.
func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := rapid.StringOf(rapid.Rune())
		f := harness.Finding{
			Viewer: text.Draw(t, "viewer"), Owner: text.Draw(t, "owner"), Data: text.Draw(t, "data"),
			Request: text.Draw(t, "request"), Path: text.Draw(t, "path"),
			Burst: rapid.IntRange(0, 1<<20).Draw(t, "burst"), Step: rapid.IntRange(0, 1000).Draw(t, "step"),
			Match: oracle.Match{
				Kind: oracle.Kind(text.Draw(t, "kind")), Label: text.Draw(t, "label"), Marker: text.Draw(t, "marker"),
				Where: text.Draw(t, "where"), Excerpt: text.Draw(t, "excerpt"),
			},
			Sent: time.Unix(0, rapid.Int64Range(0, 1<<62).Draw(t, "sent")).UTC(),
		}
		var buf bytes.Buffer
		if err := NewEncoder(&buf).Encode(harness.Record{Type: harness.RecordFinding, Finding: &f}); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadAll(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Finding == nil {
			t.Fatalf("got %d records", len(recs))
		}
		// Strings that are not valid UTF-8 come back with U+FFFD, as JSON
		// requires; compare against what JSON can carry.
		want := f
		want.Viewer, want.Owner, want.Excerpt = strings.ToValidUTF8(f.Viewer, "\uFFFD"), strings.ToValidUTF8(f.Owner, "\uFFFD"), strings.ToValidUTF8(f.Excerpt, "\uFFFD")
		got := *recs[0].Finding
		if got.Viewer != want.Viewer || got.Owner != want.Owner || got.Excerpt != want.Excerpt ||
			got.Burst != want.Burst || got.Step != want.Step || !got.Sent.Equal(want.Sent) {
			t.Fatalf("round trip changed the finding:\nwant %+v\n got %+v", want, got)
		}
	})
}
