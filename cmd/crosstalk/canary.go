package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/canary"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/reports/evidence"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

const canaryUsage = `
Usage: crosstalk canary -target SPEC [flags]

Watches a staged rollout. Probes every instance of the target continuously,
one burst of near-simultaneous requests from distinct synthetic users at a time,
bursts rotating over the instances, at a bounded rate (-rate) and under a hard
ceiling on requests in flight (-max-inflight) that holds when the target stalls.
Only the spec's read requests are sent, as the spec's own users. An expired
session (a 401, or a redirect) is logged in again and counted. Stops by itself
after -max-duration. Serves on -listen:

  GET  /metrics           Prometheus: probes, findings by kind, verdict, spread,
                          target errors, session refreshes, instances
  GET  /verdict           Argo Rollouts web metric: 200 JSON {leaks, verdict,
                          probes, window, instances} when measured (successCondition:
                          result.leaks == 0); 503 when it could not measure
  POST /flagger/check     Flagger pre-rollout or rollout webhook: 200 isolated,
                          409 leak (with the leak in the body), 503 inconclusive
  POST /flagger/rollback  Flagger rollback webhook: 200 once a leak was seen

Instances come from -instances, else -instances-from dns:NAME (every address of
a headless service), else the spec's instances:, else its base_url.

-once -for D makes one bounded check instead, for CI, the Argo job provider or
the Flagger loadtester's bash type, with the usual exit codes.

Examples:
  crosstalk canary -target spec.yaml -listen 127.0.0.1:9464 -rate 20/s
  crosstalk canary -target spec.yaml -instances-from dns:web.shop.svc.cluster.local -max-duration 2h
  crosstalk canary -target spec.yaml -instances http://10.1.0.4:8080,http://10.1.0.5:8080
  crosstalk canary -target spec.yaml -on-leak 'kubectl argo rollouts abort web'
  crosstalk canary -target spec.yaml -once -for 60s -o canary.jsonl
  crosstalk canary -bench                      # time to detect, simulated rollout on loopback
  crosstalk canary -bench -false-alarm 10m     # ... and 10 minutes against two correct builds
  crosstalk canary -bench -shares 0.25 -bursts same,mixed   # two ways of drawing bursts, side by side
  crosstalk canary -bench -shares 0.25 -burst 4,8 -builds process,inline   # burst sizes; where builds run

Bursts are released with the single-packet attack (h2) where an instance
speaks HTTP/2, else with lastbyte; -sync names one strategy for all.

With -bench, the builds run in a process of their own (-builds process) and
the canary at the idle CPU priority (-yield), as a canary in a pod of its own
on another node takes no CPU from the builds; -builds inline and -yield=false
measure what sharing it costs.

Exit codes: 0 isolated, 1 leak, 2 usage or config error, 3 inconclusive.
`

