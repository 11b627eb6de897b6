package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
)

const replayUsage = `
Usage: crosstalk replay -plan FILE [-n RUNS] [flags]

Runs a plan saved by "crosstalk fuzz" RUNS times against its target (logging
in once) and prints how often it leaked, with a 95% interval. The spec is
taken from the plan file unless -target replaces it. The requests go to the
spec's base URL, or to -url: a plan file is shared and a replay logs every
user in, so a plan that was found at another URL is refused, naming both,
until -url says where to go.

Each run is executed as fuzz measured it: every user of the plan logs in
again first (unless the spec keeps sessions), and with a reset (-reset-cmd
or the spec's reset: requests) the target is reset first. A plan whose leak
is persistent needs a reset before every run, or every run after the first
would measure the damage of the one before: replay refuses it without one.
After the first run that leaks, a control (each user's reads, one at a time)
tells whether the leak is transient or persistent.

As in fuzz, each run waits until a millisecond has passed since the last,
and on Linux crosstalk runs at the idle CPU priority (-yield), so that a
target on the same machine gets the cores the moment a burst lands.

Examples:
  crosstalk replay -plan testdata/crosstalk/webmail-42.json -n 50
  crosstalk replay -plan leak.json -url http://127.0.0.1:9090
  crosstalk replay -plan leak.json -target staging.yaml -sync lastbyte -n 200
  crosstalk replay -plan leak.json -cache-bust ctbust   # force cache misses in every burst
  crosstalk replay -plan leak.json -reset-cmd './restart-target.sh' -reset-timeout 20s
  crosstalk replay -plan leak.json -stream replay.jsonl -report html:replay.html   # evidence: every run, and the plan

Exit codes: 0 the plan did not leak in any run, 1 it leaked in at least one,
2 usage or config error, 3 inconclusive (setup failed, or the runs mostly erred).
`

func runReplay(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "replay", replayUsage)
	var (
		planPath, target, baseURL, syncName, cacheBust string
		streamPath                                     string
		extra                                          reportFlags
		n                                              int
		insecure, verbose                              bool
	)
	fs.StringVar(&planPath, "plan", "", "plan file written by crosstalk fuzz (required)")
	fs.IntVar(&n, "n", 50, "how many times to run the plan")
	fs.StringVar(&target, "target", "", "the target spec (default: the one the plan file names)")
	fs.StringVar(&baseURL, "url", "", "the target's URL (default: the spec's; a plan file found elsewhere needs it)")
	fs.StringVar(&syncName, "sync", "", "burst release strategy (default: the plan file's): "+strings.Join(harness.SyncNames(), ", "))
	fs.BoolVar(&insecure, "insecure", false, "skip TLS certificate checks")
	fs.StringVar(&cacheBust, "cache-bust", "", cacheBustUsage)
	fs.BoolVar(&verbose, "v", false, "print every run")
	fs.StringVar(&streamPath, "stream", "", "write the result stream of every run, ending with the plan's reproduction, to this `FILE` (JSON Lines)")
	fs.Var(&extra, "report", "also write a report of the runs and the plan, as FORMAT:PATH; repeatable. Formats: "+reports.NameList())
	yield := yieldFlag(fs)
	rate, header := controlFlags(fs)
	var rf resetFlags
	rf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if msg := rf.check(); msg != "" {
		return usageErr(e, "replay: %s", msg)
	}
	if planPath == "" {
		return usageErr(e, "replay needs -plan FILE (see crosstalk replay -h)")
	}
	if msg := fileOutputs(streamPath, extra); msg != "" {
		return usageErr(e, "replay: %s", msg)
	}
	if n < 1 || n > 1_000_000 {
		return usageErr(e, "replay: -n must be between 1 and 1000000")
	}
	f, err := fuzz.ReadFile(planPath)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if target == "" && f.Spec == "" {
		return usageErr(e, "replay: %s names no spec; give -target SPEC", planPath)
	}
	if target == "" {
		target = specOfPlan(planPath, f)
	}
	s, err := spec.LoadContext(ctx, target)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if err := fitPlan(planPath, f, s, baseURL, &rf); err != nil {
		return usageErr(e, "%v", err)
	}
	if err := pointAt(e, s, baseURL); err != nil {
		return usageErr(e, "%v", err)
	}
	if f.NeedsReset && rf.command == "" && len(s.Reset) == 0 {
		msg := fmt.Sprintf("replay: %s needs a reset before every run: its leak is persistent, so without one every run after the first "+
			"would measure the damage the one before left, not the plan", planPath)
		if f.Reset != "" {
			msg += fmt.Sprintf(" (fuzz reset with %s)", f.Reset)
		}
		return usageErr(e, "%s; %s", msg, fuzz.ResetHelp)
	}
	if syncName == "" {
		syncName = f.Sync
	}
	prio := applyYield(e, *yield)
	fx, code := openFixture(ctx, e, s, harness.FixtureOptions{Sync: syncName, Insecure: insecure, CacheBust: cacheBust,
		Rate: float64(*rate), Header: header, Reset: rf.resetter(), Sessions: rf.sessions})
	if fx == nil {
		return code
	}
	defer fx.Close()
	fmt.Fprintf(e.stdout, "replay: %s (%d steps in %d bursts) against %s at %s, sync %s, %d runs, %s, %s\n",
		planPath, f.Plan.Len(), len(f.Plan.Bursts), s.Name, fx.BaseURL(), fx.Sync(), n, prio, rateWords(rate))
	fmt.Fprintf(e.stdout, "each run: %s sessions, %s\n", fx.SessionsName(), resetWords(fx.ResetName()))
	if fx.Sequential > 0 {
		fmt.Fprintf(e.stdout, "LEAK without concurrency: the sequential baseline already carried another user's data\n")
		return harness.ExitLeak
	}
	exec := &fuzz.FixtureExecutor{Fixture: fx}
	var stream *results
	if streamPath != "" || len(extra) > 0 {
		if stream, err = openResults(ctx, e, s, streamPath, nil); err != nil {
			return usageErr(e, "replay: %v", err)
		}
		exec.Sink = stream.sink
	}
	var est fuzz.Estimate
	var requests, errs, bursts int
	var cov harness.Coverage
	var example *harness.Finding
	var persistent *fuzz.PersistentLeak
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		o, err := exec.Execute(ctx, f.Plan)
		if pl := (*fuzz.PersistentLeak)(nil); errors.As(err, &pl) {
			persistent = pl
			est.Runs++
			requests, errs, bursts = requests+pl.Outcome.Requests, errs+pl.Outcome.Errors, bursts+pl.Outcome.Bursts
			if pl.Outcome.Failed() {
				est.Fails++
				if example == nil {
					fd := pl.Outcome.Findings[0]
					example = &fd
				}
			}
			break
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			break
		}
		est.Runs++
		requests, errs, bursts = requests+o.Requests, errs+o.Errors, bursts+o.Bursts
		cov.Add(o.Coverage)
		if o.Failed() {
			est.Fails++
			if example == nil {
				fd := o.Findings[0]
				example = &fd
			}
		}
		if verbose {
			fmt.Fprintf(e.stdout, "  run %d: %d findings, %d errors\n", i+1, len(o.Findings), o.Errors)
		}
	}
	lo, hi := est.Interval95()
	fmt.Fprintf(e.stdout, "reproduced in %d of %d runs: %.0f%% (95%% interval %.0f–%.0f%%)\n",
		est.Fails, est.Runs, 100*est.Rate(), 100*lo, 100*hi)
	if persistent != nil {
		fmt.Fprintf(e.stdout, "stopped: %v; every later run would measure that damage, not the plan; to measure the plan, %s\n",
			persistent, fuzz.ResetHelp)
		if example == nil && persistent.Control.Finding != nil {
			// The run left the damage for the control to find: a leak all
			// the same.
			fd := *persistent.Control.Finding
			example = &fd
		}
	} else if example != nil && example.Persistence != "" {
		fmt.Fprintf(e.stdout, "the leak is %s\n", example.Persistence)
	}
	if f.Reproduction.Runs > 0 {
		fmt.Fprintf(e.stdout, "when saved: %d of %d runs (%.0f%%)\n", f.Reproduction.Fails, f.Reproduction.Runs, 100*f.Reproduction.Rate())
	}
	findings := est.Fails
	if findings == 0 && example != nil {
		findings = 1
	}
	if stream != nil {
		rep := &harness.Reproduction{Plan: f.Plan, Reproduced: est.Fails, Runs: est.Runs, Low: lo, High: hi, Sync: fx.Sync(),
			NeedsReset: f.NeedsReset, PlanFile: planPath, Command: replayCommand(planPath, baseURL, n, rf.command)}
		if example != nil {
			rep.Persistence = example.Persistence
		}
		stream.finish(rep, extra)
	}
	v, reason := harness.Decide(harness.Counts{Findings: findings, Requests: requests, Errors: errs, Bursts: bursts,
		CutShort: est.Runs < n, Coverage: cov}, s.Limits.MaxErrorRate)
	switch v {
	case harness.Leak:
		fmt.Fprintf(e.stdout, "LEAK: %s was shown %s's %s data through %s %s\n", example.Viewer, example.Owner, example.Data, example.Method, example.Path)
	case harness.Inconclusive:
		fmt.Fprintf(e.stdout, "INCONCLUSIVE: %d of %d runs done: %s\n", est.Runs, n, reason)
	default:
		fmt.Fprintf(e.stdout, "no leak in %d runs; %s\n", est.Runs, cov.Summary())
	}
	return v.ExitCode()
}

