package harness_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// A Target is set up once and fires plan after plan: each execution streams
// a header, its bursts and a verdict of its own, and its outcome is not
// changed by the next one.
func TestTargetExecutesPlansRepeatedly(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	tgt, err := harness.NewTarget(context.Background(), webmailSpec(t), harness.Options{BaseURL: url}, nil)
	require.NoError(t, err)
	defer tgt.Close()
	assert.Zero(t, tgt.Baseline.Findings)
	assert.Len(t, tgt.Users(), 8)
	plan := harness.Plan{Bursts: []harness.Burst{
		{Steps: []harness.Step{{User: "user1", Request: "send"}, {User: "user2", Request: "inbox"}}},
		{Steps: []harness.Step{{User: "user1", Request: "logout"}, {User: "user2", Request: "profile"}}},
		{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: harness.LoginStep}}},
	}}
	var first *harness.Outcome
	for i := range 5 {
		var recs []harness.Record
		out, err := tgt.Execute(context.Background(), plan, func(r harness.Record) error {
			recs = append(recs, r)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, harness.Isolated, out.Verdict, "execution %d: %s", i, out.Reason)
		assert.Equal(t, 6, out.Requests)
		assert.Zero(t, out.Errors, "a logged-out user logs in again, also across executions")
		require.NotEmpty(t, recs)
		assert.Equal(t, harness.RecordHeader, recs[0].Type)
		assert.Equal(t, harness.RecordVerdict, recs[len(recs)-1].Type)
		if first == nil {
			first = out
		}
	}
	assert.Equal(t, 3, first.Bursts, "an outcome keeps its own counts")
	tgt.Close()
	_, err = tgt.Execute(context.Background(), plan, nil)
	assert.ErrorIs(t, err, harness.ErrOptions)
}

func TestNewTargetReportsSetupFailure(t *testing.T) {
	_, err := harness.NewTarget(context.Background(), webmailSpec(t), harness.Options{BaseURL: "http://127.0.0.1:1"}, nil)
	assert.ErrorIs(t, err, harness.ErrSetup)
}