func runCanary(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "canary", canaryUsage)
	var (
		target, listen, rate, instances, from, requests, onLeak, out, syncName, bursts string
		burst, inflight, minProbes                                                     int
		err                                                                            error
		maxDuration, window, forD                                                      time.Duration
		once, trace, insecure                                                          bool
	)
	fs.StringVar(&target, "target", "", "the target spec, YAML or JSON (required)")
	fs.StringVar(&listen, "listen", "127.0.0.1:9464", "address to serve /metrics, /verdict and the Flagger webhooks on (with -once: none unless given)")
	fs.StringVar(&rate, "rate", "20/s", "probe requests per second over all instances, re-logins included")
	burstList := ""
	fs.StringVar(&burstList, "burst", "", "users per burst (default: 4, at most the spec's users; with -bench 8); with -bench, a comma-separated list to measure side by side")
	fs.IntVar(&inflight, "max-inflight", 0, "hard ceiling on requests in flight over all instances (default: twice -burst)")
	fs.DurationVar(&maxDuration, "max-duration", time.Hour, "stop by itself after this long")
	fs.DurationVar(&window, "window", canary.DefaultWindow, "the live verdict vouches for an instance only if it answered cleanly this recently")
	fs.IntVar(&minProbes, "min-probes", canary.DefaultMinProbes, "probes an instance needs before it can be called isolated")
	fs.StringVar(&instances, "instances", "", "comma-separated base URLs of the instances (replaces the spec's)")
	fs.StringVar(&from, "instances-from", "", "dns:NAME or dns:NAME:PORT: one instance per address NAME resolves to")
	fs.StringVar(&requests, "requests", "", "comma-separated read requests to probe with (default: every read that needs no extracted value)")
	fs.StringVar(&onLeak, "on-leak", "", "shell command to run once, on the first leak (CROSSTALK_LEAK_INSTANCE, _BACKEND, _VIEWER, _OWNER, _REQUEST are set)")
	fs.StringVar(&out, "o", "", "write the result stream (JSON Lines) to this file as the canary goes")
	fs.BoolVar(&trace, "trace", false, "add every exchange to the result stream")
	fs.BoolVar(&once, "once", false, "one bounded check of -for, then exit with the verdict's code")
	fs.DurationVar(&forD, "for", time.Minute, "with -once: how long the check probes")
	fs.StringVar(&syncName, "sync", "", "how bursts are released: "+strings.Join(harness.Strategies(), ", ")+" (default: h2 where an instance speaks HTTP/2, else lastbyte); with -bench, a comma-separated list, in which default names the default")
	fs.StringVar(&bursts, "bursts", canary.DefaultBursts, "how a burst's requests are drawn: mixed (each user its own weighted read) or same (every user the same read, the reads taking turns by weight); with -bench, a comma-separated list to measure side by side")
	fs.BoolVar(&insecure, "insecure", false, "skip TLS certificate checks (self-signed staging targets)")
	var bf benchDetectFlags
	fs.BoolVar(&bf.on, "bench", false, "instead of probing a target: measure the time to detect on a simulated rollout of the built-in webmail (-trials, -shares, -cap, -false-alarm)")
	fs.IntVar(&bf.trials, "trials", 10, "with -bench: trials per share and way of probing")
	fs.StringVar(&bf.shares, "shares", "0.05,0.25,1", "with -bench: the leaking build's shares of traffic")
	fs.DurationVar(&bf.cap, "cap", 30*time.Second, "with -bench: a trial that has not alarmed by then counts as at least this")
	fs.DurationVar(&bf.falseAlarm, "false-alarm", 0, "with -bench: also probe two correct builds this long and count false alarms (e.g. 10m)")
	builds := canary.BuildsProcess
	fs.StringVar(&builds, "builds", builds, "with -bench: where the simulated builds run: process (a process of their own, as a real rollout's pods) or inline (the canary's own process); a comma-separated list to measure side by side")
	fs.StringVar(&bf.modes, "modes", "instance,balancer", "with -bench: the ways of probing to measure: instance (each instance directly), balancer (through the balancer)")
	fs.BoolVar(&bf.yield, "yield", true, "with -bench: run the canary at the idle CPU priority, so that the builds get the cores first, as on machines of their own")
	var child bool
	fs.BoolVar(&child, "rollout-child", false, "internal to -bench: serve the simulated rollouts of its trials, controlled over standard input and output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if child {
		return serveRolloutChild(e)
	}
	if bf.on {
		r, err := parseRate(rate)
		if err != nil {
			return usageErr(e, "-rate: %v", err)
		}
		if !set["rate"] {
			r = 50
		}
		if !set["burst"] {
			burstList = "8"
		}
		var reqs []string
		if requests != "" {
			reqs = strings.Split(requests, ",")
		}
		// With -bench, -sync, -bursts, -builds and -burst may list several
		// settings: every combination is measured, trial by trial in turn.
		bf.variants, err = benchVariants(syncName, bursts, builds, burstList)
		if err != nil {
			return usageErr(e, "%v", err)
		}
		return runDetectBench(ctx, e, bf, r, reqs)
	}
	if burstList != "" {
		if burst, err = strconv.Atoi(burstList); err != nil || burst < 1 {
			return usageErr(e, "-burst: %q is not a number of users", burstList)
		}
	}
	if target == "" {
		return usageErr(e, "canary needs -target SPEC (or -bench) (see crosstalk canary -h)")
	}
	r, err := parseRate(rate)
	if err != nil {
		return usageErr(e, "-rate: %v", err)
	}
	if set["for"] && !once {
		return usageErr(e, "-for goes with -once; a continuous canary stops after -max-duration")
	}
	if instances != "" && from != "" {
		return usageErr(e, "give -instances or -instances-from, not both")
	}
	if once {
		maxDuration = forD
		if !set["listen"] {
			listen = ""
		}
	}
	s, err := spec.Load(target)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	cfg := canary.Config{Spec: s, Rate: r, BurstSize: burst, MaxInFlight: inflight, MaxDuration: maxDuration,
		Window: window, MinProbes: minProbes, Sync: syncName, Bursts: bursts, Insecure: insecure, Trace: trace}
	if instances != "" {
		cfg.Instances = strings.Split(instances, ",")
	}
	if from != "" {
		if cfg.Instances, err = canary.ResolveInstances(ctx, nil, from, s.BaseURL); err != nil {
			if errors.Is(err, canary.ErrConfig) {
				return usageErr(e, "-instances-from: %v", err)
			}
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return harness.ExitInconclusive
		}
	}
	if requests != "" {
		cfg.Requests = strings.Split(requests, ",")
	}
	if onLeak != "" {
		cfg.OnLeak = func(ctx context.Context, l canary.Leak) { runOnLeak(ctx, e, onLeak, l) }
	}
	var enc *reports.Encoder
	if out != "" {
		f, err := evidence.Create(out)
		if err != nil {
			return usageErr(e, "cannot write the result stream: %v", err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		enc = reports.NewEncoder(bw)
		cfg.Sink = func(r harness.Record) error {
			if err := enc.Encode(r); err != nil {
				return err
			}
			if r.Type == harness.RecordFinding || r.Type == harness.RecordVerdict || r.Type == harness.RecordHeader {
				return bw.Flush()
			}
			return nil
		}
	}
	c, err := canary.New(cfg)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return usageErr(e, "-listen: %v", err)
		}
		srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.Serve(ln)
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			wg.Wait()
		}()
		fmt.Fprintf(e.stderr, "crosstalk canary: serving http://%s/metrics, /verdict, /flagger/check, /flagger/rollback\n", ln.Addr())
	}
	fmt.Fprintf(e.stderr, "crosstalk canary: probing %s at %g requests/s for at most %v\n",
		strings.Join(c.Instances(), ", "), r, maxDuration)
	res, err := c.Run(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
	}
	v := c.Final()
	if res != nil {
		v.Verdict, v.Reason = res.Verdict, res.Reason
	}
	printCanary(e, v)
	if out != "" {
		fmt.Fprintf(e.stderr, "result stream written to %s\n", out)
	}
	if res == nil {
		return harness.ExitInconclusive
	}
	return res.Verdict.ExitCode()
}

