package canary

import (
	"bufio"
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
// and two /profile handlers then seldom overlap. Side by side on this 2-core
// machine (lastbyte, bursts of 8, 25% per instance), the median time to
// detect was 1.76 s with the builds inline and 0.96 s with them in a process
// of their own. A real canary runs in a pod of its own, so the bench runs
// the builds in a process of their own by default.
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

// maxRolloutInstances bounds one trial's instances: each is a server and a
// fixture with its own logins.
const maxRolloutInstances = 100

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
	case shape.Correct > maxRolloutInstances || (shape.Share > 0 && math.Round(1/shape.Share) > maxRolloutInstances):
		return nil, fmt.Errorf("%w: a simulated rollout has at most %d instances (a share of at least 1/%d)", ErrConfig, maxRolloutInstances, maxRolloutInstances)
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

// The protocol between the bench and its rollout process, a line at a time.
// The parent writes a [Shape] as JSON; the child serves that trial's
// rollout and answers with its instances as a JSON array, or with
// "error: ..." if it could not. The parent writes "start" at T0, and the
// child answers "started" once the leaking build takes its share; "close"
// ends the trial, answered by "closed". The end of the child's standard
// input (the parent closed it, or died) ends the child. One process serves
// every trial in turn, each with builds of its own, so that it can be
// started before the canary lowers its own CPU priority: a child inherits
// the priority of the thread that starts it.
const (
	startLine   = "start"
	startedLine = "started"
	closeLine   = "close"
	closedLine  = "closed"
	errorPrefix = "error: "
)

// ServeRollouts serves trials' rollouts in this process, one at a time, for
// a parent that runs the canary (see [StartRolloutProcess]), until in ends.
func ServeRollouts(build Build, in io.Reader, out io.Writer) error {
	var cur *localRollout
	defer func() {
		if cur != nil {
			_ = cur.Close()
		}
	}()
	reply := func(line string) error {
		_, err := fmt.Fprintf(out, "%s\n", line)
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var err error
		switch {
		case line == "":
		case line == startLine && cur != nil:
			_ = cur.Start()
			err = reply(startedLine)
		case line == closeLine:
			if cur != nil {
				_ = cur.Close()
				cur = nil
			}
			err = reply(closedLine)
		case strings.HasPrefix(line, "{") && cur == nil:
			var sh Shape
			if err = json.Unmarshal([]byte(line), &sh); err == nil {
				cur, err = startLocal(build, sh)
			}
			if err != nil {
				err = reply(errorPrefix + err.Error())
				break
			}
			b, _ := json.Marshal(cur.urls)
			err = reply(string(b))
		default:
			err = reply(errorPrefix + fmt.Sprintf("unexpected %q", line))
		}
		if err != nil {
			return err
		}
	}
	return sc.Err()
}

// RolloutProcess is the parent's end of [ServeRollouts] in a child process.
type RolloutProcess struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	lines   chan string
	stderr  *limitedWriter
	mu      sync.Mutex // one trial at a time
	closing sync.Once
	err     error
}

// StartRolloutProcess starts cmd, which must serve [ServeRollouts] over its
// standard input and output.
func StartRolloutProcess(cmd *exec.Cmd) (*RolloutProcess, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &RolloutProcess{cmd: cmd, in: in, lines: make(chan string), stderr: &limitedWriter{n: 4 << 10}}
	if cmd.Stderr == nil {
		cmd.Stderr = p.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rollout process: %w", err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p, nil
}

// ask sends line and waits for the child's answer.
func (p *RolloutProcess) ask(ctx context.Context, line string) (string, error) {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return "", p.failed(err)
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case got, ok := <-p.lines:
		if !ok {
			return "", p.failed(io.ErrUnexpectedEOF)
		}
		if msg, isErr := strings.CutPrefix(got, errorPrefix); isErr {
			return "", errors.New("rollout process: " + msg)
		}
		return got, nil
	case <-timer.C:
		return "", p.failed(errors.New("no answer within 30s"))
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (p *RolloutProcess) failed(err error) error {
	msg := strings.TrimSpace(p.stderr.String())
	if msg != "" {
		return fmt.Errorf("rollout process: %w: %s", err, msg)
	}
	return fmt.Errorf("rollout process: %w", err)
}

// Launch starts one trial's rollout in the process; trials take turns.
func (p *RolloutProcess) Launch(ctx context.Context, shape Shape) (Rollout, error) {
	p.mu.Lock()
	b, err := json.Marshal(shape)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	got, err := p.ask(ctx, string(b))
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	t := &processTrial{p: p}
	if err := json.Unmarshal([]byte(got), &t.urls); err != nil || len(t.urls) == 0 {
		p.mu.Unlock()
		return nil, fmt.Errorf("rollout process: no instances in %q", got)
	}
	return t, nil
}

// Close ends the child and waits for it.
func (p *RolloutProcess) Close() error {
	p.closing.Do(func() {
		_ = p.in.Close()
		done := make(chan error, 1)
		go func() {
			for range p.lines {
			}
			done <- p.cmd.Wait()
		}()
		select {
		case p.err = <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			p.err = <-done
		}
	})
	return p.err
}

type processTrial struct {
	p      *RolloutProcess
	urls   []string
	closed bool
}

func (t *processTrial) Instances() []string { return t.urls }

// Start returns once the child says the leaking build takes its share.
func (t *processTrial) Start() error {
	_, err := t.p.ask(context.Background(), startLine)
	return err
}

func (t *processTrial) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	defer t.p.mu.Unlock()
	_, err := t.p.ask(context.Background(), closeLine)
	return err
}

// limitedWriter keeps the first n bytes, for an error message.
type limitedWriter struct {
	mu sync.Mutex
	b  strings.Builder
	n  int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := min(len(b), l.n); k > 0 {
		l.b.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}

func (l *limitedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
