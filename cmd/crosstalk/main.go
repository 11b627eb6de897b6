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
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
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

// rateFlag is -rate: requests per second at most, written "50/s", "3000/m"
// or as a bare number of requests per second.
type rateFlag float64

func (r *rateFlag) String() string {
	if *r == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(*r), 'g', -1, 64) + "/s"
}

func (r *rateFlag) Set(s string) error {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	per := 1.0
	switch unit {
	case "", "s":
	case "m":
		per = 60
	default:
		return fmt.Errorf("the unit of %q is not /s or /m (requests per second or per minute)", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return fmt.Errorf("%q is not a number of requests, such as 50/s", s)
	}
	*r = rateFlag(n / per)
	return nil
}

// headerFlag is -H, repeatable: "Name: value", a header on every request.
type headerFlag http.Header

func (h headerFlag) String() string { return fmt.Sprint(len(h), " headers") }

func (h headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("%q is not of the form 'Name: value'", s)
	}
	http.Header(h).Add(name, strings.TrimSpace(value))
	return nil
}

// controlFlags registers -rate and -H, which run, fuzz and replay share.
func controlFlags(fs *flag.FlagSet) (*rateFlag, http.Header) {
	rate, header := new(rateFlag), http.Header{}
	fs.Var(rate, "rate", "at most this many requests per second over the bursts, as `N/s` (or N/m); bursts go whole, "+
		"so the cap holds on average (default: no cap)")
	fs.Var(headerFlag(header), "H", "add this header to every request, `'Name: value'`; repeatable. Its value is "+
		"redacted from reports like a credential")
	return rate, header
}

// rateWords states a rate with its unit, for the line a command prints
// when it starts.
func rateWords(r *rateFlag) string {
	if *r == 0 {
		return "no rate cap"
	}
	return "at most " + strconv.FormatFloat(float64(*r), 'g', 4, 64) + " requests/s"
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
		{"report", "render saved result streams as " + reports.NameList(), runReport},
		{"fuzz", "search random plans for a leak, shrink it to a minimal replayable plan", runFuzz}, {"replay", "re-run a saved plan N times and print its reproduction rate", runReplay},
		{"incident", "who saw whose data in an access log: exact pairs, upper bounds, timeline, a replayable plan", runIncident},
		{"canary", "probe a rollout's instances continuously; serve /metrics, Argo's /verdict, Flagger's webhooks", runCanary},
		{"bench", "measure burst spread, time to first leak, oracle and harness speed; print a markdown table", runBench},
		{"version", "print the crosstalk version, the Go version and the platform", runVersion},
	}
}

func main() {
	// A closed terminal (SIGHUP) and a stop from CI (SIGTERM) end the work as
	// Ctrl-C does: cleanly, with the verdict record written.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		// The first Ctrl-C stops the work cleanly and keeps what was found;
		// a second one, if that takes too long, ends the process at once.
		<-ctx.Done()
		stop()
	}()
	// A reader that goes away (crosstalk run -o - | head) must not kill
	// crosstalk with SIGPIPE before it writes its verdict and reports: with
	// the signal caught, the write fails with EPIPE and the run stops.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
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
	if args[0] == "-version" || args[0] == "--version" {
		return runVersion(ctx, e, args[1:])
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
  crosstalk version

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

// openFixture logs the spec's users in for the commands that fire plans. On
// failure it reports why and returns the exit code: 2 for bad options, 3
// when the target could not be made ready.
func openFixture(ctx context.Context, e *env, s *spec.Spec, opts harness.FixtureOptions) (*harness.Fixture, int) {
	fx, err := harness.NewFixture(ctx, s, opts, nil)
	if errors.Is(err, harness.ErrOptions) {
		return nil, usageErr(e, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
		return nil, harness.ExitInconclusive
	}
	return fx, 0
}

// cacheBustUsage is the help of fuzz's and replay's -cache-bust.
const cacheBustUsage = "add this query parameter, fresh for each burst, to every GET read, so that a cache in front of the target misses for every user of the burst at once (empty: off)"

// pointAt applies a -url flag to the spec (see [spec.Spec.Rebase]) and then
// warns once if the users' credentials would cross a network in the clear.
// raw "" keeps the spec's own base URL.
func pointAt(e *env, s *spec.Spec, raw string) error {
	if raw != "" {
		if spec.HasUserinfo(raw) {
			fmt.Fprintf(e.stderr, "crosstalk: -url: the user name and password in it are never sent, shown or saved; "+
				"log in through the spec (login type basic sends HTTP Basic)\n")
		}
		if err := s.Rebase(raw); err != nil {
			return err
		}
	}
	warnCleartext(e, s)
	return nil
}

// warnCleartext says, once per command, when logins go over plain http to a
// host that is not this machine: anyone on the path reads every password.
func warnCleartext(e *env, s *spec.Spec) {
	u, err := url.Parse(s.BaseURL)
	if err != nil || u.Scheme != "http" || s.Login.Type == spec.LoginNone || isLoopbackHost(u.Hostname()) {
		return
	}
	fmt.Fprintf(e.stderr, "crosstalk: warning: %s is not on this machine and is plain http: every user's credentials "+
		"will cross the network unencrypted; use https:// for a remote target\n", s.BaseURL)
}

// isLoopbackHost reports whether host names this machine: localhost or a
// loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

const versionUsage = `
Usage: crosstalk version   (or crosstalk -version)

Prints the crosstalk version, the Go version it was built with and the
platform. Result streams record the same version in their header.

Examples:
  crosstalk version
  crosstalk -version
`

func runVersion(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "version", versionUsage)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fmt.Fprintln(e.stdout, reports.VersionLine())
	return 0
}
