// Command crosstalk proves that a multi-user web service keeps each user's data
// to that user under concurrency, and finds and explains it when it does not.
//
// Run "crosstalk -h" for the subcommands and "crosstalk <command> -h" for each
// one's flags and examples. Exit codes: 0 isolated, 1 leak, 2 usage or config
// error, 3 inconclusive.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// command is one subcommand. Each lives in its own file with its own FlagSet.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) int
}

// env is what a subcommand may touch of the process, so tests can run the
// commands in-process.
type env struct {
	stdout, stderr io.Writer
	// tty says whether stderr is a terminal: progress is drawn only then.
	tty bool
	// yield lowers this process's CPU scheduling class for good (see
	// yieldCPU); nil when the commands run inside another process, such as a
	// test, which must keep its own.
	yield func() error
}

// yieldFlag registers -yield, which replay and fuzz share.
func yieldFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("yield", true, "run crosstalk at the idle CPU priority, so that a target on the same machine gets the cores first")
}

// applyYield lowers the CPU priority when asked to and possible, and says
// what it did in a word for the command's header line.
func applyYield(e *env, want bool) string {
	if !want || e.yield == nil {
		return "normal CPU priority"
	}
	if err := e.yield(); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: -yield: %v; running at normal CPU priority\n", err)
		return "normal CPU priority"
	}
	return "idle CPU priority"
}

func commands() []command {
	return []command{
		{"demo", "find the 2008 last-login leak in the built-in webmail, then show the fixed one isolated", runDemo},
		{"run", "hunt for cross-user leaks in a target described by a spec", runRun},
		{"serve", "run the built-in webmail, with a bug of your choice, on loopback", runServe},
		{"report", "render a saved result stream as text, json, junit or markdown", runReport},
		{"fuzz", "search random plans for a leak, shrink it to a minimal replayable plan", runFuzz}, {"replay", "re-run a saved plan N times and print its reproduction rate", runReplay},
		{"canary", "probe a rollout's instances continuously; serve /metrics, Argo's /verdict, Flagger's webhooks", runCanary},
		{"bench", "measure burst spread, time to first leak, oracle and harness speed; print a markdown table", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C stops the work cleanly and keeps what was found;
		// a second one, if that takes too long, ends the process at once.
		<-ctx.Done()
		stop()
	}()
	e := &env{stdout: os.Stdout, stderr: os.Stderr, tty: isTerminal(os.Stderr), yield: yieldCPU}
	code := dispatch(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		topUsage(e.stderr)
		if len(args) == 0 {
			return harness.ExitUsage
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "crosstalk: unknown command %q\n\n", args[0])
	topUsage(e.stderr)
	return harness.ExitUsage
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, `crosstalk fires near-simultaneous requests from many users at a web service and
reports any response that carries another user's data.

Usage:
  crosstalk <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Examples:
  crosstalk demo
  crosstalk serve -bug lastlogin &
  crosstalk run -target targets/webmail/webmail.yaml -duration 10s
  crosstalk report -in results.jsonl -format junit > junit.xml

Exit codes: 0 isolated, 1 leak, 2 usage or config error, 3 inconclusive.
Run "crosstalk <command> -h" for a command's flags.
`)
}

// newFlagSet returns a FlagSet whose -h prints the usage text (with examples)
// and then the flags.
func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("crosstalk "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "%s\nFlags:\n", strings.TrimSpace(usage)+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns an exit code and false when the command
// must stop (after -h: 0; after a bad flag: 2).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return harness.ExitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return harness.ExitUsage, false
	}
	return 0, true
}

// usageErr prints a usage or config error and returns exit code 2.
func usageErr(e *env, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "crosstalk: "+format+"\n", a...)
	return harness.ExitUsage
}

// openTarget logs the spec's users in for the commands that fire plans. On
// failure it reports why and returns the exit code: 2 for bad options, 3
// when the target could not be made ready.
func openTarget(ctx context.Context, e *env, s *spec.Spec, opts harness.Options) (*harness.Target, int) {
	tgt, err := harness.NewTarget(ctx, s, opts, nil)
	if errors.Is(err, harness.ErrOptions) {
		return nil, usageErr(e, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
		return nil, harness.ExitInconclusive
	}
	return tgt, 0
}
