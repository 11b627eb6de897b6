package main

import (
	"context"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/reports/evidence"
)

const fuzzUsage = `
Usage: crosstalk fuzz -target SPEC [flags]
       crosstalk fuzz -plan FILE [-target SPEC] [flags]

Draws random plans (bursts of reads, writes, re-logins, logouts and client
cancels, biased towards few users with many overlaps) with rapid, fires each
once, and shrinks the first that leaks to a minimal plan. The shrinker is
flaky-aware: a candidate counts as failing if it fails in any of K runs, K
chosen from the measured reproduction rate so that a candidate reproducing as
often as the current plan is discarded with probability at most 5%. The
minimal plan is then run -measure times under each sync strategy, and the
one that reproduced it most often replaces -sync; it is run -measure times
more to measure its rate without the bias of that pick (these runs come after
-budget). It is saved as a JSON plan file with its rate and strategy, and the
command that replays it is printed. Ctrl-C during the shrink saves the
smallest failing plan so far.

Saved plans of the same target in -dir are re-run first, the way rapid
re-runs its fail files: a bug that is still there is reported at once.

With -plan FILE, fuzz draws no plans: it runs the given plan (one that
crosstalk incident derived from an access log, or any plan file) as many
times as a shrink candidate would get, and if it leaks shrinks it the same
way, with the same controls and resets, and writes the minimal plan (by
default next to FILE, as NAME.min.json). A plan that does not leak ends it
with exit 0. The spec is the plan's own unless -target is given, and as with
replay the plan's base URL is used only if it is the spec's or -url's, since
every user's credentials go there.

Every execution is hermetic as far as the target allows: every user of the
plan logs in again first, with a new session (spec "sessions: keep" turns
that off, for targets that rate-limit logins), and with a reset (-reset-cmd,
or the spec's reset: requests) the target is reset first. After a plan
leaks, a control sends each user's reads once, one user at a time: if it
leaks too, the leak is persistent (the target's state is corrupted). With a
reset, the target is then reset and the control must be clean before the
next run. Without one, fuzz does not shrink across executions: it reports
the persistent leak and the steps after which it began, saves that plan as
needing a reset, and exits 1.

Each burst waits until a millisecond has passed since the last one, and on
Linux crosstalk runs at the idle CPU priority (-yield), so that a target on
the same machine starts its handlers as soon as the burst lands. Both make a
plan reproduce more often; -yield=false keeps the normal priority, for a busy
machine where an idle-priority process would wait too long for a core.

Examples:
  crosstalk fuzz -target targets/webmail/webmail.yaml
  crosstalk fuzz -target spec.yaml -url http://127.0.0.1:9090 -budget 2m -seed 42
  crosstalk fuzz -target spec.yaml -o leak.json -emit-test service/leak_crosstalk_test.go
  crosstalk fuzz -target nginx.yaml -cache-bust ctbust   # every burst misses the cache together
  crosstalk fuzz -target spec.yaml -reset-cmd 'docker restart mail' -reset-timeout 30s
  crosstalk incident -log access.log -spec spec.yaml -plan-out incident.json ...
  crosstalk fuzz -plan incident.json -url http://127.0.0.1:8080   # shrink the log's plan: incident.min.json
  crosstalk replay -plan leak.json -n 50

Exit codes: 0 no leak found within the budget (with -plan: the plan did not
leak), 1 leak found (plan saved),
2 usage or config error, 3 inconclusive (setup failed or the run was cut short).
`

