package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// A plan that mixes writes, re-logins and logouts runs clean on the fixed
// webmail: mail a user was sent is not a leak, and a logged-out user logs in
// again before its next read.
func TestPlanActionsOnFixedWebmail(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	plan := &harness.Plan{Bursts: []harness.Burst{
		{Steps: []harness.Step{
			{User: "user1", Request: "send", Peer: "user2"},
			{User: "user2", Request: "send", Peer: "user1"},
			{User: "user3", Request: "send"},
		}},
		{Steps: []harness.Step{
			{User: "user1", Request: "inbox"}, {User: "user2", Request: "inbox_html"},
			{User: "user2", Request: "profile"}, {User: "user3", Request: "inbox"},
		}},
		{Steps: []harness.Step{{User: "user1", Request: harness.LoginStep}, {User: "user2", Request: harness.LoginStep}}},
		{Steps: []harness.Step{{User: "user1", Request: "logout"}, {User: "user2", Request: "profile"}}},
		{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "inbox"}}},
	}}
	out, recs := collect(t, context.Background(), webmailSpec(t), harness.Options{BaseURL: url, Plan: plan, Trace: true})
	require.Equal(t, harness.Isolated, out.Verdict, out.Reason)
	assert.Equal(t, 5, out.Bursts)
	for _, r := range recs {
		if x := r.Exchange; x != nil && x.Burst > 0 {
			assert.Empty(t, x.Err, "burst %d step %d (%s)", x.Burst, x.Step, x.Request)
			assert.Less(t, x.Status, 400, "burst %d step %d (%s)", x.Burst, x.Step, x.Request)
		}
	}
}

// A grant covers only what was sent: user1 mailing user2 does not make
// user1's profile fair game for user2.
func TestGrantDoesNotHideALeak(t *testing.T) {
	url := serveWebmail(t, webmail.BugLastLogin, webmail.DefaultWork)
	var bursts []harness.Burst
	bursts = append(bursts, harness.Burst{Steps: []harness.Step{{User: "user1", Request: "send", Peer: "user2"}}})
	for range 5000 {
		bursts = append(bursts, harness.Burst{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	granted := false
	out, err := harness.Run(ctx, webmailSpec(t), harness.Options{BaseURL: url, Plan: &harness.Plan{Bursts: bursts}, Duration: time.Minute},
		func(r harness.Record) error {
			if f := r.Finding; f != nil && f.Viewer == "user2" && f.Owner == "user1" {
				granted = true
				cancel() // seen what this test is about
			}
			return nil
		})
	require.NoError(t, err)
	require.Equal(t, harness.Leak, out.Verdict, out.Reason)
	assert.True(t, granted, "user2 seeing user1's profile must be reported although user1 mailed user2")
}
