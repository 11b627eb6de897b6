package canary

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Rollout is one trial's simulated deployment: the instances a canary
// probes, and a switch that lets the leaking build take its share of the
// reads (T0).
type Rollout interface {
	Instances() []string
	Start() error
	Close() error
}

// Launch starts the simulated rollout of one trial.
type Launch func(ctx context.Context, shape Shape) (Rollout, error)

// Shape says which rollout a trial needs.
type Shape struct {
	// Mode is ModeInstance or ModeBalancer; Share is the leaking build's
	// share of the reads from T0 on.
	Mode  string
	Share float64
	// Correct, when above 0, asks for that many correct builds and no
	// leaking one: the false-alarm run.
	Correct int
	// H2 serves h2c beside HTTP/1.1, for -sync h2.
	H2 bool
	// Builds says where the builds run (BuildsProcess or BuildsInline), for
	// a Launch that can do both.
	Builds string
}

// Where the builds run. A build in the canary's own process shares the Go
// scheduler with the canary's writers and readers: a handler that should
// start on the second core waits for one of the canary's goroutines to park,
// and two /profile handlers then seldom overlap. Measured on this 2-core
// machine, a burst of 8 at 50 probes/s found the lastlogin leak 0.07–0.14 of
// the time in one process and 0.21 (lastbyte) to 0.43 (barrier) against a
// server of its own. A real canary runs in a pod of its own, so the bench
// runs the builds in a process of their own by default.
const (
	BuildsProcess = "process"
	BuildsInline  = "inline"
)

// LocalLaunch serves every trial's fronts and builds in this process, on
// loopback.
func LocalLaunch(build Build) Launch {
	return func(_ context.Context, shape Shape) (Rollout, error) { return startLocal(build, shape) }
}

type localRollout struct {
	urls  []string
	t0    atomic.Bool
	stops []func()
}

func (l *localRollout) Instances() []string { return l.urls }

func (l *localRollout) Start() error { l.t0.Store(true); return nil }

func (l *localRollout) Close() error {
	for i := len(l.stops) - 1; i >= 0; i-- {
		l.stops[i]()
	}
	l.stops = nil
	return nil
}

func startLocal(build Build, shape Shape) (_ *localRollout, err error) {
	l := &localRollout{}
	defer func() {
		if err != nil {
			_ = l.Close()
		}
	}()
	make1 := func(buggy bool) (http.Handler, error) {
		h, stop, err := build(buggy)
		if err == nil {
			l.stops = append(l.stops, stop)
		}
		return h, err
	}
	pair := func(route func() int) (http.Handler, error) {
		good, err := make1(false)
		if err != nil {
			return nil, err
		}
		bad, err := make1(true)
		if err != nil {
			return nil, err
		}
		return newFront([]http.Handler{good, bad}, route), nil
	}
	var fronts []http.Handler
	switch {
	case shape.Correct > 0:
		for range shape.Correct {
			h, err := make1(false)
			if err != nil {
				return nil, err
			}
			fronts = append(fronts, h)
		}
	case shape.Share <= 0 || shape.Share > 1:
		return nil, fmt.Errorf("%w: share %g must be in (0, 1]", ErrConfig, shape.Share)
	case shape.Mode == ModeBalancer:
		f, err := pair(func() int {
			if l.t0.Load() && mrand.Float64() < shape.Share {
				return 1
			}
			return 0
		})
		if err != nil {
			return nil, err
		}
		fronts = append(fronts, f)
	case shape.Mode == ModeInstance:
		f, err := pair(func() int {
			if l.t0.Load() {
				return 1
			}
			return 0
		})
		if err != nil {
			return nil, err
		}
		fronts = append(fronts, f)
		for range max(1, int(math.Round(1/shape.Share))) - 1 {
			good, err := make1(false)
			if err != nil {
				return nil, err
			}
			fronts = append(fronts, newFront([]http.Handler{good}, func() int { return 0 }))
		}
	default:
		return nil, fmt.Errorf("%w: rollout mode %q", ErrConfig, shape.Mode)
	}
	for _, f := range fronts {
		srv := serve(f, shape.H2)
		l.stops = append(l.stops, srv.Close)
		l.urls = append(l.urls, srv.URL)
	}
	return l, nil
}

// The protocol between the bench and a rollout in a process of its own, a
// line at a time: the child writes its instances as a JSON array once it
// serves them; the parent writes "start" at T0, and the child answers
// "started" once the leaking build takes its share; the end of the child's
// standard input (the parent closed it, or died) ends the child.
const (
	startLine   = "start"
	startedLine = "started"
)

// ServeRollout serves one trial's rollout in this process for a parent that
// runs the canary (see [ProcessLaunch]): it writes the instances to out,
// starts the leaking build on "start" from in, and returns when in ends.
func ServeRollout(build Build, shape Shape, in io.Reader, out io.Writer) error {
	l, err := startLocal(build, shape)
	if err != nil {
		return err
	}
	defer l.Close()
	b, err := json.Marshal(l.urls)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch line := strings.TrimSpace(sc.Text()); line {
		case startLine:
			_ = l.Start()
			if _, err := fmt.Fprintf(out, "%s\n", startedLine); err != nil {
				return err
			}
		case "":
		default:
			return fmt.Errorf("rollout: unknown command %q", line)
		}
	}
	return sc.Err()
}

// ProcessLaunch runs every trial's rollout in a child process that
// command makes for the shape, speaking [ServeRollout]'s protocol over the
// child's standard input and output.
func ProcessLaunch(command func(Shape) *exec.Cmd) Launch {
	return func(ctx context.Context, shape Shape) (Rollout, error) {
		cmd := command(shape)
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		var stderr strings.Builder
		if cmd.Stderr == nil {
			cmd.Stderr = &limitedWriter{w: &stderr, n: 4 << 10}
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("rollout: %w", err)
		}
		p := &processRollout{cmd: cmd, in: in, started: make(chan struct{}, 1)}
		got := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			if !sc.Scan() {
				got <- cmp.Or(sc.Err(), io.ErrUnexpectedEOF)
				return
			}
			got <- json.Unmarshal(sc.Bytes(), &p.urls)
			// Read on to the end, so that a chatty child never blocks on its
			// output.
			for sc.Scan() {
				if sc.Text() == startedLine {
					p.started <- struct{}{}
				}
			}
		}()
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		select {
		case err = <-got:
		case <-timer.C:
			err = errors.New("it did not list its instances within 30s")
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil || len(p.urls) == 0 {
			_ = p.Close()
			return nil, fmt.Errorf("rollout process %s: %v %s", cmd.Path, orNoInstances(err), strings.TrimSpace(stderr.String()))
		}
		return p, nil
	}
}

func orNoInstances(err error) error {
	if err == nil {
		return errors.New("no instances")
	}
	return err
}

type processRollout struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	urls    []string
	started chan struct{}
	once    sync.Once
	err     error
}

func (p *processRollout) Instances() []string { return p.urls }

// Start returns once the child says the leaking build takes its share.
func (p *processRollout) Start() error {
	if _, err := io.WriteString(p.in, startLine+"\n"); err != nil {
		return err
	}
	select {
	case <-p.started:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("rollout process: no answer to start within 10s")
	}
}

func (p *processRollout) Close() error {
	p.once.Do(func() {
		_ = p.in.Close()
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case p.err = <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			p.err = <-done
		}
	})
	return p.err
}

// limitedWriter keeps the first n bytes, for an error message.
type limitedWriter struct {
	mu sync.Mutex
	w  io.Writer
	n  int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := min(len(b), l.n); k > 0 {
		_, _ = l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
