package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
)

const runUsage = `
Usage: crosstalk run -target SPEC [flags]

Logs every user of the spec in, learns what each user's data looks like, then
fires bursts of near-simultaneous requests from distinct users and checks every
response for another user's data. Stops on -duration, -requests, Ctrl-C or,
with -stop-on-first, the first leak. The summary goes to stdout; the result
stream (JSON Lines) to -o, written as the run goes, so Ctrl-C loses nothing.

After the first leak, a control sends each user's reads once, one user at a
time: if it leaks too, the target's state is corrupted and the leak is
persistent (every later request of the affected users leaks until the state
is reset); otherwise it is transient. Every finding and report says which.

Examples:
  crosstalk run -target targets/webmail/webmail.yaml
  crosstalk run -target staging.yaml -url https://staging.example.test -duration 2m
  crosstalk run -target spec.yaml -requests 100000 -o results.jsonl
  crosstalk run -target spec.yaml -stop-on-first -format junit > junit.xml
  crosstalk run -target spec.yaml -sync h2      # single-packet bursts over HTTP/2

Exit codes: 0 isolated, 1 leak, 2 usage or config error, 3 inconclusive.
`

// budgetFlags are the flags that bound a run, shared by commands that fire.
type budgetFlags struct {
	duration time.Duration
	requests int
	burst    int
	seed     uint64
}

func (b *budgetFlags) register(fs interface {
	DurationVar(*time.Duration, string, time.Duration, string)
	IntVar(*int, string, int, string)
	Uint64Var(*uint64, string, uint64, string)
}) {
	fs.DurationVar(&b.duration, "duration", 0, "stop after this long (default 10s; with -requests, a 10m safety cap)")
	fs.IntVar(&b.requests, "requests", 0, "stop after this many requests (0: no count bound)")
	fs.IntVar(&b.burst, "burst", 0, "users per burst (default: all users, at most 8)")
	fs.Uint64Var(&b.seed, "seed", 0, "seed for drawing bursts (0: random)")
}

// options turns the flags into harness options. Both bounds are always set in
// the end, so that no run can go on forever.
func (b *budgetFlags) options() harness.Options {
	o := harness.Options{Duration: b.duration, MaxRequests: b.requests, BurstSize: b.burst, Seed: b.seed}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
		if o.MaxRequests > 0 {
			o.Duration = 10 * time.Minute
		}
	}
	return o
}

func runRun(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "run", runUsage)
	var (
		target, baseURL, out, format string
		stopFirst, trace, insecure   bool
		budget                       budgetFlags
	)
	fs.StringVar(&target, "target", "", "the target spec, YAML or JSON (required)")
	fs.StringVar(&baseURL, "url", "", "replace the spec's base_url, e.g. to point one spec at staging")
	fs.StringVar(&out, "o", "", "write the result stream (JSON Lines) to this file")
	fs.StringVar(&format, "format", "text", "summary format on stdout: text, json, junit or markdown")
	fs.BoolVar(&stopFirst, "stop-on-first", false, "stop after the first burst with a leak")
	fs.BoolVar(&trace, "trace", false, "add every exchange to the result stream")
	syncName := fs.String("sync", harness.SyncAuto, "how bursts are released: "+strings.Join(harness.SyncNames(), ", ")+
		" (auto calibrates on the target and picks the tightest)")
	fs.BoolVar(&insecure, "insecure", false, "skip TLS certificate checks (self-signed staging targets)")
	budget.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if target == "" {
		return usageErr(e, "run needs -target SPEC (see crosstalk run -h)")
	}
	render, err := reports.ByName(format)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	s, err := spec.Load(target)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	opts := budget.options()
	opts.BaseURL, opts.StopOnFirst, opts.Trace, opts.Insecure = baseURL, stopFirst, trace, insecure
	opts.Sync = *syncName
	res, err := execute(ctx, e, s, opts, out)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if err := render(e.stdout, reports.Summarize(res)); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: writing the summary: %v\n", err)
	}
	return verdictCode(res)
}

// execute runs the harness, streaming to the file at path (if any) and
// keeping the records for the summary.
func execute(ctx context.Context, e *env, s *spec.Spec, opts harness.Options, path string) ([]harness.Record, error) {
	var records []harness.Record
	var enc *reports.Encoder
	var flush func() error
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("cannot write the result stream: %w", err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		enc, flush = reports.NewEncoder(bw), bw.Flush
	}
	p := newProgress(e, s.Name)
	opts.Progress = p.update
	_, err := harness.Run(ctx, s, opts, func(r harness.Record) error {
		records = append(records, r)
		if enc == nil {
			return nil
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
		if r.Type == harness.RecordFinding || r.Type == harness.RecordVerdict {
			// Findings are what a crash must not lose.
			return flush()
		}
		return nil
	})
	p.done()
	if errors.Is(err, harness.ErrOptions) {
		return nil, err
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
	}
	if path != "" {
		fmt.Fprintf(e.stderr, "result stream written to %s\n", path)
	}
	return records, nil
}

// verdictCode maps the stream's verdict to the exit code; a stream without
// one is inconclusive.
func verdictCode(records []harness.Record) int { return verdictOf(records).ExitCode() }

func verdictOf(records []harness.Record) harness.Verdict {
	for i := len(records) - 1; i >= 0; i-- {
		if v := records[i].Outcome; v != nil {
			return v.Verdict
		}
	}
	return harness.Inconclusive
}
