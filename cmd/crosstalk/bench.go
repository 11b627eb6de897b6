package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

const benchUsage = `
Usage: crosstalk bench [flags]

Measures, in one process against the built-in webmail on loopback, how
simultaneous each sync strategy's bursts are, how fast each finds the
last-login leak, how fast the oracle scans and how the harness's throughput
compares with hey's. Prints a markdown table with the command and machine.

Every part is bounded: -budget caps the time-to-first-leak section as a
whole (it is shared out among its cells as they run), -cap each trial.

Examples:
  crosstalk bench
  crosstalk bench -quick
  crosstalk bench -trials 10 -cap 30s -budget 30m   # the full measurement
`

// benchConfig shapes a bench run; the defaults fit in five minutes on a
// two-core machine.
type benchConfig struct {
	trials  int
	cap     time.Duration
	budget  time.Duration
	bursts  int
	heyTime time.Duration
	oracleT time.Duration
}

func runBench(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "bench", benchUsage)
	var cfg benchConfig
	quick := fs.Bool("quick", false, "a fast smoke run: 3 trials, 2s cap, 20s budget, fewer bursts")
	fs.IntVar(&cfg.trials, "trials", 10, "trials per time-to-first-leak cell (the median is reported)")
	fs.DurationVar(&cfg.cap, "cap", 30*time.Second, "cap per time-to-first-leak trial; a capped trial is a lower bound")
	fs.DurationVar(&cfg.budget, "budget", 220*time.Second, "total time for the time-to-first-leak section")
	fs.IntVar(&cfg.bursts, "bursts", 300, "bursts per spread measurement")
	fs.DurationVar(&cfg.heyTime, "hey-time", 5*time.Second, "duration of each throughput run (hey and crosstalk)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg.oracleT = time.Second
	if *quick {
		cfg.trials, cfg.cap, cfg.budget, cfg.bursts, cfg.heyTime, cfg.oracleT = 3, 2*time.Second, 20*time.Second, 40, time.Second, 200*time.Millisecond
	}
	if cfg.trials < 1 || cfg.cap <= 0 || cfg.budget <= 0 || cfg.bursts < 1 || cfg.heyTime <= 0 {
		return usageErr(e, "bench needs -trials ≥ 1, -bursts ≥ 1 and positive -cap, -budget and -hey-time")
	}
	w := e.stdout
	fmt.Fprintf(w, "Command: `crosstalk bench %s`\n\n", strings.Join(args, " "))
	fmt.Fprintf(w, "Machine: %s\n\n", machine())
	steps := []func(context.Context, io.Writer, benchConfig) error{benchSpread, benchLeak, benchOracle, benchThroughput}
	for _, step := range steps {
		if ctx.Err() != nil {
			break
		}
		if err := step(ctx, w, cfg); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: bench: %v\n", err)
			return 1
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(e.stderr, "crosstalk: bench interrupted; the table is incomplete")
		return 1
	}
	return 0
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.+)`).FindSubmatch(b); m != nil {
			model = strings.TrimSpace(string(m[1])) + ", "
		}
	}
	return fmt.Sprintf("%s%d cores (GOMAXPROCS %d), %s/%s, %s, loopback", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// benchTarget is a webmail served on loopback, speaking HTTP/1.1 and h2c.
type benchTarget struct {
	url string
	srv *webmail.Server
}

func startTarget(o webmail.Options) (*benchTarget, error) {
	srv, err := webmail.Start("", o)
	if err != nil {
		return nil, err
	}
	return &benchTarget{url: srv.URL(), srv: srv}, nil
}

func (t *benchTarget) close() { _ = t.srv.Stop() }

// benchSpec is the webmail spec for users accounts, firing /profile only:
// the page of the last-login bug, so every strategy and the naive baseline
// send the very same requests.
func benchSpec(users int) (*spec.Spec, error) {
	y := strings.Replace(string(webmail.SpecYAML), "count: 8", "count: "+strconv.Itoa(users), 1)
	s, err := spec.Parse("webmail.yaml", []byte(y))
	if err != nil {
		return nil, err
	}
	var reqs []spec.Request
	for _, r := range s.Requests {
		if r.Name == "profile" {
			reqs = append(reqs, r)
		}
	}
	s.Requests = reqs
	return s, nil
}

var benchStrategies = []string{harness.SyncBarrier, harness.SyncLastByte, harness.SyncH2}

const naive = "naive (own client per request, no barrier)"

// benchSpread measures arrival spread p50/p90 for bursts of 2 and 20.
func benchSpread(ctx context.Context, w io.Writer, cfg benchConfig) error {
	tg, err := startTarget(webmail.Options{Bug: webmail.BugNone, Users: 20, Work: 0, Seed: 1, ReportArrival: true})
	if err != nil {
		return err
	}
	defer tg.close()
	s, err := benchSpec(20)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### (a) Arrival spread at the server, p50 / p90 (%d bursts each, GET /profile, fixed webmail, no work)\n\n", cfg.bursts)
	fmt.Fprintf(w, "| strategy | N=2 | N=20 |\n|---|---|---|\n")
	for _, name := range append(slices.Clone(benchStrategies), naive) {
		row := "| " + name
		for _, n := range []int{2, 20} {
			var spreads []time.Duration
			if name == naive {
				spreads, err = naiveSpreads(ctx, tg.url, s, n, cfg.bursts)
			} else {
				spreads, err = harnessSpreads(ctx, tg.url, s, name, n, cfg.bursts)
			}
			if err != nil {
				row += " | failed: " + err.Error()
				continue
			}
			ps := harness.Percentiles(spreads, 50, 90)
			p50, p90 := ps[0], ps[1]
			row += fmt.Sprintf(" | %s / %s", us(p50), us(p90))
		}
		fmt.Fprintln(w, row+" |")
	}
	fmt.Fprintln(w)
	return nil
}

func harnessSpreads(ctx context.Context, url string, s *spec.Spec, sync string, n, bursts int) ([]time.Duration, error) {
	plan := &harness.Plan{}
	for b := range bursts {
		var st []harness.Step
		for i := range n {
			st = append(st, harness.Step{User: s.Resolved[(b+i)%len(s.Resolved)].Login, Request: "profile"})
		}
		plan.Bursts = append(plan.Bursts, harness.Burst{Steps: st})
	}
	var spreads []time.Duration
	out, err := harness.Run(ctx, s, harness.Options{BaseURL: url, Sync: sync, Plan: plan, BurstSize: n, Duration: time.Minute, Seed: 1},
		func(r harness.Record) error {
			if r.Burst != nil && r.Burst.ArrivalSpread > 0 {
				spreads = append(spreads, r.Burst.ArrivalSpread)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if out.Errors > 0 || len(spreads) == 0 {
		return nil, fmt.Errorf("%d errors: %s", out.Errors, out.Reason)
	}
	return spreads, nil
}

// naiveClient is how race-the-web and hey-style tools fire: every request
// from its own goroutine with its own client, so its own new connection.
func naiveGet(ctx context.Context, url, cookie string) (*http.Response, []byte, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Cookie", cookie)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

// login signs a webmail user in and returns the cookie header to send.
func login(ctx context.Context, base string, u spec.User) (string, error) {
	form := url.Values{"login": {u.Login}, "password": {u.Password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "sid" {
			return "sid=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("login of %s set no sid cookie (status %d)", u.Login, resp.StatusCode)
}

func cookies(ctx context.Context, base string, s *spec.Spec) ([]string, error) {
	out := make([]string, len(s.Resolved))
	for i, u := range s.Resolved {
		c, err := login(ctx, base, u)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// naiveBurst fires n requests, one goroutine and one client each, with no
// barrier, and returns what each got back.
func naiveBurst(ctx context.Context, base string, ck []string, first, n int) ([]time.Time, [][]byte, error) {
	arr := make([]time.Time, n)
	bodies := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, err := naiveGet(ctx, base+"/profile", ck[(first+i)%len(ck)])
			if err != nil {
				errs[i] = err
				return
			}
			bodies[i] = body
			if ns, perr := strconv.ParseInt(resp.Header.Get(harness.ArrivalHeader), 10, 64); perr == nil {
				arr[i] = time.Unix(0, ns)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return arr, bodies, nil
}

func naiveSpreads(ctx context.Context, base string, s *spec.Spec, n, bursts int) ([]time.Duration, error) {
	ck, err := cookies(ctx, base, s)
	if err != nil {
		return nil, err
	}
	var out []time.Duration
	for b := 0; b < bursts && ctx.Err() == nil; b++ {
		arr, _, err := naiveBurst(ctx, base, ck, b, n)
		if err != nil {
			return nil, err
		}
		lo, hi := arr[0], arr[0]
		for _, a := range arr {
			if a.IsZero() {
				return nil, fmt.Errorf("no arrival time reported")
			}
			lo, hi = minT(lo, a), maxT(hi, a)
		}
		out = append(out, hi.Sub(lo))
	}
	return out, nil
}

func minT(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxT(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// trial is one time-to-first-leak measurement; capped means no leak was
// seen within it, so d is a lower bound.
type trial struct {
	d      time.Duration
	capped bool
}

// benchLeak measures time to first leak on lastlogin for three windows.
// Cells share the -budget: each gets an equal part of what is left, so a
// cell that finishes early leaves more for the next ones.
func benchLeak(ctx context.Context, w io.Writer, cfg benchConfig) error {
	s, err := benchSpec(8)
	if err != nil {
		return err
	}
	works := []time.Duration{time.Microsecond, 200 * time.Nanosecond, 0}
	firers := append(slices.Clone(benchStrategies), naive)
	fmt.Fprintf(w, "### (b) Time to first leak on lastlogin, median of up to %d back-to-back trials (bursts of 8 users, GET /profile, cap %s per trial, %s for the section)\n\n", cfg.trials, cfg.cap, cfg.budget)
	fmt.Fprintf(w, "| window (Work) |")
	for _, f := range firers {
		fmt.Fprintf(w, " %s |", f)
	}
	fmt.Fprintf(w, " baseline / best |\n|---|%s---|\n", strings.Repeat("---|", len(firers)))
	deadline := time.Now().Add(cfg.budget)
	cells := len(works) * len(firers)
	for _, work := range works {
		tg, err := startTarget(webmail.Options{Bug: webmail.BugLastLogin, Users: 8, Work: work, Seed: 1})
		if err != nil {
			return err
		}
		label := work.String()
		if work == 0 {
			label = "0 (none)"
		}
		row := "| " + label
		var meds []trial
		for _, f := range firers {
			share := time.Until(deadline) / time.Duration(max(1, cells))
			cells--
			ts := leakTrials(ctx, tg.url, s, f, cfg, time.Now().Add(share))
			m, exact := median(ts)
			meds = append(meds, m)
			row += " | " + fmtMedian(m, exact, len(ts), cfg.trials)
		}
		tg.close()
		row += " | " + ratio(meds[len(meds)-1], meds[:len(meds)-1])
		fmt.Fprintln(w, row+" |")
	}
	fmt.Fprintln(w, "\nA cell shows the median of the trials that ran and, when fewer than planned ran (the budget ran out, or more than half were capped so the median was settled), how many; ≥ marks a lower bound set by a capped trial.")
	fmt.Fprintln(w)
	return nil
}

// leakTrials measures up to cfg.trials times to first leak, until until.
//
// The trials run back to back on one warm run: each starts when the
// previous one found its leak (or hit the cap), and ends at the next burst
// with a finding. Bursts are independent draws and the defect keeps no
// state between requests, so each such trial is distributed as a time to
// first leak from a fresh start, without paying the login and baseline of a
// fresh run every time; that is what lets ten trials per cell fit the
// budget. A trial that reaches the cap is recorded as a capped lower bound
// and the next one starts; so is the trial the budget cuts short. The cell
// stops early once more than half of the planned trials are capped: the
// median is then a lower bound that more trials cannot change.
func leakTrials(ctx context.Context, base string, s *spec.Spec, firer string, cfg benchConfig, until time.Time) []trial {
	t := &trials{cfg: cfg, until: until}
	if firer == naive {
		naiveLeaks(ctx, base, s, t)
	} else {
		harnessLeaks(ctx, base, s, firer, t)
	}
	return t.out
}

// trials is the bookkeeping of one cell's back-to-back trials.
type trials struct {
	cfg    benchConfig
	until  time.Time
	start  time.Time
	out    []trial
	capped int
}

// enough says whether the cell is done: all trials taken, the median
// settled as a lower bound, or the budget spent.
func (t *trials) enough() bool {
	return len(t.out) >= t.cfg.trials || t.capped > t.cfg.trials/2 || !time.Now().Before(t.until)
}

// tick is called after every burst, leaked or not. It ends the trial at a
// leak, or caps it, and starts the next.
func (t *trials) tick(leaked bool) {
	now := time.Now()
	switch {
	case leaked:
		t.out = append(t.out, trial{d: now.Sub(t.start)})
	case now.Sub(t.start) >= t.cfg.cap:
		t.out = append(t.out, trial{d: now.Sub(t.start), capped: true})
		t.capped++
	default:
		return
	}
	t.start = now
}

// cut records the trial in progress when the budget ends it, if it ran
// long enough to say anything.
func (t *trials) cut() {
	if len(t.out) < t.cfg.trials && !t.start.IsZero() {
		if d := time.Since(t.start); d > 0 && t.capped <= t.cfg.trials/2 {
			t.out = append(t.out, trial{d: d, capped: true})
		}
	}
}

var errCellDone = errors.New("bench cell done")

func harnessLeaks(ctx context.Context, base string, s *spec.Spec, sync string, t *trials) {
	lastLeak := -1
	leaked := false
	_, _ = harness.Run(ctx, s, harness.Options{BaseURL: base, Sync: sync, Duration: time.Until(t.until) + 10*time.Second, BurstSize: 8},
		func(r harness.Record) error {
			switch {
			case r.Header != nil:
				t.start = time.Now() // setup is done; the bursts start
			case r.Finding != nil && r.Finding.Burst > 0 && r.Finding.Burst != lastLeak:
				lastLeak, leaked = r.Finding.Burst, true
			case r.Burst != nil:
				t.tick(leaked)
				leaked = false
				if t.enough() {
					return errCellDone
				}
			}
			return nil
		})
	t.cut()
}

func naiveLeaks(ctx context.Context, base string, s *spec.Spec, t *trials) {
	ck, err := cookies(ctx, base, s)
	if err != nil {
		return
	}
	emails := make([][]byte, len(s.Resolved))
	for i, u := range s.Resolved {
		emails[i] = []byte(u.Email)
	}
	t.start = time.Now()
	for ctx.Err() == nil && !t.enough() {
		_, bodies, err := naiveBurst(ctx, base, ck, 0, len(ck))
		leaked := false
		for i, body := range bodies {
			for j, e := range emails {
				if j != i && bytes.Contains(body, e) {
					leaked = true
				}
			}
		}
		if err == nil {
			t.tick(leaked)
		}
	}
	t.cut()
}

// median returns the nearest-rank (lower) median of the trials that ran.
// A capped trial only bounds its value from below, so when one ranks at or
// below the median, the median is itself a lower bound and exact is false.
func median(ts []trial) (trial, bool) {
	if len(ts) == 0 {
		return trial{capped: true}, false
	}
	all := slices.Clone(ts)
	slices.SortStableFunc(all, func(a, b trial) int { return int(a.d - b.d) })
	k := (len(all)+1)/2 - 1
	m := all[k]
	for _, t := range all[:k+1] {
		if t.capped {
			m.capped = true
		}
	}
	return m, !m.capped
}

func fmtMedian(m trial, exact bool, ran, planned int) string {
	s := human(m.d)
	if !exact {
		s = "≥ " + s
	}
	if ran < planned {
		s += fmt.Sprintf(" (%d/%d trials)", ran, planned)
	}
	return s
}

func ratio(baseline trial, strategies []trial) string {
	best := strategies[0]
	for _, t := range strategies[1:] {
		if t.d < best.d || (best.capped && !t.capped) {
			best = t
		}
	}
	if best.capped {
		return "n/a (no strategy found it)"
	}
	if best.d <= 0 {
		return "n/a"
	}
	r := float64(baseline.d) / float64(best.d)
	if baseline.capped {
		return fmt.Sprintf("≥ %.1f×", r)
	}
	return fmt.Sprintf("%.1f×", r)
}

// benchOracle measures oracle scan speed on webmail-like pages.
func benchOracle(_ context.Context, w io.Writer, cfg benchConfig) error {
	fmt.Fprintf(w, "### (c) Oracle throughput (one core, 1 MiB HTML-like pages, 100 users)\n\n| markers | MB/s | responses/s (8 KiB pages) |\n|---|---|---|\n")
	canaries, identity, planted := benchMarkers(100)
	learned := slices.Clone(identity)
	for i := range 10000 {
		v := fmt.Sprintf("ORD-%05d-%c%c", i, 'A'+i%26, 'A'+i/26%26)
		learned = append(learned, oracle.Marker{Owner: fmt.Sprintf("user%d", i%100), Kind: oracle.Learned, Value: v, Label: "GET /orders"})
		if i%100 == 1 {
			planted = append(planted, v)
		}
	}
	for _, c := range []struct {
		name string
		ms   []oracle.Marker
	}{{"seeded canaries (100 users)", canaries}, {"canaries + login and e-mail (100 users)", identity},
		{"canaries + login and e-mail + 10,000 learned", learned}} {
		o, err := oracle.New(c.ms)
		if err != nil {
			return err
		}
		big := page(1<<20, planted)
		small := page(8<<10, planted)
		mbs := scanRate(o, big, cfg.oracleT) * float64(len(big)) / 1e6
		rps := scanRate(o, small, cfg.oracleT)
		fmt.Fprintf(w, "| %s | %.0f | %.0f |\n", c.name, mbs, rps)
	}
	fmt.Fprintln(w)
	return nil
}

// benchMarkers returns n users' canaries, the same plus each user's login
// and e-mail, and the values to plant in pages.
func benchMarkers(n int) (canaries, identity []oracle.Marker, planted []string) {
	for i := range n {
		u := fmt.Sprintf("user%d", i)
		c := oracle.NewCanary()
		canaries = append(canaries, oracle.Marker{Owner: u, Kind: oracle.Canary, Value: c})
		identity = append(identity, oracle.Marker{Owner: u, Kind: oracle.Canary, Value: c},
			oracle.Marker{Owner: u, Kind: oracle.Identity, Value: u + "x", Label: "login"},
			oracle.Marker{Owner: u, Kind: oracle.Identity, Value: u + "@webmail.test", Label: "email"})
		planted = append(planted, c)
	}
	return canaries, identity, planted
}

// page builds size bytes of HTML-like text, with a marker of some user
// planted every few kilobytes, so that the scan also reports matches.
func page(size int, plant []string) []byte {
	words := strings.Fields(`the inbox message from subject date reply forward delete archive settings account
		profile logout welcome back unread starred draft sent Monday January meeting notes project report budget`)
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		switch i % 11 {
		case 0:
			b.WriteString(`<div class="row"><a href="/messages/`)
			b.WriteString(strconv.Itoa(i))
			b.WriteString(`">`)
		case 5:
			b.WriteString("</a></div>\n")
		default:
			b.WriteString(words[(i*7)%len(words)])
			b.WriteByte(' ')
		}
		if i%700 == 350 {
			b.WriteString(plant[(i/700)%len(plant)] + " ")
		}
	}
	return b.Bytes()
}

