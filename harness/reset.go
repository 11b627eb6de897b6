package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/oracle"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// This file is the reset stage: how a fixture returns its target to a known
// state before an execution, so that an execution never fails only because
// an earlier one corrupted the target.

// ErrReset wraps a reset that failed: the command erred or timed out, a
// reset request was refused, or the users could not log in again after it.
// Executions after a failed reset would test a target in an unknown state,
// so they do not run.
var ErrReset = errors.New("reset failed")

// DefaultResetTimeout bounds a reset command when no timeout is given.
const DefaultResetTimeout = time.Minute

// CommandReset is a [Resetter] that runs command with "sh -c" and waits for
// it, at most timeout (0: [DefaultResetTimeout]). A command that exits
// non-zero, or outlives its timeout, fails the reset; the end of its output
// is in the error.
func CommandReset(command string, timeout time.Duration) Resetter {
	if timeout <= 0 {
		timeout = DefaultResetTimeout
	}
	return commandReset{command: command, timeout: timeout}
}

type commandReset struct {
	command string
	timeout time.Duration
}

func (c commandReset) String() string { return "command: " + c.command }

func (c commandReset) Reset(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", c.command)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A child that keeps the output open must not hold the reset past its
	// timeout.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("reset command %q did not finish within %v", c.command, c.timeout)
	}
	if err != nil {
		tail := strings.TrimSpace(out.String())
		if len(tail) > 300 {
			tail = "…" + tail[len(tail)-300:]
		}
		if tail != "" {
			return fmt.Errorf("reset command %q: %v: %s", c.command, err, tail)
		}
		return fmt.Errorf("reset command %q: %v", c.command, err)
	}
	return nil
}

// resets reports whether the fixture has a reset at all.
func (f *Fixture) resets() bool { return f.opts.Reset != nil || len(f.spec.Reset) > 0 }

// ResetName says how the target is reset before each execution ("" when it
// is not): the command or hook, then the spec's reset requests.
func (f *Fixture) ResetName() string {
	var parts []string
	if f.opts.Reset != nil {
		parts = append(parts, f.opts.Reset.String())
	}
	if n := len(f.spec.Reset); n > 0 {
		names := make([]string, n)
		for i, r := range f.spec.Reset {
			names[i] = r.Method + " " + r.Path
		}
		parts = append(parts, "spec: "+strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}

// SessionsName is "keep" when every execution fires through the setup's
// sessions, "fresh" when each logs its users in again.
func (f *Fixture) SessionsName() string {
	if f.keep {
		return spec.SessionsKeep
	}
	return spec.SessionsFresh
}

// Reset returns the target to a known state now, as an execution does
// before it starts when the fixture has a reset: the reset command or hook,
// then the spec's reset requests; then every user logs in again and,
// unless the spec says the reset keeps data, sends its seed requests again
// with the canaries the oracle knows. Writes granted by earlier executions
// are forgotten with the data they wrote. It fails, wrapping [ErrReset],
// when the fixture has no reset or any part of it failed.
func (f *Fixture) Reset(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("%w: the fixture is closed", ErrOptions)
	}
	if !f.resets() {
		return fmt.Errorf("%w: the fixture has no reset", ErrReset)
	}
	return f.reset(ctx)
}

func (f *Fixture) reset(ctx context.Context) error {
	f.clean = false
	if f.opts.Reset != nil {
		if err := f.opts.Reset.Reset(ctx); err != nil {
			return fmt.Errorf("%w: %v", ErrReset, err)
		}
	}
	for i := range f.spec.Reset {
		if err := f.resetRequest(ctx, &f.spec.Reset[i]); err != nil {
			return fmt.Errorf("%w: %v", ErrReset, err)
		}
	}
	// The target may have dropped every connection and session: start
	// from new ones.
	f.d.Close()
	for _, u := range f.users {
		ss := f.sessions[u]
		ss.closeAll()
		ss.resetAuth()
		if err := ss.login(ctx); err != nil {
			return fmt.Errorf("%w: logging in again: %v", ErrReset, err)
		}
	}
	if !f.spec.ResetKeepsData {
		clear(f.grants)
		if problems := f.plant(ctx, true); len(problems) > 0 {
			return fmt.Errorf("%w: planting the canaries again: %s", ErrReset, strings.Join(problems, "; "))
		}
	}
	f.lastBurst = time.Now()
	f.clean = true
	return nil
}

// resetRequest sends one of the spec's reset requests on a connection of
// its own, with no user's credentials.
func (f *Fixture) resetRequest(ctx context.Context, r *spec.ResetRequest) error {
	h := http.Header{}
	for k, v := range r.Header {
		h.Set(k, v)
	}
	c, err := f.d.Dial(ctx)
	if err != nil {
		return fmt.Errorf("reset request %s %s: %v", r.Method, r.Path, wire.DescribeErr(err, f.d.Timeout))
	}
	defer c.Close()
	_, resp, err := c.RoundTrip(wire.Build(f.base, r.Method, r.Path, h, []byte(r.Body)), time.Now().Add(f.d.Timeout), f.d.MaxBody)
	if err != nil {
		return fmt.Errorf("reset request %s %s: %v", r.Method, r.Path, wire.DescribeErr(err, f.d.Timeout))
	}
	ok := resp.Status >= 200 && resp.Status < 300
	if len(r.ExpectStatus) > 0 {
		ok = slices.Contains(r.ExpectStatus, resp.Status)
	}
	if !ok {
		return fmt.Errorf("reset request %s %s answered %d", r.Method, r.Path, resp.Status)
	}
	return nil
}

// plant sends every user's seed requests. again plants the canaries of the
// setup once more, after a reset wiped them; otherwise each "{{canary}}"
// is a new one. It returns what failed, naming the user.
func (f *Fixture) plant(ctx context.Context, again bool) []string {
	var problems []string
	for _, u := range f.users {
		ss := f.sessions[u]
		if again {
			ss.replant = slices.Clone(ss.canary)
		}
		for i := range f.spec.Seed {
			req := &f.spec.Seed[i]
			w, err := ss.build(req)
			if err != nil {
				problems = append(problems, fmt.Sprintf("user %s: seed %s: %v", u, req.Name, err))
				continue
			}
			ex, resp, err := ss.do(ctx, w)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("user %s: seed %s failed: %s", u, req.Name, ex.Err))
			case resp.Status >= 400:
				problems = append(problems, fmt.Sprintf("user %s: seed %s answered %d", u, req.Name, resp.Status))
			default:
				// A later request may use what the seed created (the id of
				// the record it planted).
				ss.extract(req.Extract, resp, oracle.DecodeContent(resp.Header, resp.Body))
				f.wrote(u, w.Raw)
			}
		}
		ss.replant = nil
		if ctx.Err() != nil {
			break
		}
	}
	return problems
}
