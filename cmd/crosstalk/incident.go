package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/incident"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
)

const incidentUsage = `
Usage: crosstalk incident -log FILE [-log FILE ...] [flags]
       crosstalk incident merge [flags] PARTIAL.json ...
       crosstalk incident -synthesize DIR

Reads access logs (JSON lines as the README's nginx log_format writes them,
nginx/Apache combined, HAR 1.2, or crosstalk serve -access-log; gzip is read
transparently; "-" is stdin) and answers who saw whose data:
  - direct evidence: the log names whose data was served (an owner field,
    another's resource, or a body hash equal to another user's for the same
    resource) - exact viewer -> owner pairs;
  - a mechanism bound: a leak model (request classes, window W, direction,
    one instance) applied to the overlaps in the log - upper bounds.
It classifies every user, flags sessions used from two addresses and users
who keep receiving others' data, draws a timeline by minute beside 2008's,
and derives a plan that crosstalk replay runs.

Examples:
  crosstalk incident -log /var/log/nginx/access.json.gz -deploy 2008-07-10T15:10:00Z \
      -classes '^/(inbox|profile|messages/)' -window 250us -users-csv users.csv
  crosstalk incident -log access.log -model-from results.jsonl -window 1ms
  crosstalk incident -log access.log -model-from ex/webmail-2.json -spec targets/webmail/webmail.yaml \
      -plan-out incident-plan.json && crosstalk replay -plan incident-plan.json -url http://127.0.0.1:8080
  crosstalk incident -synthesize /tmp/2008
  crosstalk incident -log /tmp/2008/access.log -shard 0/4 -partial-out p0.json   # one per shard
  crosstalk incident merge -truth /tmp/2008/truth.json p0.json p1.json p2.json p3.json

Exit codes: 0 no direct evidence of a leak, 1 direct evidence of a leak,
2 usage error or unreadable input (too many malformed lines included).
`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// incidentOutput are the flags shared by analysis and merge.
type incidentOutput struct {
	format, jsonOut, mdOut, usersCSV, planOut, partialOut string
	truth, specPath, baseURL, syncName, location          string
	windowFrom, windowUntil                               string
}

func (o *incidentOutput) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "format", "markdown", "report on stdout: markdown, json or none")
	fs.StringVar(&o.jsonOut, "json", "", "also write the JSON report to `FILE`")
	fs.StringVar(&o.mdOut, "md", "", "also write the markdown report to `FILE`")
	fs.StringVar(&o.usersCSV, "users-csv", "", "write the per-user classification to `FILE` (CSV)")
	fs.StringVar(&o.planOut, "plan-out", "", "derive a replayable plan from the leak windows into `FILE` (needs -spec)")
	fs.StringVar(&o.partialOut, "partial-out", "", "write the partial result to `FILE`, for crosstalk incident merge")
	fs.StringVar(&o.truth, "truth", "", "compare with a ground-truth `FILE` written by -synthesize")
	fs.StringVar(&o.specPath, "spec", "", "target spec whose users and requests the derived plan uses")
	fs.StringVar(&o.baseURL, "url", "", "base URL recorded in the derived plan (default: the spec's)")
	fs.StringVar(&o.syncName, "sync", "barrier", "sync strategy recorded in the derived plan")
	fs.StringVar(&o.windowFrom, "window-from", "", "start of the incident window users are classified in (RFC 3339; default: deploy or first leak)")
	fs.StringVar(&o.windowUntil, "window-until", "", "end of the incident window (RFC 3339; default: end of the last leak's minute)")
	fs.StringVar(&o.location, "tz", "UTC", "time zone of the timeline")
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("-%s %q: want a time like 2008-07-10T15:10:00Z", name, s)
}

