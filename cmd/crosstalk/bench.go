package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/crosstalk/crosstalk/targets/webmail"
	"github.com/crosstalk/crosstalk/targets/webmail/bench"
)

const benchUsage = `
Usage: crosstalk bench [flags]

Measures, in one process against the built-in webmail on loopback, how
simultaneous each sync strategy's bursts are, how fast each finds the
last-login leak, how fast the oracle scans and how the harness's throughput
compares with hey's. Prints a markdown table with the command and machine.

Every part is bounded: -budget caps the time-to-first-leak section as a
whole (it is shared out among its cells as they run), -cap each trial.
-quick sizes everything down; flags given with it still win.

Examples:
  crosstalk bench
  crosstalk bench -quick
  crosstalk bench -quick -trials 5                  # a smoke run with more trials
  crosstalk bench -trials 10 -cap 30s -budget 30m   # the full measurement
`

func runBench(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "bench", benchUsage)
	cfg := bench.Defaults()
	q := bench.Quick()
	quick := fs.Bool("quick", false, fmt.Sprintf("a fast smoke run: %d trials, %s cap, %s budget, %d bursts, %s throughput runs",
		q.Trials, q.Cap, q.Budget, q.Bursts, q.HeyTime))
	fs.IntVar(&cfg.Trials, "trials", cfg.Trials, "trials per time-to-first-leak cell (the median is reported)")
	fs.DurationVar(&cfg.Cap, "cap", cfg.Cap, "cap per time-to-first-leak trial; a capped trial is a lower bound")
	fs.DurationVar(&cfg.Budget, "budget", cfg.Budget, "total time for the time-to-first-leak section")
	fs.IntVar(&cfg.Bursts, "bursts", cfg.Bursts, "bursts per spread measurement")
	fs.DurationVar(&cfg.HeyTime, "hey-time", cfg.HeyTime, "duration of each throughput run (hey and crosstalk)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *quick {
		cfg = quickConfig(fs, cfg)
	}
	if err := cfg.Validate(); err != nil {
		return usageErr(e, "%v", err)
	}
	w := e.stdout
	fmt.Fprintf(w, "Command: `crosstalk bench %s`\n\n", strings.Join(args, " "))
	fmt.Fprintf(w, "Machine: %s\n\n", bench.Machine())
	for _, section := range []func(context.Context, io.Writer, bench.Config) error{printSpreads, printTimesToLeak, printScanRates, printThroughput} {
		if ctx.Err() != nil {
			break
		}
		if err := section(ctx, w, cfg); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: bench: %v\n", err)
			return 1
		}
		fmt.Fprintln(w)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(e.stderr, "crosstalk: bench interrupted; the table is incomplete")
		return 1
	}
	return 0
}

// quickConfig is bench.Quick with the flags given on the command line kept.
func quickConfig(fs *flag.FlagSet, given bench.Config) bench.Config {
	q := bench.Quick()
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "trials":
			q.Trials = given.Trials
		case "cap":
			q.Cap = given.Cap
		case "budget":
			q.Budget = given.Budget
		case "bursts":
			q.Bursts = given.Bursts
		case "hey-time":
			q.HeyTime = given.HeyTime
		}
	})
	return q
}

func printSpreads(ctx context.Context, w io.Writer, cfg bench.Config) error {
	fmt.Fprintf(w, "### (a) Arrival spread at the server, p50 / p90 (%d bursts each, GET /profile, fixed webmail, no work)\n\n| strategy |", cfg.Bursts)
	for _, n := range bench.SpreadSizes {
		fmt.Fprintf(w, " N=%d |", n)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(bench.SpreadSizes)))
	return bench.Spreads(ctx, cfg, func(r bench.SpreadRow) {
		fmt.Fprintf(w, "| %s |", r.Firer)
		for _, c := range r.Cells {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintln(w)
	})
}

func printTimesToLeak(ctx context.Context, w io.Writer, cfg bench.Config) error {
	fmt.Fprintf(w, "### (b) Time to first leak on %s, median of up to %d back-to-back trials (bursts of %d users, GET /profile, cap %s per trial, %s for the section)\n\n| window (Work) |",
		webmail.BugLastLogin, cfg.Trials, bench.LeakUsers, cfg.Cap, cfg.Budget)
	firers := bench.Firers()
	for _, f := range firers {
		fmt.Fprintf(w, " %s |", f)
	}
	fmt.Fprintf(w, " baseline / best |\n|---|%s---|\n", strings.Repeat("---|", len(firers)))
	err := bench.TimesToLeak(ctx, cfg, func(r bench.LeakRow) {
		fmt.Fprintf(w, "| %s |", r.Label())
		for _, m := range r.Cells {
			fmt.Fprintf(w, " %s |", m)
		}
		fmt.Fprintf(w, " %s |\n", r.Speedup())
	})
	fmt.Fprintln(w, "\nA cell shows the median of the trials that ran and, when fewer than planned ran (the budget ran out, or more than half were capped so the median was settled), how many; ≥ marks a lower bound set by a capped trial.")
	return err
}

func printScanRates(_ context.Context, w io.Writer, cfg bench.Config) error {
	fmt.Fprintf(w, "### (c) Oracle throughput (one core, 1 MiB HTML-like pages, %d users)\n\n| markers | MB/s | responses/s (8 KiB pages) |\n|---|---|---|\n", bench.ScanUsers)
	return bench.ScanRates(cfg, func(r bench.ScanRow) {
		fmt.Fprintf(w, "| %s | %.0f | %.0f |\n", r.Markers, r.MBps, r.PagesPerSec)
	})
}

func printThroughput(ctx context.Context, w io.Writer, cfg bench.Config) error {
	fmt.Fprintf(w, "### (d) Throughput on the fixed webmail (GET /profile, work %s, %s each, concurrency %d)\n\n| tool | requests/s | vs hey |\n|---|---|---|\n",
		webmail.DefaultWork, cfg.HeyTime, bench.ThroughputUsers)
	return bench.Throughput(ctx, cfg, func(r bench.RateRow) {
		switch {
		case r.Sync != "":
			fmt.Fprintf(w, "| crosstalk run -sync %s (every response scanned; %d errors) | %.0f | %s |\n", r.Sync, r.Errors, r.PerSec, r.VsHey)
		case r.PerSec > 0:
			fmt.Fprintf(w, "| hey -c %d (keep-alive, nothing checked) | %.0f | %s |\n", bench.ThroughputUsers, r.PerSec, r.VsHey)
		default:
			fmt.Fprintf(w, "| hey | — | %s |\n", r.VsHey)
		}
	})
}
