// Package bench measures crosstalk against the built-in webmail on loopback,
// in one process: how simultaneous each sync strategy's bursts arrive, how
// fast each finds the 2008 last-login leak, how fast the oracle scans, and
// how the harness's request rate compares with hey's. Every strategy is
// measured next to a naive baseline that fires the way race-the-web and
// hey-style tools do: its own client, so its own new connection, for every
// request, and no barrier.
//
// It is what "crosstalk bench" prints. Each section is a function that
// hands its rows to a callback as they are measured, so a long run shows
// progress; the figures are for side-by-side comparison within one run.
// Every section is bounded in requests and time.
package bench

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Config sizes a bench run.
type Config struct {
	// Trials is the number of time-to-first-leak trials per cell; the
	// median is reported.
	Trials int
	// Cap ends a trial that found no leak; it is then a lower bound.
	Cap time.Duration
	// Budget is the time of the whole time-to-first-leak section, shared
	// out among its cells as they run.
	Budget time.Duration
	// Bursts is the number of bursts per spread measurement.
	Bursts int
	// HeyTime is the length of each throughput run, hey's and crosstalk's.
	HeyTime time.Duration
	// ScanTime is how long each oracle figure is measured for.
	ScanTime time.Duration
}

// Defaults fit in about five minutes on a two-core machine.
func Defaults() Config {
	return Config{Trials: 10, Cap: 30 * time.Second, Budget: 220 * time.Second, Bursts: 300,
		HeyTime: 5 * time.Second, ScanTime: time.Second}
}

// Quick is a smoke run of about twenty seconds: figures of the same kind,
// with less to rest on.
func Quick() Config {
	return Config{Trials: 3, Cap: 2 * time.Second, Budget: 20 * time.Second, Bursts: 40,
		HeyTime: time.Second, ScanTime: 200 * time.Millisecond}
}

// Validate says what is wrong with c, if anything.
func (c Config) Validate() error {
	if c.Trials < 1 || c.Bursts < 1 || c.Cap <= 0 || c.Budget <= 0 || c.HeyTime <= 0 || c.ScanTime <= 0 {
		return errors.New("bench needs -trials ≥ 1, -bursts ≥ 1 and positive -cap, -budget and -hey-time")
	}
	return nil
}

// Naive names the baseline firer in every table.
const Naive = "naive (own client per request, no barrier)"

// Firers lists what each table compares, in its column order: the sync
// strategies, then the naive baseline.
func Firers() []string { return append(strategies(), Naive) }

// Machine describes where the figures were measured.
func Machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`model name\s*:\s*(.+)`).FindSubmatch(b); m != nil {
			model = strings.TrimSpace(string(m[1])) + ", "
		}
	}
	return fmt.Sprintf("%s%d cores (GOMAXPROCS %d), %s/%s, %s, loopback", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
}