func runIncident(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] == "merge" {
		return runIncidentMerge(ctx, e, args[1:])
	}
	fs := newFlagSet(e, "incident", incidentUsage)
	var (
		logs, classes, kinds                      listFlag
		logFormat, sessions, resources, ownerRule string
		modelFrom, direction, deploy, shard       string
		from, until, synthDir                     string
		window, horizon, synthWindow, synthThink  time.Duration
		across, matchSize, synthCombined          bool
		maxBad                                    float64
		synthUsers, synthInstances                int
		synthSeed                                 uint64
		harUser, harOwner, harSession             string
		out                                       incidentOutput
	)
	fs.Var(&logs, "log", "access log `FILE` to read (repeatable; .gz read transparently; - is stdin)")
	fs.StringVar(&logFormat, "log-format", "auto", "log format: auto, json, combined or har")
	fs.StringVar(&sessions, "sessions", "", "session → user mapping, a CSV `FILE` (session,user)")
	fs.StringVar(&resources, "resources", "", "resource → owner table, a CSV `FILE` (path,owner)")
	fs.StringVar(&ownerRule, "owner-rule", "", "path `REGEXP` whose first group is the owner (or the key into -resources)")
	fs.BoolVar(&matchSize, "match-size", false, "use the response size as a body hash where a line has none (weaker evidence)")
	fs.StringVar(&modelFrom, "model-from", "", "draw the leak model from a crosstalk result stream (.jsonl) or a plan `FILE`")
	fs.Var(&classes, "classes", "leak model: path `REGEXP` of the requests that share the state (repeatable)")
	fs.DurationVar(&window, "window", 0, "leak model: the race window W (with -classes or -model-from; default 1ms)")
	fs.StringVar(&direction, "direction", "", "leak model: who gets whose data: earlier (2008), later or either (default: earlier with -classes, either from findings)")
	fs.BoolVar(&across, "across-instances", false, "leak model: the shared state spans instances (a shared cache), not one process")
	fs.Var(&kinds, "kind", "map paths to a data kind, `REGEXP=KIND` (repeatable; default: attachments, mail, profile)")
	fs.StringVar(&deploy, "deploy", "", "when the defect went live (RFC 3339): no exposure is bounded before it")
	fs.StringVar(&shard, "shard", "", "analyse only instance shard `I/N` (write -partial-out and merge)")
	fs.StringVar(&from, "from", "", "analyse only requests starting at or after this time (RFC 3339); neighbours are read as context")
	fs.StringVar(&until, "until", "", "analyse only requests starting before this time (RFC 3339)")
	fs.DurationVar(&horizon, "horizon", time.Minute, "how far out of order a log line may be and still be compared with its neighbours")
	fs.Float64Var(&maxBad, "max-bad", 0.01, "give up when more than this share of lines (and more than 100) are malformed")
	fs.StringVar(&harUser, "har-user-header", "X-User", "HAR: request header with the user")
	fs.StringVar(&harOwner, "har-owner-header", "X-Data-Owner", "HAR: response header with the data owner")
	fs.StringVar(&harSession, "har-session-cookie", "sid", "HAR: request cookie with the session")
	fs.StringVar(&synthDir, "synthesize", "", "write a synthesized 2008 incident (access.log, sessions.csv, truth.json) into `DIR`")
	fs.IntVar(&synthUsers, "synth-users", 20000, "-synthesize: users")
	fs.IntVar(&synthInstances, "synth-instances", 8, "-synthesize: instances")
	fs.DurationVar(&synthWindow, "synth-window", 250*time.Microsecond, "-synthesize: the mechanism's window W")
	fs.DurationVar(&synthThink, "synth-think", time.Minute, "-synthesize: mean time between a user's requests")
	fs.Uint64Var(&synthSeed, "synth-seed", 2008, "-synthesize: random seed")
	fs.BoolVar(&synthCombined, "synth-combined", false, "-synthesize: write the log in the combined format (for comparing parsers)")
	out.register(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if synthDir != "" {
		o := incident.DefaultSynth()
		o.Users, o.Instances, o.Window, o.Think, o.Seed = synthUsers, synthInstances, synthWindow, synthThink, synthSeed
		o.Combined = synthCombined
		return synthesize(e, synthDir, o)
	}
	if len(logs) == 0 {
		return usageErr(e, "incident: give at least one -log FILE (or -synthesize DIR); -h shows examples")
	}
	opts := incident.Options{Horizon: horizon, MaxBadFraction: maxBad, MatchSize: matchSize,
		HAR: incident.HARFields{UserHeader: harUser, OwnerHeader: harOwner, SessionCookie: harSession}}
	var err error
	if opts.Deploy, err = parseTime("deploy", deploy); err != nil {
		return usageErr(e, "%v", err)
	}
	if opts.From, err = parseTime("from", from); err != nil {
		return usageErr(e, "%v", err)
	}
	if opts.Until, err = parseTime("until", until); err != nil {
		return usageErr(e, "%v", err)
	}
	if shard != "" {
		i, n, ok := strings.Cut(shard, "/")
		si, err1 := strconv.Atoi(i)
		sn, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || sn < 1 || si < 0 || si >= sn {
			return usageErr(e, "-shard %q: want I/N with 0 <= I < N", shard)
		}
		opts.Shard, opts.Shards = si, sn
	}
	for _, k := range kinds {
		kr, err := incident.ParseKindRule(k)
		if err != nil {
			return usageErr(e, "-kind: %v", err)
		}
		opts.Kinds = append(opts.Kinds, kr)
	}
	var allUsers []string
	if sessions != "" {
		m, err := readPairs(sessions)
		if err != nil {
			return usageErr(e, "-sessions: %v", err)
		}
		opts.Sessions = m
		seen := map[string]bool{}
		for _, u := range m {
			if !seen[u] {
				seen[u] = true
				allUsers = append(allUsers, u)
			}
		}
	}
	if resources != "" || ownerRule != "" {
		opts.Resources = &incident.Ownership{}
		if resources != "" {
			if opts.Resources.Table, err = readPairs(resources); err != nil {
				return usageErr(e, "-resources: %v", err)
			}
		}
		if ownerRule != "" {
			if opts.Resources.Rule, err = incident.ParseOwnerRule(ownerRule); err != nil {
				return usageErr(e, "-owner-rule: %v", err)
			}
		}
	}
	var dir incident.Direction
	if direction != "" {
		if dir, err = incident.ParseDirection(direction); err != nil {
			return usageErr(e, "-direction: %v", err)
		}
	}
	var sp *spec.Spec
	if out.specPath != "" {
		if sp, err = spec.Load(out.specPath); err != nil {
			return usageErr(e, "%v", err)
		}
	}
	if opts.Model, err = incidentModel(modelFrom, classes, window, dir, across, sp); err != nil {
		return usageErr(e, "%v", err)
	}
	var format incident.Format
	switch logFormat {
	case "auto":
	case "json", "combined", "har":
		format = incident.Format(logFormat)
	default:
		return usageErr(e, "-log-format %q: want auto, json, combined or har", logFormat)
	}
	a, err := incident.NewAnalyzer(opts)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	for _, name := range logs {
		if ctx.Err() != nil {
			fmt.Fprintln(e.stderr, "crosstalk: incident: interrupted; reporting what was read")
			break
		}
		if code := feedLog(ctx, e, a, name, format); code != 0 {
			return code
		}
	}
	p := a.Partial()
	if out.partialOut != "" {
		if err := writeFileWith(out.partialOut, func(w io.Writer) error { return incident.WritePartial(w, p) }); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return 1
		}
	}
	return finishIncident(e, p, out, allUsers, sp)
}

