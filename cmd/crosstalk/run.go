package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
  crosstalk run -target spec.yaml -o results.jsonl -report html:report.html -report sarif:leaks.sarif
  crosstalk run -target spec.yaml -o - | crosstalk report -in - -format github
  crosstalk run -target spec.yaml -sync h2      # single-packet bursts over HTTP/2
  crosstalk run -target spec.yaml -v            # also list the learned markers
  crosstalk run -target spec.yaml -rate 50/s -H 'X-Canary: always'

Coverage: a response proves isolation only if it carries its viewer's own
data. The summary says how many did, request by request; a request whose
sequential baseline showed no user's own data is blind. Isolated needs more
than limits.min_coverage (default 0.5) of the responses covered.

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
		verbose                      bool
		budget                       budgetFlags
		extra                        reportFlags
	)
	fs.StringVar(&target, "target", "", "the target spec, YAML or JSON (required)")
	fs.StringVar(&baseURL, "url", "", "replace the spec's base_url, e.g. to point one spec at staging")
	fs.StringVar(&out, "o", "", "write the result stream (JSON Lines) to this file; - for stdout (the summary then goes to stderr)")
	fs.StringVar(&format, "format", "text", "summary format on stdout: "+reports.NameList())
	fs.Var(&extra, "report", "also write a report when the run ends, as FORMAT:PATH (PATH - for stdout); repeatable. Formats: "+reports.NameList())
	fs.BoolVar(&stopFirst, "stop-on-first", false, "stop after the first burst with a leak")
	fs.BoolVar(&trace, "trace", false, "add every exchange to the result stream")
	syncName := fs.String("sync", harness.SyncAuto, "how bursts are released: "+strings.Join(harness.SyncNames(), ", ")+
		" (auto calibrates on the target and picks the tightest)")
	fs.BoolVar(&insecure, "insecure", false, "skip TLS certificate checks (self-signed staging targets)")
	fs.BoolVar(&verbose, "v", false, "list the learned markers on stderr, so that a finding resting on one can be judged")
	budget.register(fs)
	rate, header := controlFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if target == "" {
		return usageErr(e, "run needs -target SPEC (see crosstalk run -h)")
	}
	render, err := reports.ByName(format)
	if err != nil {
		return usageErr(e, "-format: %v", err)
	}
	// stdout carries one thing: with -o - it is the stream, and the summary
	// moves to stderr.
	stdoutTaken := ""
	if out == "-" {
		stdoutTaken = "-o -"
	}
	for _, r := range extra {
		if r.path == "-" {
			if stdoutTaken != "" {
				return usageErr(e, "-report %s:- and %s both want stdout; give one of them a file", r.format, stdoutTaken)
			}
			stdoutTaken = "-report " + r.format + ":-"
		}
	}
	summaryOut := e.stdout
	if stdoutTaken != "" {
		summaryOut = e.stderr
	}
	s, err := spec.LoadContext(ctx, target)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if err := pointAt(e, s, baseURL); err != nil {
		return usageErr(e, "%v", err)
	}
	opts := budget.options()
	opts.StopOnFirst, opts.Trace, opts.Insecure = stopFirst, trace, insecure
	opts.Sync = *syncName
	opts.Rate, opts.Header = float64(*rate), header
	if *rate > 0 {
		fmt.Fprintf(e.stderr, "rate: %s\n", rateWords(rate))
	}
	// The header lists the learned markers (-v), and the outcome says
	// whether the sequential baseline leaked; the summary keeps neither.
	var streamHeader *harness.Header
	var outcome *harness.Outcome
	sum, err := execute(ctx, e, s, opts, out, func(r harness.Record) {
		if r.Header != nil {
			streamHeader = r.Header
		}
		if r.Outcome != nil {
			outcome = r.Outcome
		}
	})
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if verbose {
		listLearned(e, streamHeader)
	}
	sequential(e, outcome)
	if err := render(summaryOut, sum); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: writing the summary: %v\n", err)
	}
	extra.writeAll(e, sum)
	return sum.Verdict.ExitCode()
}

// listLearned prints the learned markers of the stream's header, by owner.
func listLearned(e *env, h *harness.Header) {
	{
		if h != nil {
			fmt.Fprintf(e.stderr, "learned markers: %d\n", len(h.Learned))
			for _, m := range h.Learned {
				fmt.Fprintf(e.stderr, "  %-12s %q (from %s)\n", m.Owner, m.Value, m.Request)
			}
			return
		}
	}
}

// sequential says whether the sequential baseline already leaked: such a
// leak needs no concurrency at all (a cache keyed without the session), and
// the fix differs.
func sequential(e *env, o *harness.Outcome) {
	{
		switch {
		case o == nil || o.Coverage == nil && o.Sequential == 0:
			// The setup did not get as far as the baseline.
		case o.Sequential > 0:
			fmt.Fprintf(e.stderr, "the sequential baseline already leaked: %d responses carried another user's data without any concurrency (burst 0)\n", o.Sequential)
		default:
			fmt.Fprintf(e.stderr, "the sequential baseline did not leak (burst 0: each user alone, one request at a time)\n")
		}
	}
}

// execute runs the harness, streaming every record to path ("-" for
// stdout, "" for nowhere) and folding each into the summary as it goes, so
// memory does not grow with the findings. tap, when set, sees every record
// too.
func execute(ctx context.Context, e *env, s *spec.Spec, opts harness.Options, path string, tap func(harness.Record)) (reports.Summary, error) {
	out, err := openResults(ctx, e, s, path, tap)
	if err != nil {
		return reports.Summary{}, err
	}
	p := newProgress(e, s.Name)
	opts.Progress = p.update
	_, err = harness.Run(ctx, s, opts, out.sink)
	p.done()
	if errors.Is(err, harness.ErrOptions) {
		out.abandon()
		return reports.Summary{}, err
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
	}
	return out.close(), nil
}

// specHash is the digest of the spec file as it is on disk, so that a
// report names the exact spec it tested; "" for a spec built in code.
func specHash(s *spec.Spec) string {
	if s.File == "" {
		return ""
	}
	data, err := os.ReadFile(s.File)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// verdictOf is the verdict of a stream's records; one without a verdict
// record is inconclusive.
func verdictOf(records []harness.Record) harness.Verdict {
	for i := len(records) - 1; i >= 0; i-- {
		if v := records[i].Outcome; v != nil {
			return v.Verdict
		}
	}
	return harness.Inconclusive
}
