// Package nginx runs nginx (from the distribution's package) on loopback as a
// caching reverse proxy in front of a real target, in one of three
// configurations that crosstalk must tell apart:
//
//   - [URLKeyed]: a response cache keyed on the URL only, which leaks every
//     user's mail to whoever asks next, sequential requests included;
//   - [Microcache]: a 1 s cache that coalesces simultaneous requests with
//     proxy_cache_lock, which leaks only when requests arrive together;
//   - [Correct]: the same cache keyed on the user's credentials too, which is
//     isolated.
//
// The configurations are the *.conf.tmpl files next to this file, rendered
// by [Render]; their comments say why each one leaks or does not. [Start]
// runs nginx in the foreground as a single process in a process group of its
// own, so that [Server.Stop] ends it whatever state a test left it in.
package nginx

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"text/template"
	"time"
)

// Mode names a configuration.
type Mode string

// The configurations.
const (
	URLKeyed   Mode = "urlkey"
	Microcache Mode = "microcache"
	Correct    Mode = "correct"
)

// Modes lists every configuration.
func Modes() []Mode { return []Mode{URLKeyed, Microcache, Correct} }

//go:embed *.conf.tmpl
var templates embed.FS

// Params fill a configuration template.
type Params struct {
	// Listen is the loopback host:port nginx listens on.
	Listen string
	// Upstream is the host:port of the target behind nginx.
	Upstream string
	// Dir holds the pid file, logs, temporary files and the cache.
	Dir string
}

// Render returns the nginx.conf of a mode.
func Render(m Mode, p Params) ([]byte, error) {
	raw, err := templates.ReadFile(string(m) + ".conf.tmpl")
	if err != nil {
		return nil, fmt.Errorf("unknown nginx mode %q", m)
	}
	t, err := template.New(string(m)).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// FindBinary locates nginx on $PATH or in /usr/sbin, where Debian's
// package puts it (not on a normal user's $PATH).
func FindBinary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx not found: run ./test.sh (it installs nginx with apt-get)")
}

// Server is a running nginx.
type Server struct {
	Mode Mode
	// Addr is the loopback host:port nginx listens on.
	Addr string
	Dir  string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// URL returns nginx's base URL.
func (s *Server) URL() string { return "http://" + s.Addr }

// Start renders mode's configuration into dir and runs nginx from bin in
// front of upstream. It returns once nginx accepts connections. On error
// nginx is already stopped; otherwise the caller must call Stop.
func Start(ctx context.Context, bin, dir string, m Mode, upstream string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	// A free port can be taken between choosing and binding it; try again.
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		conf, err := Render(m, Params{Listen: addr, Upstream: upstream, Dir: dir})
		if err != nil {
			return nil, err
		}
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, conf, 0o644); err != nil {
			return nil, err
		}
		s := &Server{Mode: m, Addr: addr, Dir: dir}
		if lastErr = s.launch(ctx, bin, confPath); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *Server) launch(ctx context.Context, bin, confPath string) error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// -e: the error log before the configuration is read; Debian's default
	// is a system path a test may not write.
	cmd := exec.Command(bin, "-p", s.Dir, "-c", confPath, "-e", filepath.Join(s.Dir, "error.log"))
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = procAttr()
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("starting nginx: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, 15*time.Second); err != nil {
		s.Stop()
		return fmt.Errorf("nginx (%s) did not come up on %s: %w\n%s", s.Mode, s.Addr, err, s.LogTail())
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		select {
		case <-s.done:
			return fmt.Errorf("nginx exited: %v", s.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		c, err := d.DialContext(ctx, "tcp", s.Addr)
		if err == nil {
			c.Close()
			return nil
		}
	}
}

// Stop ends nginx: SIGQUIT (graceful) to its process group, then SIGKILL if
// it is still there after 3 s. It is safe to call more than once.
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	pid := s.cmd.Process.Pid
	select {
	case <-s.done:
	default:
		_ = syscall.Kill(-pid, syscall.SIGQUIT)
		t := time.NewTimer(3 * time.Second)
		select {
		case <-s.done:
			t.Stop()
		case <-t.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-s.done
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return nil
}

// LogTail returns the end of nginx's error log, for error messages.
func (s *Server) LogTail() string {
	var out []byte
	for _, name := range []string{"stderr.log", "error.log"} {
		b, _ := os.ReadFile(filepath.Join(s.Dir, name))
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		out = append(out, b...)
	}
	return string(out)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