// replayCommand is the command line that replays plan n times: with -url
// when it must go elsewhere than its spec's base URL, and with the reset
// command when its runs need one. fuzz prints it, and fuzz and replay put
// it in their reproduction record.
func replayCommand(plan, url string, n int, resetCmd string) string {
	cmd := "crosstalk replay -plan " + plan
	if url != "" {
		cmd += " -url " + spec.RedactURL(url)
	}
	cmd += fmt.Sprintf(" -n %d", n)
	if resetCmd != "" {
		cmd += fmt.Sprintf(" -reset-cmd %q", resetCmd)
	}
	return cmd
}

// fitPlan checks a saved plan against the spec it is to run on, for replay
// and fuzz -plan alike: the plan must fit the spec, and its own base URL
// never chooses where the credentials go. A plan measured with the file's
// choice of sessions runs the same way, unless -sessions says otherwise.
func fitPlan(planPath string, f *fuzz.File, s *spec.Spec, baseURL string, rf *resetFlags) error {
	if err := fuzz.CheckAgainst(f.Plan, s); err != nil {
		return fmt.Errorf("%s: %w", planPath, err)
	}
	if err := f.CheckTarget(s.BaseURL, baseURL); err != nil {
		return fmt.Errorf("%s: %w", planPath, err)
	}
	if rf.sessions == "" && f.Sessions != "" && s.Sessions != f.Sessions {
		rf.sessions = f.Sessions
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// specOfPlan is the spec a plan file names. fuzz writes the spec path
// relative to the plan file, so that a plan kept in a repository replays
// from any checkout; an older or hand-written one may be relative to here.
func specOfPlan(planPath string, f *fuzz.File) string {
	target := f.Spec
	if target != "" && !filepath.IsAbs(target) {
		if p := filepath.Join(filepath.Dir(planPath), f.Spec); fileExists(p) {
			target = p
		}
	}
	return target
}