// feedLog reads one log; it stops early, keeping what was read, on Ctrl-C.
func feedLog(ctx context.Context, e *env, a *incident.Analyzer, name string, format incident.Format) int {
	var r io.Reader = os.Stdin
	var size int64
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return usageErr(e, "-log: %v", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		r = f
	}
	cr := &ctxReader{ctx: ctx, r: r}
	if e.tty {
		cr.progress = func(n int64) {
			if size > 0 {
				fmt.Fprintf(e.stderr, "\rreading %s: %d of %d MB", name, n>>20, size>>20)
			} else {
				fmt.Fprintf(e.stderr, "\rreading %s: %d MB", name, n>>20)
			}
		}
		defer fmt.Fprintln(e.stderr)
	}
	err := a.Feed(incident.Input{Name: name, R: cr, Format: format})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "crosstalk: incident: interrupted in %s; reporting what was read\n", name)
		return 0
	}
	if err != nil {
		return usageErr(e, "incident: %v", err)
	}
	return 0
}

// ctxReader ends a read at Ctrl-C, so that a huge log stops at once and the
// report covers what was read; on a terminal it shows how far it got.
type ctxReader struct {
	ctx      context.Context
	r        io.Reader
	n        int64
	last     time.Time
	progress func(n int64)
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && time.Since(c.last) > time.Second {
		c.last = time.Now()
		c.progress(c.n)
	}
	return n, err
}

