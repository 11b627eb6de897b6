package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/reports/evidence"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

const demoUsage = `
Usage: crosstalk demo [flags]

Replays the July 2008 webmail incident on loopback, in one process:
  1. starts the built-in webmail with the "lastlogin" bug (the requesting user
     kept in a variable shared by all requests);
  2. fires near-simultaneous bursts from its users until the budget is spent,
     and explains the first leak: who saw whose data, through which request,
     with what evidence;
  3. fires the same load at the fixed webmail and shows it isolated;
  4. writes both result streams and reports into a folder, and says where.

It exits 0 when the buggy webmail leaks and the fixed one is isolated.

Examples:
  crosstalk demo
  crosstalk demo -out /tmp/demo -requests 8000
  crosstalk demo -work 1us      # a narrower race window
`

func runDemo(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "demo", demoUsage)
	var (
		out      string
		requests int
		users    int
		work     time.Duration
	)
	fs.StringVar(&out, "out", "", "folder for the results (default crosstalk-demo-<time> in the current folder)")
	fs.IntVar(&requests, "requests", 4000, "requests fired at each webmail")
	fs.IntVar(&users, "users", 8, "webmail users")
	fs.DurationVar(&work, "work", webmail.DefaultWork, "busy work inside the race window (0: none)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if requests < 1 || users < 2 {
		return usageErr(e, "demo needs -requests ≥ 1 and -users ≥ 2")
	}
	if out == "" {
		out = "crosstalk-demo-" + time.Now().Format("20060102-150405")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return usageErr(e, "cannot create the results folder: %v", err)
	}
	w := e.stdout
	fmt.Fprintf(w, "crosstalk demo — July 2008: a webmail's \"show my last login\" kept the requesting user in memory\n"+
		"shared by all requests. Two users asking within microseconds got the same mailbox.\n\n")

	opts := harness.Options{MaxRequests: requests, Duration: 30 * time.Second, Trace: true, Seed: 2008}
	buggy, err := demoRun(ctx, e, webmail.BugLastLogin, users, work, opts, filepath.Join(out, "lastlogin"))
	if err != nil {
		return usageErr(e, "%v", err)
	}
	fmt.Fprintf(w, "\n== The fixed webmail under the same load ==\n")
	fixed, err := demoRun(ctx, e, webmail.BugNone, users, work, opts, filepath.Join(out, "fixed"))
	if err != nil {
		return usageErr(e, "%v", err)
	}
	fmt.Fprintf(w, "\nResults written to %s/ (lastlogin.jsonl, lastlogin.txt, fixed.jsonl, fixed.txt).\n"+
		"Render again with: crosstalk report -in %s\n", out, filepath.Join(out, "lastlogin.jsonl"))
	bv, fv := verdictOf(buggy), verdictOf(fixed)
	if bv == harness.Leak && fv == harness.Isolated {
		fmt.Fprintf(w, "\nAs expected: the lastlogin webmail leaks, the fixed one is isolated%s.\n", coverageOf(fixed))
		return 0
	}
	fmt.Fprintf(w, "\nUnexpected: lastlogin gave %s and the fixed webmail gave %s.\n", bv, fv)
	if ctx.Err() != nil {
		return harness.ExitInconclusive
	}
	return 1
}

// coverageOf says, for the demo's last line, how many of a run's responses
// carried their viewer's own data: isolation is shown only where they did.
func coverageOf(records []harness.Record) string {
	for _, r := range records {
		if o := r.Outcome; o != nil && o.Coverage != nil {
			return ", with " + o.Coverage.Summary()
		}
	}
	return ""
}

// demoRun serves the webmail with bug on loopback, runs the harness against it
// and writes the stream and the text report beside stem.
func demoRun(ctx context.Context, e *env, bug webmail.Bug, users int, work time.Duration, opts harness.Options, stem string) ([]harness.Record, error) {
	srv, err := webmail.Start("", webmail.Options{Bug: bug, Users: users, Work: work, Seed: 2008})
	if err != nil {
		return nil, err
	}
	defer func() { _ = srv.Stop() }()

	s, err := spec.Parse("webmail.yaml", webmail.SpecYAML)
	if err != nil {
		return nil, fmt.Errorf("built-in spec: %w", err)
	}
	if users != len(s.Resolved) {
		s.Users = spec.Users{Pattern: &spec.Pattern{Count: users, Login: s.Users.Pattern.Login,
			Password: s.Users.Pattern.Password, Email: s.Users.Pattern.Email}}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("built-in spec: %w", err)
		}
	}
	opts.BaseURL = srv.URL()
	fmt.Fprintf(e.stdout, "webmail with bug %q on %s: firing %d requests in bursts of %d users...\n", bug, opts.BaseURL, opts.MaxRequests, min(8, users))
	// The demo's budget is small, so it keeps its records for explain.
	var records []harness.Record
	sum, err := execute(ctx, e, s, opts, stem+".jsonl", func(r harness.Record) { records = append(records, r) })
	if err != nil {
		return nil, err
	}
	for _, r := range records {
		if r.Finding != nil {
			fmt.Fprintf(e.stdout, "\n%s\n\n", explain(r.Finding, records))
			break
		}
	}
	if err := reports.Text(e.stdout, sum); err != nil {
		return nil, err
	}
	f, err := evidence.Create(stem + ".txt")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return records, errors.Join(reports.Text(f, sum), f.Close())
}

// explain tells the story of one finding: the two requests of the burst and
// which one got whose page.
func explain(f *harness.Finding, records []harness.Record) string {
	var own *harness.Exchange
	var started time.Time
	for _, r := range records {
		if r.Header != nil {
			started = r.Header.Started
		}
		if x := r.Exchange; x != nil && x.Burst == f.Burst && x.User == f.Owner && x.Request == f.Request {
			own = x
			break
		}
	}
	msg := fmt.Sprintf("LEAK FOUND %.2fs into the run, in burst %d: %s sent %s %s and the response carried %s's data\n"+
		"  (%s marker %q, %s %s).\n  Evidence: %s",
		f.Done.Sub(started).Seconds(), f.Burst, f.Viewer, f.Method, f.Path, f.Owner, f.Kind, f.Marker, f.Label, whereText(f), f.Excerpt)
	if own != nil {
		gap := own.Sent.Sub(f.Sent)
		order := "after"
		if gap < 0 {
			gap, order = -gap, "before"
		}
		msg += fmt.Sprintf("\n  %s sent the same request %v %s %s, in the same burst: the later request overwrote the\n"+
			"  shared \"current user\" while the earlier page was still being rendered.", f.Owner, gap, order, f.Viewer)
	}
	return msg
}

func whereText(f *harness.Finding) string {
	if f.Encoding == "" {
		return "in the " + f.Where
	}
	return "in the " + f.Where + " through " + f.Encoding
}
