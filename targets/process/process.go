// Package process supervises the real software the end-to-end tests run as
// targets, such as mox and nginx: each runs in a process group of its own,
// its output goes to a log file, and Stop ends it together with everything it
// started, so that no test leaves a server behind on the machine.
//
// Limitations: it builds on Unix only (process groups). On Linux the kernel
// also kills the process when the thread that started it exits, which covers
// a test binary that dies first (a test timeout runs no cleanup); that signal
// reaches the group leader only, and elsewhere such a process outlives the
// test.
package process

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a started child process.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // from Wait, valid once done is closed
}

// Start runs cmd in a process group of its own, with its standard output and
// error appended to logPath. name labels errors ("mox", "nginx").
func Start(name string, cmd *exec.Cmd, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// WaitReady calls ready every interval until it reports true, the process
// exits, or limit has passed.
func (p *Process) WaitReady(ctx context.Context, limit, interval time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v", p.name, p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if ready(ctx) {
			return nil
		}
	}
}

// Stop sends sig to the process group (a graceful stop for the program at
// hand), then SIGKILL if the process has not exited within grace. The
// group is killed in the end either way: children the program started may
// outlive their leader. It is safe to call more than once.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) {
	pid := p.cmd.Process.Pid
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-pid, sig)
		t := time.NewTimer(grace)
		select {
		case <-p.done:
			t.Stop()
		case <-t.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// FreePort returns a loopback port that was free a moment ago. Another
// process can take it before it is bound, so callers retry a failed start.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
