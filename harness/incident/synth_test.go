package incident

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type synthesized struct {
	truth    *Truth
	log      []byte
	sessions map[string]string
}

var (
	defaultOnce sync.Once
	defaultLog  synthesized
)

// synthesize writes the incident; the default one is written once per test
// binary, since several tests read it.
func synthesize(t testing.TB, o SynthOptions) synthesized {
	t.Helper()
	gen := func() synthesized {
		var log, sess bytes.Buffer
		truth, err := Synthesize(o, SynthSinks{Log: &log, Sessions: &sess})
		require.NoError(t, err)
		m, err := ReadPairsCSV("sessions.csv", &sess)
		require.NoError(t, err)
		return synthesized{truth, log.Bytes(), m}
	}
	if reflect.DeepEqual(o, testSynth()) {
		defaultOnce.Do(func() { defaultLog = gen() })
		require.NotNil(t, defaultLog.truth)
		return defaultLog
	}
	return gen()
}

// synthRun synthesizes an incident and analyses it in one pass.
func synthRun(t testing.TB, o SynthOptions) (*Truth, []byte, map[string]string, *Report) {
	t.Helper()
	sy := synthesize(t, o)
	truth, m := sy.truth, sy.sessions
	log := bytes.NewBuffer(sy.log)
	a, err := NewAnalyzer(synthAnalysis(o, m))
	require.NoError(t, err)
	require.NoError(t, a.Feed(Input{Name: "access.log", R: bytes.NewReader(log.Bytes())}))
	r := Finalize(a.Partial(), FinalOptions{Truth: truth})
	return truth, sy.log, m, r
}

func synthAnalysis(o SynthOptions, sessions map[string]string) Options {
	return Options{Model: &Model{Classes: SynthClasses, Window: o.Window, Direction: EarlierGetsLater, Source: "test"},
		Sessions: sessions, Deploy: o.Deploy}
}

// testSynth is the incident the tests synthesize: the 2008 one, smaller
// under -short and -race.
func testSynth() SynthOptions {
	o := DefaultSynth()
	if testing.Short() || raceEnabled {
		o.Users = 4000
	}
	return o
}

func TestSynthesizedIncidentMatchesTruth(t *testing.T) {
	o := testSynth()
	truth, _, _, r := synthRun(t, o)
	js, _ := json.MarshalIndent(r.Truth, "", " ")
	t.Logf("truth %d lines, %d pairs, owners %v\n%s", truth.Lines, truth.Pairs.Len(), truth.Owners, js)
	t.Logf("categories %v statements %v", r.Categories, r.Statements)
	require.Positive(t, truth.Pairs.Len(), "the synthesized incident must leak")
	require.True(t, r.Truth.DirectEqual, "direct evidence must equal the ground truth")
	require.True(t, r.Truth.BoundNeverBelow, "the bound must cover every true owner")
	require.True(t, r.Truth.ModelCovers, "the model alone must allow every true pair: %d outside", r.Truth.PairsOutsideModel)
	for _, k := range r.Truth.Kinds {
		require.GreaterOrEqual(t, k.Model, k.Truth, k.Kind)
		require.Equal(t, k.Truth, k.Direct, k.Kind)
	}
	_ = time.Second
}

// The truth file is read back pair by pair to what was written.
func TestReadTruthRoundTrip(t *testing.T) {
	o := DefaultSynth()
	o.Users = 2000
	sy := synthesize(t, o)
	b, err := json.Marshal(sy.truth)
	require.NoError(t, err)
	back, err := ReadTruth("truth.json", bytes.NewReader(b))
	require.NoError(t, err)
	require.Positive(t, back.Pairs.Len())
	require.Equal(t, sy.truth.Pairs.Len(), back.Pairs.Len())
	for i := range back.Pairs.Len() {
		require.Equal(t, sy.truth.Pairs.At(i), back.Pairs.At(i))
	}
	assert.Equal(t, sy.truth.Window, back.Window)
	assert.Equal(t, sy.truth.Lines, back.Lines)
	assert.Equal(t, sy.truth.Owners, back.Owners)
	assert.Equal(t, sy.truth.Viewers, back.Viewers)
	for _, bad := range []string{``, `[]`, `{"pairs":5}`, `{"pairs":[{"count":"x"}]}`, `{"lines":1`} {
		_, err := ReadTruth("t", strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzReadTruth(f *testing.F) {
	f.Add(`{"window_ns":250000,"users":2,"pairs":[{"viewer":"a","owner":"b","kind":"mail","evidence":"owner field","count":1,"refs":null}],"owners_by_kind":{"mail":1}}`)
	f.Add(`{"pairs":null,"x":[1,{"y":2}]}`)
	f.Add(`{"pairs":[{"viewer":"a","owner":"b","evidence":"hearsay","count":1}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		tr, err := ReadTruth("t", strings.NewReader(doc))
		if err != nil {
			return
		}
		for p := range tr.Pairs.All() {
			_ = p
		}
	})
}