func readPairs(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return incident.ReadPairsCSV(path, bufio.NewReader(f))
}

// incidentModel builds the leak model from -model-from or -classes.
func incidentModel(from string, classes []string, window time.Duration, dir incident.Direction, across bool, sp *spec.Spec) (*incident.Model, error) {
	if from == "" && len(classes) == 0 {
		if window != 0 {
			return nil, errors.New("-window needs -classes or -model-from")
		}
		return nil, nil
	}
	if window == 0 {
		window = time.Millisecond
	}
	var m *incident.Model
	var err error
	switch {
	case from != "":
		m, err = modelFromFile(from, window, dir, sp)
		if err != nil {
			return nil, err
		}
		m.Classes = append(m.Classes, classes...)
	default:
		if dir == "" {
			dir = incident.EarlierGetsLater
		}
		m = &incident.Model{Classes: classes, Window: window, Direction: dir, Source: "flags"}
	}
	m.AcrossInstances = across
	return m, m.Compile()
}

func modelFromFile(path string, window time.Duration, dir incident.Direction, sp *spec.Spec) (*incident.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-model-from: %w", err)
	}
	if f, err := fuzz.ParseFile(data); err == nil {
		if sp == nil && f.Spec != "" {
			sp, _ = spec.Load(f.Spec)
		}
		return incident.ModelFromPlan(f, sp, window, dir, "plan "+filepath.Base(path))
	}
	recs, err := reports.ReadAll(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("-model-from %s: neither a plan file nor a result stream: %w", path, err)
	}
	var fs []harness.Finding
	for _, r := range recs {
		if r.Finding != nil {
			fs = append(fs, *r.Finding)
		}
	}
	return incident.ModelFromFindings(fs, window, dir, "findings in "+filepath.Base(path))
}

func runIncidentMerge(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "incident merge", incidentUsage)
	var out incidentOutput
	out.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return harness.ExitUsage
	}
	if fs.NArg() == 0 {
		return usageErr(e, "incident merge: give the partial result files to merge")
	}
	var ps []*incident.Partial
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return usageErr(e, "incident merge: %v", err)
		}
		p, err := incident.ReadPartial(name, bufio.NewReader(f))
		f.Close()
		if err != nil {
			return usageErr(e, "incident merge: %v", err)
		}
		ps = append(ps, p)
	}
	p, err := incident.Merge(ps)
	if err != nil {
		return usageErr(e, "incident %v", err)
	}
	if out.partialOut != "" {
		if err := writeFileWith(out.partialOut, func(w io.Writer) error { return incident.WritePartial(w, p) }); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return 1
		}
	}
	var sp *spec.Spec
	if out.specPath != "" {
		if sp, err = spec.Load(out.specPath); err != nil {
			return usageErr(e, "%v", err)
		}
	}
	return finishIncident(e, p, out, nil, sp)
}

