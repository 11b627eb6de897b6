package mox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/mox"
)

const users = 8

// startMox runs a real mox with the accounts the specs describe, stopped
// when the test ends whatever happens. Not finding or not starting mox fails
// the test: a real-target test that skips proves nothing.
func startMox(t *testing.T) *mox.Server {
	t.Helper()
	bin, err := mox.FindBinary()
	require.NoError(t, err)
	srv, err := mox.Start(t.Context(), bin, filepath.Join(t.TempDir(), "mox"), mox.Accounts(users))
	if srv != nil {
		t.Cleanup(func() { _ = srv.Stop() })
	}
	require.NoError(t, err)
	for n := 1; n <= users; n++ {
		t.Setenv(mox.PasswordEnv(n), mox.Password(n))
	}
	return srv
}

// run drives crosstalk through the library, keeping every record.
func run(t *testing.T, s *spec.Spec, opts harness.Options) (*harness.Outcome, []harness.Record) {
	t.Helper()
	var recs []harness.Record
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := harness.Run(ctx, s, opts, func(r harness.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err)
	return out, recs
}

// budget keeps a run under mox's own per-IP limit of 1000 HTTP requests a
// minute (http/web.go, limiterConnectionrate): all of crosstalk's users come
// from 127.0.0.1, and past the limit mox answers 429, which proves nothing.
// Logins and baselines add about 60 requests to it.
const budget = 800

func TestMoxIsolated(t *testing.T) {
	for _, tc := range []struct {
		spec, path string
	}{
		{"webapi.yaml", "/webapi/v0"},
		{"webmail.yaml", "/webmail/"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			srv := startMox(t)
			s, err := spec.Load(tc.spec)
			require.NoError(t, err)
			out, recs := run(t, s, harness.Options{BaseURL: srv.URL() + tc.path, MaxRequests: budget,
				Duration: time.Minute, Seed: 7, Trace: true})
			require.Equal(t, harness.Isolated, out.Verdict, "%s\n%s", out.Reason, srv.LogTail())
			assert.GreaterOrEqual(t, out.Requests, budget, "the whole budget must be spent")
			assert.Zero(t, out.Errors)

			// Isolated must not be vacuous: every request was answered with
			// a message, and every user's own canary was among the markers.
			var h *harness.Header
			statuses := map[int]int{}
			for _, r := range recs {
				if r.Header != nil {
					h = r.Header
				}
				if r.Exchange != nil {
					statuses[r.Exchange.Status]++
				}
			}
			require.NotNil(t, h)
			assert.Equal(t, map[int]int{200: statuses[200]}, statuses, "every exchange answered 200")
			assert.GreaterOrEqual(t, h.Markers["static"], users, "each user's canary is a marker")
			t.Logf("%s: %s in %v, %d bursts", tc.spec, out.Reason, out.Elapsed.Round(time.Millisecond), out.Bursts)

			// The control: with user1's and user2's canaries swapped in the
			// spec, user1's own mail now carries "user2's" canary. Unless the
			// requests really return each user's mail and the oracle reads
			// it, this cannot turn into a leak. Learning is off because it
			// would rightly learn each canary as its real owner's, and a
			// value with two owners identifies neither.
			off := false
			s.Learn = &off
			s.Resolved[0].Markers, s.Resolved[1].Markers = s.Resolved[1].Markers, s.Resolved[0].Markers
			out, recs = run(t, s, harness.Options{BaseURL: srv.URL() + tc.path, MaxRequests: 16, Duration: time.Minute, Seed: 7})
			require.Equal(t, harness.Leak, out.Verdict, out.Reason)
			pairs := map[[2]string]bool{}
			for _, r := range recs {
				if f := r.Finding; f != nil {
					pairs[[2]string{f.Viewer, f.Owner}] = true
				}
			}
			assert.True(t, pairs[[2]string{"user1@localhost", "user2@localhost"}], "control findings: %v", pairs)
		})
	}
}

// TestMoxMboxOrder checks the seeded mailbox: messages in the order that
// gives them ids 1, 2, 3, and canaries no two users share even in part.
func TestMoxMboxOrder(t *testing.T) {
	a := mox.Accounts(2)[1]
	mb := string(mox.Mbox(a))
	for i, m := range a.Mail {
		assert.Contains(t, mb, fmt.Sprintf("Message-ID: <%d.%s@example.org>", i+1, a.Name))
		assert.Contains(t, mb, m.Subject)
	}
	assert.Contains(t, mb, mox.Canary(2))
	assert.NotContains(t, mox.Canary(11), mox.Canary(1), "no canary is part of another")
}