// parseRate reads "20/s", "20" or "1200/m".
func parseRate(s string) (float64, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per := time.Second
	if ok {
		switch unit {
		case "s":
		case "m", "min":
			per = time.Minute
		default:
			return 0, fmt.Errorf("%q: the unit is /s or /m", s)
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive rate such as 20/s", s)
	}
	return n * float64(time.Second) / float64(per), nil
}

// runOnLeak runs the rollback command once, with the leak in its
// environment, its output going to the canary's stderr.
func runOnLeak(ctx context.Context, e *env, command string, l canary.Leak) {
	fmt.Fprintf(e.stderr, "crosstalk canary: LEAK on %s: %s saw %s's data (%s, %s marker); running -on-leak\n",
		where(l), l.Viewer, l.Owner, l.Request, l.Kind)
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Env = append(os.Environ(), "CROSSTALK_LEAK_INSTANCE="+l.Instance, "CROSSTALK_LEAK_BACKEND="+l.Backend, "CROSSTALK_LEAK_VIEWER="+l.Viewer,
		"CROSSTALK_LEAK_OWNER="+l.Owner, "CROSSTALK_LEAK_REQUEST="+l.Request)
	cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk canary: -on-leak failed: %v\n", err)
	}
}

func printCanary(e *env, v canary.Verdict) {
	fmt.Fprintf(e.stdout, "verdict: %s: %s\n", v.Verdict, v.Reason)
	fmt.Fprintf(e.stdout, "%-24s %-12s %7s %7s %6s %9s\n", "instance", "verdict", "probes", "errors", "leaks", "refreshes")
	for _, iv := range v.Instances {
		fmt.Fprintf(e.stdout, "%-24s %-12s %7d %7d %6d %9d\n", iv.Instance, iv.Verdict, iv.Probes, iv.Errors, iv.Leaks, iv.Refreshes)
	}
	for _, iv := range v.Instances {
		for _, b := range iv.Backends {
			fmt.Fprintf(e.stdout, "  %-22s %-12s %7d %7s %6d\n", "via "+b.Backend, "", b.Responses, "", b.Leaks)
		}
	}
	if l := v.FirstLeak; l != nil {
		fmt.Fprintf(e.stdout, "first leak: on %s, %s saw %s's data in %s (%s marker, %s) at %s\n",
			where(*l), l.Viewer, l.Owner, l.Request, l.Kind, l.Where, l.At.Format(time.RFC3339Nano))
	}
}