// finishIncident draws the report from the partial and writes every output.
func finishIncident(e *env, p *incident.Partial, out incidentOutput, users []string, sp *spec.Spec) int {
	fo := incident.FinalOptions{Users: users}
	var err error
	if fo.WindowFrom, err = parseTime("window-from", out.windowFrom); err != nil {
		return usageErr(e, "%v", err)
	}
	if fo.WindowUntil, err = parseTime("window-until", out.windowUntil); err != nil {
		return usageErr(e, "%v", err)
	}
	if fo.Location, err = time.LoadLocation(out.location); err != nil {
		return usageErr(e, "-tz: %v", err)
	}
	if out.truth != "" {
		f, err := os.Open(out.truth)
		if err != nil {
			return usageErr(e, "-truth: %v", err)
		}
		fo.Truth, err = incident.ReadTruth(out.truth, f)
		f.Close()
		if err != nil {
			return usageErr(e, "-truth: %v", err)
		}
	}
	r := incident.Finalize(p, fo)
	writes := []struct {
		path string
		fn   func(io.Writer) error
	}{
		{out.jsonOut, func(w io.Writer) error { return reports.IncidentJSON(w, r) }},
		{out.mdOut, func(w io.Writer) error { return reports.IncidentMarkdown(w, r) }},
		{out.usersCSV, func(w io.Writer) error { return incident.WriteUsersCSV(w, r) }},
	}
	for _, wr := range writes {
		if wr.path == "" {
			continue
		}
		if err := writeFileWith(wr.path, wr.fn); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return 1
		}
	}
	if out.planOut != "" {
		if sp == nil {
			return usageErr(e, "-plan-out needs -spec: the plan's users and requests are the spec's")
		}
		base := out.baseURL
		if base == "" {
			base = sp.BaseURL
		}
		abs, _ := filepath.Abs(out.specPath)
		f, notes, err := incident.DerivePlan(r, incident.PlanOptions{Spec: sp, SpecPath: abs, BaseURL: base, Sync: out.syncName})
		for _, n := range notes {
			fmt.Fprintf(e.stderr, "crosstalk: plan: %s\n", n)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: -plan-out: %v\n", err)
			return 1
		}
		if err := f.WriteFile(out.planOut); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
			return 1
		}
		replayURL := ""
		if f.BaseURL != "" {
			// replay goes only where the spec or -url says, so the
			// command names the URL the plan was derived for.
			replayURL = " -url " + spec.RedactURL(f.BaseURL)
		}
		fmt.Fprintf(e.stderr, "plan with %d steps in %d bursts saved to %s; run it with: crosstalk replay -plan %s%s\n",
			f.Plan.Len(), len(f.Plan.Bursts), out.planOut, out.planOut, replayURL)
	}
	switch out.format {
	case "markdown", "md":
		if err := reports.IncidentMarkdown(e.stdout, r); err != nil {
			return 1
		}
	case "json":
		if err := reports.IncidentJSON(e.stdout, r); err != nil {
			return 1
		}
	case "none", "":
	default:
		return usageErr(e, "-format %q: want markdown, json or none", out.format)
	}
	if r.Direct.Len() > 0 {
		return 1
	}
	return 0
}

func writeFileWith(path string, fn func(io.Writer) error) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fn(bw); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func synthesize(e *env, dir string, o incident.SynthOptions) int {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return usageErr(e, "-synthesize: %v", err)
	}
	logPath, sessPath, truthPath := filepath.Join(dir, "access.log"), filepath.Join(dir, "sessions.csv"), filepath.Join(dir, "truth.json")
	lf, err := os.Create(logPath)
	if err != nil {
		return usageErr(e, "-synthesize: %v", err)
	}
	sf, err := os.Create(sessPath)
	if err != nil {
		lf.Close()
		return usageErr(e, "-synthesize: %v", err)
	}
	sw := bufio.NewWriter(sf)
	truth, err := incident.Synthesize(o, incident.SynthSinks{Log: lf, Sessions: sw})
	if err == nil {
		err = sw.Flush()
	}
	lf.Close()
	sf.Close()
	if err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: -synthesize: %v\n", err)
		return 1
	}
	if err := writeFileWith(truthPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(truth)
	}); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: %v\n", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "synthesized the 2008 incident: %d users, %d instances, %s to %s, bug live from %s, blocking %s to %s, W %v\n",
		o.Users, o.Instances, o.Start.Format("15:04"), o.End.Format("15:04"), o.Deploy.Format("15:04"), o.BlockFrom.Format("15:04"), o.BlockAll.Format("15:04"), o.Window)
	fmt.Fprintf(e.stdout, "%d lines in %s (no user field: the session is mapped by %s); ground truth in %s: %d pairs, owners by kind %v\n",
		truth.Lines, logPath, sessPath, truthPath, truth.Pairs.Len(), truth.Owners)
	fmt.Fprintf(e.stdout, "analyse it:\n  crosstalk incident -log %s -sessions %s -deploy %s -classes '%s' -window %v -truth %s\n",
		logPath, sessPath, o.Deploy.Format(time.RFC3339), incident.SynthClasses[0], o.Window, truthPath)
	return 0
}
