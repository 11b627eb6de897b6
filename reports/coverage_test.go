package reports

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

// Findings of auto's calibration bursts have no burst records; the
// headline must not say they came from no burst at all.
func TestHeadlineCountsCalibrationBursts(t *testing.T) {
	s := Summarize([]harness.Record{
		{Type: harness.RecordHeader, Header: &harness.Header{Spec: "x"}},
		{Type: harness.RecordFinding, Finding: &harness.Finding{Viewer: "a", Owner: "b", Burst: 3}},
		{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Leak, Findings: 1, Requests: 40, CalibrationBursts: 18}},
	})
	_, sentence := headline(s)
	assert.Contains(t, sentence, "1 finding in 0 + 18 calibration bursts")
}

// A stream cut before its verdict still shows what the baseline saw.
func TestCoverageFromTheHeaderAlone(t *testing.T) {
	s := Summarize([]harness.Record{{Type: harness.RecordHeader, Header: &harness.Header{Spec: "x",
		Coverage: []harness.RequestCoverage{{Request: "inbox", BaselineUsers: 4, Blind: true}}}}})
	require.NotNil(t, s.Coverage)
	var b bytes.Buffer
	require.NoError(t, Text(&b, s))
	assert.Contains(t, b.String(), "inbox    0 of 4 users (blind)")
	assert.Contains(t, b.String(), "blind: inbox:")
	assert.NotContains(t, b.String(), "Isolated needs", "no run figures without a verdict")
}