// where names the instance of a leak and, when a balancer named another, the
// backend that served it.
func where(l canary.Leak) string {
	if l.Backend == "" || l.Backend == l.Instance {
		return l.Instance
	}
	return l.Backend + " (through " + l.Instance + ")"
}

type benchDetectFlags struct {
	on         bool
	variants   []canary.DetectVariant
	trials     int
	shares     string
	cap        time.Duration
	falseAlarm time.Duration
	yield      bool
	modes      string
}

// runDetectBench measures the time from a leaking build taking traffic to
// the alarm, on the built-in webmail, and prints a markdown table.
func runDetectBench(ctx context.Context, e *env, bf benchDetectFlags, rate float64, reqs []string) int {
	var shares []float64
	for _, f := range strings.Split(bf.shares, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			return usageErr(e, "-shares: %q is not a share in (0, 1]", f)
		}
		shares = append(shares, v)
	}
	if rate > 50 {
		fmt.Fprintf(e.stderr, "crosstalk canary: note: -rate %g is above the 50 probes/s the figures are quoted at\n", rate)
	}
	s, err := spec.Parse("webmail.yaml", webmail.SpecYAML)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	var modes []string
	for _, m := range strings.Split(bf.modes, ",") {
		switch strings.TrimSpace(m) {
		case "instance":
			modes = append(modes, canary.ModeInstance)
		case "balancer":
			modes = append(modes, canary.ModeBalancer)
		default:
			return usageErr(e, "-modes: %q: want instance or balancer", m)
		}
	}
	// The builds' process starts before the canary lowers its priority,
	// which a child would inherit, and only if a variant runs its builds
	// there.
	var child *canary.RolloutProcess
	if slices.ContainsFunc(bf.variants, func(v canary.DetectVariant) bool { return v.Builds != canary.BuildsInline }) {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: the simulated rollout runs this program again: %v\n", err)
			return 1
		}
		child, err = canary.StartRolloutProcess(exec.Command(self, "canary", "-rollout-child"))
		if err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return 1
		}
		defer child.Close()
	}
	priority := applyYield(e, bf.yield)
	inline := canary.LocalLaunch(benchBuild)
	launch := func(ctx context.Context, sh canary.Shape) (canary.Rollout, error) {
		if sh.Builds == canary.BuildsInline {
			return inline(ctx, sh)
		}
		return child.Launch(ctx, sh)
	}
	cfg := canary.DetectConfig{Spec: s, Launch: launch, Modes: modes, Shares: shares, Trials: bf.trials, Rate: rate, Cap: bf.cap, Requests: reqs,
		Variants: bf.variants,
		Progress: func(mode string, share float64, n int, d time.Duration, capped bool) {
			mark := ""
			if capped {
				mark = " (capped)"
			}
			fmt.Fprintf(e.stderr, "%s, %g%%: trial %d: %v%s\n", mode, share*100, n, d.Round(time.Millisecond), mark)
		}}
	start := time.Now()
	rows, err := canary.MeasureDetection(ctx, cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
		return 1
	}
	probed := "the spec's default reads"
	if len(reqs) > 0 {
		probed = strings.Join(reqs, ", ")
	}
	setting := ""
	if len(bf.variants) == 1 {
		setting = "; " + bf.variants[0].String()
	}
	fmt.Fprintf(e.stdout, "Time from T0 (the lastlogin build takes X%% of traffic) to the alarm; %d trials a cell, %g probes/s (%s%s), cap %v, the canary at %s; %v in all; load average at the end %s.\n\n",
		bf.trials, rate, probed, setting, bf.cap, priority, time.Since(start).Round(time.Second), loadAverage())
	head, rule := "| share X |", "|---|"
	for _, mode := range modes {
		for _, v := range bf.variants {
			col := mode
			if len(bf.variants) > 1 {
				col += " (" + v.String() + ")"
			}
			head += " " + col + ": median / p90 |"
			rule += "---|"
		}
	}
	fmt.Fprintf(e.stdout, "%s\n%s\n", head, rule)
	for _, sh := range shares {
		var cells []string
		for _, mode := range modes {
			for _, v := range bf.variants {
				for _, r := range rows {
					if r.Mode == mode && r.Share == sh && r.Variant == v {
						cells = append(cells, detectCell(r))
					}
				}
			}
		}
		fmt.Fprintf(e.stdout, "| %g%% | %s |\n", sh*100, strings.Join(cells, " | "))
	}
	if bf.falseAlarm > 0 {
		fmt.Fprintf(e.stderr, "probing two correct builds for %v...\n", bf.falseAlarm)
		leaks, probes, err := canary.FalseAlarms(ctx, cfg, 2, bf.falseAlarm)
		if err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return 1
		}
		fmt.Fprintf(e.stdout, "\nFalse alarms against two correct builds in %v: %d in %d probes.\n", bf.falseAlarm, leaks, probes)
		if leaks > 0 {
			return 1
		}
	}
	return 0
}

