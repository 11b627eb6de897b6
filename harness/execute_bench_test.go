package harness_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// BenchmarkExecute is what hermetic executions cost: a two-user, one-burst
// plan (two GET /profile) fired at the built-in webmail with the sessions
// kept, with fresh sessions (two logins on new connections first), and
// with fresh sessions after a reset (a new server, eight logins and eight
// seed requests again). No settle, so ns/op is the work alone.
func BenchmarkExecute(b *testing.B) {
	plan := harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{
		{User: "user1", Request: "profile"}, {User: "user2", Request: "profile"}}}}}
	for _, tc := range []struct {
		name     string
		sessions string
		reset    bool
	}{
		{"keep", spec.SessionsKeep, false},
		{"fresh", spec.SessionsFresh, false},
		{"fresh+reset", spec.SessionsFresh, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			wr, err := webmail.NewResettable(webmail.Options{Bug: webmail.BugNone, Users: 8, Work: webmail.DefaultWork, Seed: 1}, "")
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(wr)
			defer wr.Close()
			defer ts.Close()
			s, err := spec.Load("../targets/webmail/webmail.yaml")
			if err != nil {
				b.Fatal(err)
			}
			opts := harness.FixtureOptions{BaseURL: ts.URL, Settle: -1, Sessions: tc.sessions}
			if tc.reset {
				opts.Reset = webmailReset{wr}
			}
			ctx := context.Background()
			fx, err := harness.NewFixture(ctx, s, opts, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer fx.Close()
			for b.Loop() {
				out, err := fx.Execute(ctx, plan, nil)
				if err != nil || out.Errors > 0 {
					b.Fatalf("%v %+v", err, out)
				}
			}
		})
	}
}
