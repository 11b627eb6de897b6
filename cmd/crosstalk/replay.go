package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

const replayUsage = `
Usage: crosstalk replay -plan FILE [-n RUNS] [flags]

Runs a plan saved by "crosstalk fuzz" RUNS times against its target (logging
in once) and prints how often it leaked, with a 95% interval. The spec is
taken from the plan file unless -target replaces it. The requests go to the
spec's base URL, or to -url: a plan file is shared and a replay logs every
user in, so a plan that was found at another URL is refused, naming both,
until -url says where to go.

As in fuzz, each run waits until a millisecond has passed since the last,
and on Linux crosstalk runs at the idle CPU priority (-yield), so that a
target on the same machine gets the cores the moment a burst lands.

Examples:
  crosstalk replay -plan testdata/crosstalk/webmail-42.json -n 50
  crosstalk replay -plan leak.json -url http://127.0.0.1:9090
  crosstalk replay -plan leak.json -target staging.yaml -sync lastbyte -n 200
  crosstalk replay -plan leak.json -cache-bust ctbust   # force cache misses in every burst

Exit codes: 0 the plan did not leak in any run, 1 it leaked in at least one,
2 usage or config error, 3 inconclusive (setup failed, or the runs mostly erred).
`

func runReplay(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "replay", replayUsage)
	var (
		planPath, target, baseURL, syncName, cacheBust string
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
	yield := yieldFlag(fs)
	rate, header := controlFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if planPath == "" {
		return usageErr(e, "replay needs -plan FILE (see crosstalk replay -h)")
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
		target = f.Spec
		if !filepath.IsAbs(target) {
			// fuzz writes the spec path relative to the plan file, so that
			// a plan kept in a repository replays from any checkout; an
			// older or hand-written one may be relative to here.
			if p := filepath.Join(filepath.Dir(planPath), f.Spec); fileExists(p) {
				target = p
			}
		}
	}
	s, err := spec.LoadContext(ctx, target)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if err := fuzz.CheckAgainst(f.Plan, s); err != nil {
		return usageErr(e, "%s: %v", planPath, err)
	}
	if err := f.CheckTarget(s.BaseURL, baseURL); err != nil {
		return usageErr(e, "%s: %v", planPath, err)
	}
	if err := pointAt(e, s, baseURL); err != nil {
		return usageErr(e, "%v", err)
	}
	if syncName == "" {
		syncName = f.Sync
	}
	prio := applyYield(e, *yield)
	fx, code := openFixture(ctx, e, s, harness.FixtureOptions{Sync: syncName, Insecure: insecure, CacheBust: cacheBust,
		Rate: float64(*rate), Header: header})
	if fx == nil {
		return code
	}
	defer fx.Close()
	fmt.Fprintf(e.stdout, "replay: %s (%d steps in %d bursts) against %s at %s, sync %s, %d runs, %s, %s\n",
		planPath, f.Plan.Len(), len(f.Plan.Bursts), s.Name, fx.BaseURL(), fx.Sync(), n, prio, rateWords(rate))
	if fx.Sequential > 0 {
		fmt.Fprintf(e.stdout, "LEAK without concurrency: the sequential baseline already carried another user's data\n")
		return harness.ExitLeak
	}
	exec := fuzz.FixtureExecutor{Fixture: fx}
	var est fuzz.Estimate
	var requests, errs, bursts int
	var cov harness.Coverage
	var example *harness.Finding
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		o, err := exec.Execute(ctx, f.Plan)
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
	if f.Reproduction.Runs > 0 {
		fmt.Fprintf(e.stdout, "when saved: %d of %d runs (%.0f%%)\n", f.Reproduction.Fails, f.Reproduction.Runs, 100*f.Reproduction.Rate())
	}
	v, reason := harness.Decide(harness.Counts{Findings: est.Fails, Requests: requests, Errors: errs, Bursts: bursts,
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

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
