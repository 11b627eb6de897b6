package reports

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
)

// Every report says which sessions ran and, for a leak, whether it was
// transient or persistent.
func TestReportsShowSessionsAndPersistence(t *testing.T) {
	fd := &harness.Finding{Viewer: "user2", Owner: "user1", Data: "profile", Request: "profile", Method: "GET", Path: "/profile",
		Burst: 1, Match: oracle.Match{Owner: "user1", Kind: oracle.Canary, Marker: "ctkaaaaaaaaaaaaaaaaaaaa", Where: "body"},
		Persistence: harness.Persistent}
	records := []harness.Record{
		{V: 1, Type: harness.RecordHeader, Header: &harness.Header{Spec: "webmail", BaseURL: "http://127.0.0.1:1", Sync: "barrier",
			Users: []string{"user1", "user2"}, Sessions: "fresh", Reset: "spec: POST /_reset"}},
		{V: 1, Type: harness.RecordFinding, Finding: fd},
		{V: 1, Type: harness.RecordBurst, Burst: &harness.BurstSummary{Burst: 1, Steps: 2, Findings: 1}},
		{V: 1, Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Leak, Findings: 1, Requests: 2, Bursts: 1,
			Persistence: harness.Persistent, Control: &harness.Control{AfterBurst: 1, Requests: 12, Findings: 3, Finding: fd}}},
	}
	want := map[string][]string{
		"text":     {"sessions: fresh (every execution logs its users in again), reset before each: spec: POST /_reset", "leak:   persistent", "after burst 1: user2 saw user1's profile"},
		"markdown": {"| sessions | fresh", "| leak | persistent"},
		"junit":    {`name="persistence" value="persistent"`},
		"json":     {`"sessions": "fresh"`, `"persistence": "persistent"`},
	}
	for format, parts := range want {
		render, err := ByName(format)
		require.NoError(t, err)
		var b strings.Builder
		require.NoError(t, render(&b, Summarize(records)))
		for _, p := range parts {
			assert.Contains(t, b.String(), p, format)
		}
	}
}