// benchVariants is every combination of -bench's lists.
func benchVariants(syncs, bursts, builds, sizes string) ([]canary.DetectVariant, error) {
	var out []canary.DetectVariant
	for _, sn := range strings.Split(syncs, ",") {
		if sn = strings.TrimSpace(sn); sn == "default" {
			sn = ""
		}
		if sn != "" && !slices.Contains(harness.Strategies(), sn) {
			return nil, fmt.Errorf("-sync: %q: want default or one of %s (not auto)", sn, strings.Join(harness.Strategies(), ", "))
		}
		for _, b := range strings.Split(bursts, ",") {
			if b = strings.TrimSpace(b); b != canary.BurstsSame && b != canary.BurstsMixed {
				return nil, fmt.Errorf("-bursts: %q: want mixed or same", b)
			}
			for _, where := range strings.Split(builds, ",") {
				if where = strings.TrimSpace(where); where != canary.BuildsProcess && where != canary.BuildsInline {
					return nil, fmt.Errorf("-builds: %q: want process or inline", where)
				}
				for _, n := range strings.Split(sizes, ",") {
					size, err := strconv.Atoi(strings.TrimSpace(n))
					if err != nil || size < 2 {
						return nil, fmt.Errorf("-burst: %q: want a number of users, at least 2", n)
					}
					out = append(out, canary.DetectVariant{Sync: sn, Bursts: b, Builds: where, Size: size})
				}
			}
		}
	}
	return out, nil
}

// benchBuild is one build of the simulated rollout: the webmail, with the
// 2008 defect or without.
func benchBuild(buggy bool) (http.Handler, func(), error) {
	bug := webmail.BugNone
	if buggy {
		bug = webmail.BugLastLogin
	}
	// One seed for every build: the same accounts and mail, as builds of one
	// service over one database have.
	w, err := webmail.New(webmail.Options{Bug: bug, Work: webmail.DefaultWork, Seed: 1})
	if err != nil {
		return nil, nil, err
	}
	return w, w.Close, nil
}

// serveRolloutChild is the other end of -bench's rollout in a process of its
// own. Its parent is the bench, so its errors are short lines on stderr, which
// the parent quotes.
func serveRolloutChild(e *env) int {
	if err := canary.ServeRollouts(benchBuild, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: rollout: %v\n", err)
		return 1
	}
	return 0
}

// loadAverage is the 1-minute load average, where the system tells it, so
// that a figure says how busy the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func detectCell(r canary.DetectRow) string {
	c := fmt.Sprintf("%v / %v", r.Median.Round(time.Millisecond), r.P90.Round(time.Millisecond))
	if r.Capped > 0 {
		c = fmt.Sprintf("≥ %s (%d of %d capped)", c, r.Capped, r.Trials)
	}
	return c
}