func runFuzz(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "fuzz", fuzzUsage)
	var (
		target, baseURL, syncName, out, dir, emit, testPkg, testHandler, cacheBust string
		planPath, streamPath                                                       string
		extra                                                                      reportFlags
		seed                                                                       uint64
		plans, minSteps, maxSteps, measure                                         int
		budget                                                                     time.Duration
		insecure, verbose, cross                                                   bool
	)
	fs.StringVar(&target, "target", "", "the target spec, YAML or JSON (required, unless -plan names one)")
	fs.StringVar(&planPath, "plan", "", "shrink this plan `FILE` instead of searching for one")
	fs.StringVar(&baseURL, "url", "", "replace the spec's base_url")
	fs.StringVar(&syncName, "sync", harness.SyncBarrier, "burst release strategy: "+strings.Join(harness.SyncNames(), ", "))
	fs.Uint64Var(&seed, "seed", 0, "rapid seed of the first plan; plan i uses seed+i (0: random)")
	fs.IntVar(&plans, "plans", 200, "random plans to try at most (with -budget alone: no count bound, the budget decides)")
	fs.IntVar(&minSteps, "min-steps", 20, "fewest steps in a drawn plan")
	fs.IntVar(&maxSteps, "max-steps", 40, "most steps in a drawn plan")
	fs.DurationVar(&budget, "budget", time.Minute, "time for the search and the shrink together")
	fs.IntVar(&measure, "measure", 50, "runs that measure the minimal plan's reproduction rate")
	fs.StringVar(&dir, "dir", fuzz.DefaultDir, "where failing plans are kept and re-run first (empty: none)")
	fs.StringVar(&out, "o", "", "plan file to write (default: -dir/<target>-<seed>.json)")
	fs.StringVar(&streamPath, "stream", "", "write the result stream of the minimal plan's measuring runs, ending with its reproduction, to this `FILE` (JSON Lines)")
	fs.Var(&extra, "report", "also write a report of those runs and the minimal plan, as FORMAT:PATH; repeatable. Formats: "+reports.NameList())
	fs.StringVar(&emit, "emit-test", "", "also write a testify regression test replaying the plan to this _test.go file")
	fs.StringVar(&testPkg, "test-package", "", "package of the emitted test (default: that of the directory's Go files, else main_test)")
	fs.StringVar(&testHandler, "test-handler", "crosstalkHandler", "func(testing.TB) http.Handler the emitted test calls; define it in that package")
	fs.BoolVar(&insecure, "insecure", false, "skip TLS certificate checks")
	fs.StringVar(&cacheBust, "cache-bust", "", cacheBustUsage)
	fs.BoolVar(&verbose, "v", false, "print every shrink candidate")
	yield := yieldFlag(fs)
	rate, header := controlFlags(fs)
	fs.BoolVar(&cross, "cross-writes", false, "let writes go to other users (restart the target after: the mail stays, the grants do not)")
	var rf resetFlags
	rf.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if msg := rf.check(); msg != "" {
		return usageErr(e, "fuzz: %s", msg)
	}
	var givenPlan *fuzz.File
	if planPath != "" {
		f, err := fuzz.ReadFile(planPath)
		if err != nil {
			return usageErr(e, "%v", err)
		}
		if target == "" {
			if target = specOfPlan(planPath, f); target == "" {
				return usageErr(e, "fuzz: %s names no spec; give -target SPEC", planPath)
			}
		}
		givenPlan = f
	}
	if target == "" {
		return usageErr(e, "fuzz needs -target SPEC (see crosstalk fuzz -h)")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["budget"] && !given["plans"] {
		// Asked for a time, the user gets that time, not 200 plans' worth.
		plans = maxBudgetPlans
	}
	if minSteps < 1 || maxSteps < minSteps || plans < 1 || measure < 1 || budget <= 0 {
		return usageErr(e, "fuzz: need 1 <= -min-steps <= -max-steps, and positive -plans, -measure and -budget")
	}
	if msg := fileOutputs(streamPath, extra); msg != "" {
		return usageErr(e, "fuzz: %s", msg)
	}
	if emit != "" && !strings.HasSuffix(emit, "_test.go") {
		return usageErr(e, "fuzz: -emit-test must name a _test.go file, not %q", emit)
	}
	// Checked before the search, so that a typo does not cost the budget.
	if emit != "" && (!token.IsIdentifier(testHandler) || (testPkg != "" && !token.IsIdentifier(testPkg))) {
		return usageErr(e, "fuzz: -test-handler and -test-package must be Go identifiers (got %q and %q)", testHandler, testPkg)
	}
	s, err := spec.LoadContext(ctx, target)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	specURL := s.BaseURL
	if givenPlan != nil {
		if err := fitPlan(planPath, givenPlan, s, baseURL, &rf); err != nil {
			return usageErr(e, "%v", err)
		}
		if !given["sync"] && givenPlan.Sync != "" {
			syncName = givenPlan.Sync
		}
	}
	if err := pointAt(e, s, baseURL); err != nil {
		return usageErr(e, "%v", err)
	}
	vocab := fuzz.VocabOf(s)
	if len(vocab.Users) < 2 || len(vocab.Reads) == 0 {
		return usageErr(e, "fuzz: spec %s needs at least two users and a read request", target)
	}
	prio := applyYield(e, *yield)
	// The setup spends the budget too: a target that hangs on login must
	// not make a 3 s search take a timeout per user.
	setupCtx, cancelSetup := context.WithTimeout(ctx, budget)
	fx, code := openFixture(setupCtx, e, s, harness.FixtureOptions{Sync: syncName, Insecure: insecure, CacheBust: cacheBust,
		Rate: float64(*rate), Header: header, Reset: rf.resetter(), Sessions: rf.sessions})
	cancelSetup()
	if fx == nil {
		return code
	}
	defer fx.Close()
	fmt.Fprintf(e.stdout, "fuzz: %s at %s, sync %s, %d users, %s, %s\n", s.Name, fx.BaseURL(), fx.Sync(), len(vocab.Users), prio, rateWords(rate))
	fmt.Fprintf(e.stdout, "each execution: %s sessions, %s\n", fx.SessionsName(), resetWords(fx.ResetName()))
	if fx.Sequential > 0 {
		fmt.Fprintf(e.stdout, "LEAK without concurrency: %d responses of the sequential baseline carried another user's data; "+
			"crosstalk run -target %s shows them\n", fx.Sequential, target)
		return harness.ExitLeak
	}
	cfg := fuzz.Config{Vocab: vocab, Gen: fuzz.GenOptions{MinSteps: minSteps, MaxSteps: maxSteps, CrossWrites: cross}, Seed: seed,
		MaxPlans: plans, Budget: budget, Measure: measure}
	switch {
	case givenPlan != nil:
		cfg.Saved, cfg.SavedOnly = []fuzz.SavedPlan{{Path: planPath, File: givenPlan}}, true
		fmt.Fprintf(e.stdout, "plan: %s, %d steps in %d bursts\n", planPath, givenPlan.Plan.Len(), len(givenPlan.Plan.Bursts))
	case dir != "":
		saved, problems := fuzz.LoadSaved(dir, s.Name)
		for _, p := range problems {
			fmt.Fprintf(e.stderr, "crosstalk: skipping a saved plan: %v\n", p)
		}
		cfg.Saved = saved
		fmt.Fprintf(e.stdout, "saved plans: %d in %s\n", len(saved), dir)
	}
	exec := &fuzz.FixtureExecutor{Fixture: fx}
	var stream *results
	if streamPath != "" || len(extra) > 0 {
		if stream, err = openResults(ctx, e, s, streamPath, nil); err != nil {
			return usageErr(e, "fuzz: %v", err)
		}
	}
	// The measuring runs of the minimal plan are what a report shows: they
	// run the plan as replay does, and the rate comes from them. Until
	// they begin, the records of the last execution that leaked are kept
	// (one execution's worth), so that a stream whose measuring runs all
	// missed still holds the leak fuzz found.
	var current, lastLeak []harness.Record
	if stream != nil {
		exec.Sink = func(r harness.Record) error {
			if r.Type == harness.RecordHeader {
				current = current[:0]
			}
			current = append(current, r)
			if r.Type == harness.RecordVerdict && r.Outcome != nil && r.Outcome.Findings > 0 {
				lastLeak = append(lastLeak[:0], current...)
			}
			return nil
		}
	}
	progress := fuzzProgress(e, verbose, givenPlan != nil)
	cfg.Progress = func(ev fuzz.Event) {
		switch {
		case ev.Kind == "measure" && stream != nil:
			exec.Sink = stream.sink
		case ev.Kind == "measure-end":
			exec.Sink = nil
		}
		progress(ev)
	}
	// A search that ends without a measured minimal plan has nothing for
	// -stream and -report; they say so rather than write an empty stream.
	unmeasured := func(why string) {
		if stream != nil {
			stream.abandon()
			fmt.Fprintf(e.stderr, "crosstalk: -stream and -report: nothing written: %s\n", why)
		}
	}
	res, err := fuzz.Search(ctx, exec, cfg)
	if err != nil {
		unmeasured("the search ended in an error")
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
		return harness.ExitInconclusive
	}
	if !res.Found {
		unmeasured("no plan leaked")
	}
	if !res.Found && givenPlan != nil {
		how := "interrupted"
		if ctx.Err() == nil {
			how = "nothing to shrink"
		}
		fmt.Fprintf(e.stdout, "no leak: the plan %s did not leak at %s (%s); a plan from a log may need -sync, -url or a wider -work of its target, "+
			"or crosstalk replay -plan %s -n 50 to see its rate\n", planPath, fx.BaseURL(), how, planPath)
		return 0
	}
	if !res.Found {
		if v, reason := harness.Decide(res.Counts(), s.Limits.MaxErrorRate); v != harness.Isolated {
			fmt.Fprintf(e.stdout, "INCONCLUSIVE: %d random plans found no leak, but %s\n", res.Plans, reason)
			return harness.ExitInconclusive
		}
		stop := fmt.Sprintf("-budget %v ran out", budget)
		switch {
		case ctx.Err() != nil:
			stop = "interrupted"
		case res.Plans >= plans:
			stop = fmt.Sprintf("-plans %d reached; raise it, or give -budget alone to search for the whole budget", plans)
		}
		fmt.Fprintf(e.stdout, "no leak: %d random plans of %d..%d steps (seeds %d..%d) found none in %v (%s); %s\n",
			res.Plans, minSteps, maxSteps, res.FirstSeed, res.FirstSeed+uint64(max(res.Plans, 1)-1), res.SearchTime.Round(time.Millisecond), stop,
			res.Coverage.Summary())
		return 0
	}
	specPath := target
	if abs, err := filepath.Abs(target); err == nil {
		specPath = abs
	}
	if out == "" && givenPlan != nil {
		out = strings.TrimSuffix(planPath, ".json") + ".min.json"
	}
	if out == "" {
		out = res.FromSaved
		if out == "" {
			if dir == "" {
				dir = "."
			}
			out = fuzz.SavedPath(dir, s.Name, res.Seed)
		}
	}
	// The plan file names the spec relative to itself, so a plan kept in
	// the repository replays from any checkout.
	fileSpec := specPath
	if absOut, err := filepath.Abs(out); err == nil {
		if rel, err := filepath.Rel(filepath.Dir(absOut), specPath); err == nil {
			fileSpec = rel
		}
	}
	f := res.File(fileSpec, s.Name, fx.BaseURL(), fx.Sync())
	f.Sessions, f.Reset = fx.SessionsName(), fx.ResetName()
	if err := f.WriteFile(out); err != nil {
		unmeasured("the plan could not be saved")
		fmt.Fprintf(e.stderr, "crosstalk: writing the plan: %v\n", err)
		return harness.ExitInconclusive
	}
	fmt.Fprint(e.stdout, fuzz.Report(res, f, out))
	if res.Persistent != nil {
		unmeasured("the leak is persistent and there is no reset, so no minimal plan was measured")
		fmt.Fprintf(e.stdout, "search %v\n", res.SearchTime.Round(time.Millisecond))
		return harness.ExitLeak
	}
	if res.Interrupted {
		unmeasured("interrupted before the minimal plan was measured")
		fmt.Fprintf(e.stdout, "interrupted: the smallest failing plan so far is saved; its reproduction rate was not measured\n")
	}
	fmt.Fprintf(e.stdout, "search %v, shrink %v, measure %v\n", res.SearchTime.Round(time.Millisecond),
		res.ShrinkTime.Round(time.Millisecond), res.MeasureTime.Round(time.Millisecond))
	// replay goes only where the spec or -url says, so the command names
	// the URL when it is not the spec's.
	replayURL, resetCmd := "", ""
	if !fuzz.SameURL(fx.BaseURL(), specURL) || strings.Contains(baseURL, "?") {
		replayURL = baseURL
	}
	if f.NeedsReset {
		resetCmd = rf.command
	}
	replayCmd := replayCommand(out, replayURL, 50, resetCmd)
	fmt.Fprintf(e.stdout, "replay it:\n  %s\n", replayCmd)
	if stream != nil && !res.Interrupted {
		if res.Measured.Fails == 0 {
			for _, r := range lastLeak {
				if err := stream.sink(r); err != nil {
					fmt.Fprintf(e.stderr, "crosstalk: the result stream: %v\n", err)
					break
				}
			}
		}
		lo, hi := res.Measured.Interval95()
		rep := &harness.Reproduction{Plan: f.Plan, FoundSteps: res.Original.Len(), Reproduced: res.Measured.Fails, Runs: res.Measured.Runs,
			Low: lo, High: hi, Sync: fx.Sync(), Persistence: res.Persistence, NeedsReset: f.NeedsReset, PlanFile: out, Command: replayCmd}
		stream.finish(rep, extra)
	}
	if emit != "" {
		if err := emitTest(f, emit, specPath, testPkg, testHandler); err != nil {
			// The leak was found and its plan saved: that is still the verdict.
			fmt.Fprintf(e.stderr, "crosstalk: -emit-test: %v\n", err)
			return harness.ExitLeak
		}
		fmt.Fprintf(e.stdout, "regression test written to %s (it calls %s(t), which that package must define)\n", emit, testHandler)
	}
	return harness.ExitLeak
}

