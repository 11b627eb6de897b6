package incident

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func analyse(t testing.TB, opts Options, ins ...Input) *Partial {
	t.Helper()
	a, err := NewAnalyzer(opts)
	require.NoError(t, err)
	for _, in := range ins {
		require.NoError(t, a.Feed(in))
	}
	return a.Partial()
}

// roundTrip saves and loads a partial, as shards do.
func roundTrip(t testing.TB, p *Partial) *Partial {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WritePartial(&b, p))
	q, err := ReadPartial("p", &b)
	require.NoError(t, err)
	return q
}

func reportJSON(t testing.TB, p *Partial, truth *Truth) []byte {
	t.Helper()
	r := Finalize(p, FinalOptions{Truth: truth})
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var csv bytes.Buffer
	require.NoError(t, WriteUsersCSV(&csv, r))
	return append(b, csv.Bytes()...)
}

// TestMergeOfInstanceShardsEqualsSinglePass splits the synthesized incident
// four ways by instance; each shard reads the same log and keeps its own
// instances, as the shards of an Indexed Job do.
func TestMergeOfInstanceShardsEqualsSinglePass(t *testing.T) {
	o := testSynth()
	truth, log, sessions, _ := synthRun(t, o)
	in := func() Input { return Input{Name: "access.log", R: bytes.NewReader(log)} }
	single := analyse(t, synthAnalysis(o, sessions), in())
	var parts []*Partial
	instances := 0
	for i := range 4 {
		opts := synthAnalysis(o, sessions)
		opts.Shard, opts.Shards = i, 4
		p := roundTrip(t, analyse(t, opts, in()))
		require.Less(t, p.Parsed, single.Parsed, "shard %d must hold only part of the log", i)
		instances += len(p.Instances)
		parts = append(parts, p)
	}
	assert.Equal(t, 8, instances, "every instance is in exactly one shard")
	merged, err := Merge(parts)
	require.NoError(t, err)
	want := reportJSON(t, roundTrip(t, single), truth)
	got := reportJSON(t, merged, truth)
	require.Equal(t, string(want), string(got), "merge must equal the single pass exactly")
	require.Equal(t, 0, bytes.Compare(mustJSON(t, roundTrip(t, single)), mustJSON(t, merged)), "the partials too")
}

// TestMergeOfTimeShardsEqualsSinglePass cuts the log into time ranges that
// read their neighbours' edges as context.
func TestMergeOfTimeShardsEqualsSinglePass(t *testing.T) {
	o := DefaultSynth()
	o.Users = 3000
	o.Window = 2 * time.Millisecond // more leaks per user, so the edges matter
	truth, log, sessions, _ := synthRun(t, o)
	in := func() Input { return Input{Name: "access.log", R: bytes.NewReader(log)} }
	single := analyse(t, synthAnalysis(o, sessions), in())
	// Cut just after three leaking requests started, so that each one's
	// owner, who started within W after it, falls in the next range.
	require.Len(t, single.Samples, 3)
	cuts := []time.Time{{}}
	for _, s := range single.Samples {
		cuts = append(cuts, time.UnixMicro(s.Start+1))
	}
	cuts = append(cuts, time.Time{})
	var parts []*Partial
	for i := range 4 {
		opts := synthAnalysis(o, sessions)
		opts.From, opts.Until = cuts[i], cuts[i+1]
		parts = append(parts, roundTrip(t, analyse(t, opts, in())))
	}
	merged, err := Merge(parts)
	require.NoError(t, err)
	require.Equal(t, string(reportJSON(t, roundTrip(t, single), truth)), string(reportJSON(t, merged, truth)))
}

// TestMergeOfSplitFiles splits the log itself into one file per instance
// group; the evidence line numbers are then each file's own, and all else
// equals the single pass.
func TestMergeOfSplitFiles(t *testing.T) {
	o := DefaultSynth()
	o.Users = 3000
	truth, log, sessions, _ := synthRun(t, o)
	files := make([]bytes.Buffer, 4)
	for _, line := range bytes.SplitAfter(log, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e Entry
		require.NoError(t, ParseJSONLine(bytes.TrimSpace(line), &e))
		files[shardOf(e.Instance, 4)].Write(line)
	}
	single := Finalize(analyse(t, synthAnalysis(o, sessions), Input{Name: "access.log", R: bytes.NewReader(log)}), FinalOptions{Truth: truth})
	var parts []*Partial
	for i := range files {
		parts = append(parts, roundTrip(t, analyse(t, synthAnalysis(o, sessions), Input{Name: "shard.log", R: &files[i]})))
	}
	merged, err := Merge(parts)
	require.NoError(t, err)
	m := Finalize(merged, FinalOptions{Truth: truth})
	assert.Equal(t, single.Statements, m.Statements)
	assert.Equal(t, single.Categories, m.Categories)
	assert.Equal(t, single.Matrix, m.Matrix)
	assert.Equal(t, single.Truth, m.Truth)
	assert.Equal(t, single.Timeline.Minutes, m.Timeline.Minutes)
	assert.Equal(t, single.Direct.Len(), m.Direct.Len())
	for i := range single.Direct.Len() {
		assert.Equal(t, single.Direct.At(i).PairKey, m.Direct.At(i).PairKey)
		assert.Equal(t, single.Direct.At(i).Count, m.Direct.At(i).Count)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestMergeRefusesOtherModels(t *testing.T) {
	a := analyse(t, Options{Model: &Model{Classes: []string{"/a"}, Window: time.Millisecond, Source: "x"}})
	b := analyse(t, Options{Model: &Model{Classes: []string{"/b"}, Window: time.Millisecond, Source: "x"}})
	_, err := Merge([]*Partial{roundTrip(t, a), roundTrip(t, b)})
	require.Error(t, err)
	_, err = Merge(nil)
	require.Error(t, err)
}

// A partial's pairs are records of indices: a file that names a user, kind
// or file it does not have, or lists pairs out of order, is refused.
func TestReadPartialChecksPairs(t *testing.T) {
	doc := func(direct string) string {
		return `{"version":2,"files":[{"name":"x","lines":2,"bad":0,"formats":{}}],"names":["a","b"],"direct":` + direct +
			`,"bound":[[0,1,0,2,1,0,1],[1,0,0,2,1,0,2]],"minutes":{}}`
	}
	p, err := ReadPartial("p", strings.NewReader(doc(`[[0,1,0,3,2,0,1]]`)))
	require.NoError(t, err)
	r := Finalize(p, FinalOptions{})
	require.Equal(t, 1, r.Direct.Len())
	assert.Equal(t, Pair{PairKey: PairKey{Viewer: "a", Owner: "b", Kind: OtherKind, Evidence: ByOwnerField}, Count: 2,
		Refs: []Ref{{File: "x", Line: 1}}}, r.Direct.At(0))
	assert.Equal(t, 2, r.BoundPairs)
	for _, bad := range []string{`[[0,2,0,3,1,0,1]]`, `[[0,1,1,3,1,0,1]]`, `[[0,1,0,3,1,1,1]]`, `[[0,1,0,3,0,0,1]]`,
		`[[1,0,0,3,1,0,1],[0,1,0,3,1,0,1]]`, `[[0,1,0,9,1,0,1]]`, `[[0,1,0,3,1,0]]`} {
		_, err := ReadPartial("p", strings.NewReader(doc(bad)))
		assert.Error(t, err, bad)
	}
}
