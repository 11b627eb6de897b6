package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// A Fixture is set up once and fires plan after plan: each execution streams
// a header, its bursts and a verdict of its own, and its outcome is not
// changed by the next one.
func TestFixtureExecutesPlansRepeatedly(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	fx, err := harness.NewFixture(context.Background(), webmailSpec(t), harness.FixtureOptions{BaseURL: url}, nil)
	require.NoError(t, err)
	defer fx.Close()
	assert.Zero(t, fx.Baseline.Findings)
	assert.Len(t, fx.Users(), 8)
	plan := harness.Plan{Bursts: []harness.Burst{
		{Steps: []harness.Step{{User: "user1", Request: "send"}, {User: "user2", Request: "inbox"}}},
		{Steps: []harness.Step{{User: "user1", Request: "logout"}, {User: "user2", Request: "profile"}}},
		{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: harness.LoginStep}}},
	}}
	var first *harness.Outcome
	for i := range 5 {
		var recs []harness.Record
		out, err := fx.Execute(context.Background(), plan, func(r harness.Record) error {
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
	fx.Close()
	_, err = fx.Execute(context.Background(), plan, nil)
	assert.ErrorIs(t, err, harness.ErrOptions)
}

func TestNewFixtureReportsSetupFailure(t *testing.T) {
	_, err := harness.NewFixture(context.Background(), webmailSpec(t), harness.FixtureOptions{BaseURL: "http://127.0.0.1:1"}, nil)
	assert.ErrorIs(t, err, harness.ErrSetup)
}

// A Fixture settles: its first burst waits out SetupSettle after the setup,
// and every later burst waits Settle after the one before, also across
// executions. Lower bounds only, which no load on the machine can break.
func TestFixtureSettlesBeforeEveryBurst(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	const settle = 30 * time.Millisecond
	before := time.Now()
	fx, err := harness.NewFixture(context.Background(), webmailSpec(t), harness.FixtureOptions{BaseURL: url, Settle: settle}, nil)
	require.NoError(t, err)
	defer fx.Close()
	plan := harness.Plan{Bursts: []harness.Burst{
		{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}},
		{Steps: []harness.Step{{User: "user3", Request: "profile"}, {User: "user4", Request: "profile"}}},
	}}
	var releases []time.Time
	for range 2 {
		_, err := fx.Execute(context.Background(), plan, func(r harness.Record) error {
			if r.Burst != nil {
				releases = append(releases, r.Burst.Release)
			}
			return nil
		})
		require.NoError(t, err)
	}
	require.Len(t, releases, 4)
	// The quiet time starts when the setup ends, which is after before.
	assert.GreaterOrEqual(t, releases[0].Sub(before), harness.SetupSettle)
	for i := 1; i < len(releases); i++ {
		assert.GreaterOrEqual(t, releases[i].Sub(releases[i-1]), settle, "burst %d", i+1)
	}
}

// After a control, the next burst waits out ControlSettle. A lower bound
// again: the control ended no sooner than it began plus its own time.
func TestFixtureSettlesAfterAControl(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	// Kept sessions, so that no fresh logins come between the control and
	// the burst.
	fx, err := harness.NewFixture(context.Background(), webmailSpec(t), harness.FixtureOptions{BaseURL: url, Sessions: spec.SessionsKeep}, nil)
	require.NoError(t, err)
	defer fx.Close()
	var release time.Time
	execute := func() {
		_, err = fx.Execute(context.Background(), harness.Plan{Bursts: []harness.Burst{
			{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}},
		}}, func(r harness.Record) error {
			if r.Burst != nil {
				release = r.Burst.Release
			}
			return nil
		})
		require.NoError(t, err)
	}
	// The first execution waits out SetupSettle, which would hide the
	// control's wait.
	execute()
	before := time.Now()
	c, err := fx.Control(context.Background())
	require.NoError(t, err)
	require.Positive(t, c.Seen)
	execute()
	assert.GreaterOrEqual(t, release.Sub(before.Add(c.Elapsed)), harness.ControlSettle)
}

// Ctrl-C while a Fixture settles cuts the execution short at once.
func TestFixtureSettleStopsOnCancel(t *testing.T) {
	url := serveWebmail(t, webmail.BugNone, 0)
	// Kept sessions: fresh logins are traffic too, and the first burst
	// would settle an hour after them.
	fx, err := harness.NewFixture(context.Background(), webmailSpec(t),
		harness.FixtureOptions{BaseURL: url, Settle: time.Hour, Sessions: spec.SessionsKeep}, nil)
	require.NoError(t, err)
	defer fx.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	burst := harness.Burst{Steps: []harness.Step{{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}}
	// The first burst waits out SetupSettle; the second would wait an hour.
	// The cancel comes once that wait has begun, as a Ctrl-C would; should
	// it come sooner on a slow machine, the execution stops all the same.
	out, err := fx.Execute(ctx, harness.Plan{Bursts: []harness.Burst{burst, burst}}, func(r harness.Record) error {
		if r.Burst != nil {
			time.AfterFunc(50*time.Millisecond, cancel)
		}
		return nil
	})
	require.NoError(t, err)
	assert.True(t, out.CutShort)
	assert.Equal(t, 1, out.Bursts)
}
