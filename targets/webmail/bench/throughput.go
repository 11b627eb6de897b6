package bench

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// ThroughputUsers is both the users of the harness's bursts and hey's
// concurrency.
const ThroughputUsers = 8

// RateRow is one tool's request rate on the fixed webmail.
type RateRow struct {
	// Sync is the strategy of a crosstalk run; "" for hey.
	Sync   string
	PerSec float64
	// Errors counts a crosstalk run's failed exchanges.
	Errors int
	// VsHey is the rate as a share of hey's, or why there is none.
	VsHey string
}

// Throughput runs hey and then crosstalk with every strategy on the fixed
// webmail's profile page for cfg.HeyTime each, every crosstalk response
// scanned by the oracle and hey's checked not at all, and hands over a row
// per crosstalk run and one for hey last. Without hey installed, or when it
// failed, hey's row has no rate and every VsHey says why.
func Throughput(ctx context.Context, cfg Config, row func(RateRow)) error {
	srv, err := webmail.Start("", webmail.Options{Bug: webmail.BugNone, Users: ThroughputUsers, Work: webmail.DefaultWork, Seed: 1})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Stop() }()
	s, err := webmailSpec(ThroughputUsers)
	if err != nil {
		return err
	}
	heyRate, heyNote := runHey(ctx, srv.URL(), s, cfg.HeyTime)
	for _, sync := range strategies() {
		rate, errs, err := harnessRate(ctx, srv.URL(), s, sync, cfg.HeyTime)
		if err != nil {
			return err
		}
		vs := heyNote
		if heyRate > 0 {
			vs = fmt.Sprintf("%.0f%%", 100*rate/heyRate)
		}
		row(RateRow{Sync: sync, PerSec: rate, Errors: errs, VsHey: vs})
	}
	if heyRate > 0 {
		row(RateRow{PerSec: heyRate, VsHey: "100%"})
	} else {
		row(RateRow{VsHey: heyNote})
	}
	return nil
}

var (
	heyRateRe   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyStatusRe = regexp.MustCompile(`(?m)^\s+\[(\d+)\]\s+(\d+) responses`)
)

// runHey fires hey at the spec's request as its first user and returns
// its rate, or 0 and why not.
func runHey(ctx context.Context, base string, s *spec.Spec, d time.Duration) (float64, string) {
	path, err := exec.LookPath("hey")
	if err != nil {
		return 0, "hey is not installed (apt-get install hey), so no ratio"
	}
	creds, err := logins(ctx, base, s)
	if err != nil {
		return 0, "login for hey failed: " + err.Error()
	}
	args := []string{"-z", d.String(), "-c", strconv.Itoa(ThroughputUsers)}
	for k, vs := range creds[0] {
		for _, v := range vs {
			args = append(args, "-H", k+": "+v)
		}
	}
	hctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(hctx, path, append(args, base+s.Requests[0].Path)...).Output()
	if err != nil {
		return 0, "hey failed: " + err.Error()
	}
	return heyResult(string(out))
}

// heyResult reads hey's rate from its summary. hey counts every reply and
// every failed connection as a request, so the rate stands only when each
// one was a 200: a login gone wrong would otherwise be timed as redirects.
func heyResult(out string) (float64, string) {
	m := heyRateRe.FindStringSubmatch(out)
	if m == nil {
		return 0, "hey printed no Requests/sec"
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil || v <= 0 {
		return 0, "hey measured no rate"
	}
	ok := 0
	for _, st := range heyStatusRe.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(st[2])
		if st[1] != "200" {
			return 0, fmt.Sprintf("hey got %d responses of status %s, so no ratio", n, st[1])
		}
		ok += n
	}
	if ok == 0 || strings.Contains(out, "Error distribution") {
		return 0, "hey's requests failed, so no ratio"
	}
	return v, ""
}
