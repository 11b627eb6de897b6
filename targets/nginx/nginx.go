// Package nginx runs nginx (from the distribution's package) on loopback as a
// caching reverse proxy in front of a real target, in one of three
// configurations that crosstalk must tell apart, or as a plain load
// balancer over several builds ([Balancer]):
//
//   - [URLKeyed]: a response cache keyed on the URL only, which leaks every
//     user's mail to whoever asks next, sequential requests included;
//   - [Microcache]: a 1 s cache that coalesces simultaneous requests with
//     proxy_cache_lock, which leaks only when requests arrive together;
//   - [Correct]: the same cache keyed on the user's credentials too, which is
//     isolated.
//
// [Balancer] caches nothing: it spreads requests over its upstreams, sticky
// by a key header, and names the upstream that served each response in
// [UpstreamHeader], for a canary that probes through a balancer.
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

	"github.com/crosstalk/crosstalk/targets/process"
)

// Mode names a configuration.
type Mode string

// The configurations.
const (
	URLKeyed   Mode = "urlkey"
	Microcache Mode = "microcache"
	Correct    Mode = "correct"
	Balancer   Mode = "balancer"
)

// The headers of the [Balancer] configuration: a request's StickyHeader
// picks its upstream (the same value, the same upstream; none, round
// robin), and UpstreamHeader names the upstream that answered, as
// $upstream_addr.
const (
	StickyHeader   = "X-Sticky-Key"
	UpstreamHeader = "X-Upstream-Addr"
)

// Modes lists every configuration.
func Modes() []Mode { return []Mode{URLKeyed, Microcache, Correct, Balancer} }

//go:embed *.conf.tmpl
var templates embed.FS

// Params fill a configuration template.
type Params struct {
	// Listen is the loopback host:port nginx listens on.
	Listen string
	// Upstream is the host:port of the target behind nginx.
	Upstream string
	// Upstreams are every target behind nginx, for [Balancer]; empty means
	// Upstream alone.
	Upstreams []string
	// Dir holds the pid file, logs, temporary files and the cache.
	Dir string
}

// Servers are the upstreams of p: Upstreams, else Upstream.
func (p Params) Servers() []string {
	if len(p.Upstreams) > 0 {
		return p.Upstreams
	}
	return []string{p.Upstream}
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

	proc *process.Process
}

// URL returns nginx's base URL.
func (s *Server) URL() string { return "http://" + s.Addr }

// Start renders mode's configuration into dir and runs nginx from bin in
// front of upstreams (one, except for [Balancer]). It returns once nginx
// accepts connections. On error nginx is already stopped; otherwise the
// caller must call Stop.
func Start(ctx context.Context, bin, dir string, m Mode, upstreams ...string) (*Server, error) {
	if len(upstreams) == 0 {
		return nil, errors.New("nginx needs an upstream")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	// A free port can be taken between choosing and binding it; try again.
	for range 3 {
		port, err := process.FreePort()
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		conf, err := Render(m, Params{Listen: addr, Upstream: upstreams[0], Upstreams: upstreams, Dir: dir})
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
	// -e: the error log before the configuration is read; Debian's default
	// is a system path a test may not write.
	cmd := exec.Command(bin, "-p", s.Dir, "-c", confPath, "-e", filepath.Join(s.Dir, "error.log"))
	cmd.Dir = s.Dir
	p, err := process.Start("nginx", cmd, filepath.Join(s.Dir, "stderr.log"))
	if err != nil {
		return err
	}
	s.proc = p
	var d net.Dialer
	err = p.WaitReady(ctx, 15*time.Second, 20*time.Millisecond, func(ctx context.Context) bool {
		c, err := d.DialContext(ctx, "tcp", s.Addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if err != nil {
		s.Stop()
		return fmt.Errorf("nginx (%s) did not come up on %s: %w\n%s", s.Mode, s.Addr, err, s.LogTail())
	}
	return nil
}

// Stop ends nginx: SIGQUIT (graceful) to its process group, then SIGKILL if
// it is still there after 3 s. It is safe to call more than once.
func (s *Server) Stop() error {
	if s.proc != nil {
		s.proc.Stop(syscall.SIGQUIT, 3*time.Second)
	}
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
