package incident

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// synthRun synthesizes an incident and analyses it in one pass.
func synthRun(t testing.TB, o SynthOptions) (*Truth, []byte, map[string]string, *Report) {
	t.Helper()
	var log, sess bytes.Buffer
	truth, err := Synthesize(o, SynthSinks{Log: &log, Sessions: &sess})
	require.NoError(t, err)
	m, err := ReadPairsCSV("sessions.csv", &sess)
	require.NoError(t, err)
	a, err := NewAnalyzer(synthAnalysis(o, m))
	require.NoError(t, err)
	require.NoError(t, a.Feed(Input{Name: "access.log", R: bytes.NewReader(log.Bytes())}))
	r := Finalize(a.Partial(), FinalOptions{Truth: truth})
	return truth, log.Bytes(), m, r
}

func synthAnalysis(o SynthOptions, sessions map[string]string) Options {
	return Options{Model: &Model{Classes: SynthClasses, Window: o.Window, Direction: EarlierGetsLater, Source: "test"},
		Sessions: sessions, Deploy: o.Deploy}
}

func TestSynthesizedIncidentMatchesTruth(t *testing.T) {
	o := DefaultSynth()
	if testing.Short() {
		o.Users = 2000
	}
	truth, _, _, r := synthRun(t, o)
	js, _ := json.MarshalIndent(r.Truth, "", " ")
	t.Logf("truth %d lines, %d pairs, owners %v\n%s", truth.Lines, len(truth.Pairs), truth.Owners, js)
	t.Logf("categories %v statements %v", r.Categories, r.Statements)
	require.NotEmpty(t, truth.Pairs, "the synthesized incident must leak")
	require.True(t, r.Truth.DirectEqual, "direct evidence must equal the ground truth")
	require.True(t, r.Truth.BoundNeverBelow, "the bound must cover every true owner")
	_ = time.Second
}