// maxBudgetPlans bounds the plans of a search that -budget alone bounds, so
// that even a target answering in microseconds cannot make it unbounded.
const maxBudgetPlans = 10_000_000

// resetFlags choose how fuzz and replay make each execution hermetic.
type resetFlags struct {
	command  string
	timeout  time.Duration
	sessions string
}

func (r *resetFlags) register(fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	fs.StringVar(&r.command, "reset-cmd", "", "shell command that resets the target, run before every execution (restart it, restore a snapshot)")
	fs.DurationVar(&r.timeout, "reset-timeout", harness.DefaultResetTimeout, "longest a -reset-cmd may run")
	fs.StringVar(&r.sessions, "sessions", "", "fresh (log every user of a plan in before each execution) or keep (the setup's sessions); default: the spec's, else fresh")
}

func (r *resetFlags) check() string {
	if r.timeout <= 0 {
		return "-reset-timeout must be positive"
	}
	if r.sessions != "" && r.sessions != spec.SessionsFresh && r.sessions != spec.SessionsKeep {
		return fmt.Sprintf("-sessions must be %s or %s, not %q", spec.SessionsFresh, spec.SessionsKeep, r.sessions)
	}
	return ""
}

func (r *resetFlags) resetter() harness.Resetter {
	if r.command == "" {
		return nil
	}
	return harness.CommandReset(r.command, r.timeout)
}