// scanRate returns scans per second of body as viewer user0, over about d.
func scanRate(o *oracle.Oracle, body []byte, d time.Duration) float64 {
	r := oracle.Response{Status: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: body}
	start := time.Now()
	n := 0
	for time.Since(start) < d && n < 10_000_000 {
		o.Scan("user0", r)
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

// benchThroughput compares the harness's request rate, every response
// checked by the oracle, with hey's on the same fixed webmail and page.
func benchThroughput(ctx context.Context, w io.Writer, cfg benchConfig) error {
	tg, err := startTarget(webmail.Options{Bug: webmail.BugNone, Users: 8, Work: webmail.DefaultWork, Seed: 1})
	if err != nil {
		return err
	}
	defer tg.close()
	s, err := benchSpec(8)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### (d) Throughput on the fixed webmail (GET /profile, work %s, %s each, concurrency 8)\n\n| tool | requests/s | vs hey |\n|---|---|---|\n", webmail.DefaultWork, cfg.heyTime)
	heyRate, heyNote := runHey(ctx, tg.url, s, cfg.heyTime)
	for _, sync := range benchStrategies {
		out, err := harness.Run(ctx, s, harness.Options{BaseURL: tg.url, Sync: sync, Duration: cfg.heyTime, BurstSize: 8, Seed: 1}, nil)
		if err != nil {
			return err
		}
		rate := float64(out.Requests) / out.Elapsed.Seconds()
		vs := heyNote
		if heyRate > 0 {
			vs = fmt.Sprintf("%.0f%%", 100*rate/heyRate)
		}
		fmt.Fprintf(w, "| crosstalk run -sync %s (every response scanned; %d errors) | %.0f | %s |\n", sync, out.Errors, rate, vs)
	}
	if heyRate > 0 {
		fmt.Fprintf(w, "| hey -c 8 (keep-alive, nothing checked) | %.0f | 100%% |\n", heyRate)
	} else {
		fmt.Fprintf(w, "| hey | — | %s |\n", heyNote)
	}
	fmt.Fprintln(w)
	return nil
}

var heyRateRe = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)

func runHey(ctx context.Context, base string, s *spec.Spec, d time.Duration) (float64, string) {
	path, err := exec.LookPath("hey")
	if err != nil {
		return 0, "hey is not installed (apt-get install hey), so no ratio"
	}
	ck, err := login(ctx, base, s.Resolved[0])
	if err != nil {
		return 0, "login for hey failed: " + err.Error()
	}
	hctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(hctx, path, "-z", d.String(), "-c", "8", "-H", "Cookie: "+ck, base+"/profile").Output()
	if err != nil {
		return 0, "hey failed: " + err.Error()
	}
	m := heyRateRe.FindSubmatch(out)
	if m == nil {
		return 0, "hey printed no Requests/sec"
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v, ""
}

func us(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func human(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return us(d)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}