func resetWords(name string) string {
	if name == "" {
		return "no reset"
	}
	return "reset first (" + name + ")"
}

func fuzzProgress(e *env, verbose, given bool) func(fuzz.Event) {
	return func(ev fuzz.Event) {
		switch ev.Kind {
		case "saved":
			verdict, what := "no longer reproduces", "saved plan"
			if ev.Failed {
				verdict = "still leaks"
			}
			if given {
				verdict, what = "no leak", "plan"
				if ev.Failed {
					verdict = "leaked"
				}
			}
			fmt.Fprintf(e.stdout, "%s %s: %s (%d runs)\n", what, ev.Saved, verdict, ev.Estimate.Runs)
		case "sync":
			if m := ev.Estimate; m.Runs > 0 && m.Broken == m.Runs {
				fmt.Fprintf(e.stdout, "  with -sync %-8s the minimal plan could not run: every request of its %d runs failed\n", ev.Sync, m.Runs)
				return
			}
			fmt.Fprintf(e.stdout, "  with -sync %-8s the minimal plan reproduced in %d of %d runs\n", ev.Sync, ev.Estimate.Fails, ev.Estimate.Runs)
		case "found":
			if given {
				fmt.Fprintf(e.stdout, "shrinking its %d steps\n", ev.Steps)
				return
			}
			fmt.Fprintf(e.stdout, "seed %d drew a %d-step plan that leaked; shrinking\n", ev.Seed, ev.Steps)
		case "candidate":
			c := ev.Candidate
			if verbose || c.Accepted {
				mark := "rejected"
				if c.Accepted {
					mark = "accepted"
				}
				fmt.Fprintf(e.stdout, "  %-14s %s: %2d steps %2d bursts %d users, K=%-2d %d/%d runs failed, est. rate %.2f\n",
					c.Pass, mark, c.Steps, c.Bursts, c.Users, c.K, c.Estimate.Fails, c.Estimate.Runs, c.Rate)
			}
		}
	}
}

// emitTest writes the regression test next to the package it tests, with the
// spec path made relative to that package, since go test runs there.
func emitTest(f *fuzz.File, path, specPath, pkg, handler string) error {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, specPath)
	if err != nil {
		rel = specPath
	}
	if pkg == "" {
		pkg = packageOf(dir)
	}
	src, err := fuzz.EmitTest(f, fuzz.EmitOptions{Package: pkg, SpecPath: filepath.ToSlash(rel), Handler: handler})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return evidence.Write(path, src)
}

// packageOf returns the package clause of the Go files in dir: a test file's
// if there is one, so the emitted test joins the package's other tests.
func packageOf(dir string) string {
	names, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	pkg := ""
	for _, n := range names {
		f, err := parser.ParseFile(token.NewFileSet(), n, nil, parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		if strings.HasSuffix(n, "_test.go") {
			return f.Name.Name
		}
		if pkg == "" {
			pkg = f.Name.Name
		}
	}
	if pkg == "" {
		return "main_test"
	}
	return pkg
}
