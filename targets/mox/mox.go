// Package mox runs the mox mail server (github.com/mjl-/mox) on loopback as a
// real target for crosstalk: software nobody on this project wrote, with a
// webmail and a web API that must keep each account's mail to that account.
//
// [Start] writes a fresh localserve configuration, trims it to one HTTP
// listener on a free loopback port, starts mox in a process group of its own,
// then creates every [Account] and seeds its mailbox with mox's own command
// line: "config account add", "setaccountpassword" and "import mbox". Mail is
// imported rather than sent, because localserve files SMTP mail to brand-new
// accounts as junk. [Server.Stop] ends the whole process group.
//
// The binary is pinned in the separate tools module under tools/, so that the
// product's go.mod never depends on a mail server; test.sh builds it into
// .tools/bin of the repository, where [FindBinary] looks first.
//
// The specs webapi.yaml and webmail.yaml next to this file describe the
// accounts [Accounts] makes; README.md explains how to adapt them to another
// webmail.
package mox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/crosstalk/crosstalk/targets/process"
)

// Version is the mox release the tools module pins and the specs were
// written against.
const Version = "v0.0.17"

// BinaryEnv names an environment variable that points at a mox binary,
// overriding the search of [FindBinary].
const BinaryEnv = "CROSSTALK_MOX"

// Mail is one message imported into an account's Inbox.
type Mail struct {
	From    string
	Subject string
	Body    string
}

// Account is a mox account with a single address and the mail it starts
// with. Messages get ids 1, 2, ... in the order given, in every account: mox
// numbers messages per account, which is what makes "MsgID 1" a request every
// user can send and that must return a different message to each.
type Account struct {
	Name     string
	Email    string
	Password string
	Mail     []Mail
}

// Canary is the secret only account n's mail contains. The specs list it
// as the user's static marker ("canary-u{{n}}-7f3a9c"); it ends in a fixed
// suffix so that no user's canary is a prefix of another's (u1 and u11).
func Canary(n int) string { return fmt.Sprintf("canary-u%d-7f3a9c", n) }

// Password is account n's password, at least 8 characters so that mox's
// authentication cache serves repeated Basic logins without a bcrypt each.
func Password(n int) string { return fmt.Sprintf("pw-user%d-%s", n, "c4f1e7a2") }

// PasswordEnv is the environment variable the specs read account n's
// password from.
func PasswordEnv(n int) string { return fmt.Sprintf("MOX_PW_%d", n) }

// Accounts returns the n accounts the specs describe: userN@localhost, each
// with three messages that carry its canary in the body, the subject and a
// quoted-printable part.
func Accounts(n int) []Account {
	out := make([]Account, n)
	for i := range out {
		k := i + 1
		c := Canary(k)
		out[i] = Account{
			Name:     "user" + strconv.Itoa(k),
			Email:    fmt.Sprintf("user%d@localhost", k),
			Password: Password(k),
			Mail: []Mail{
				{From: "Payroll <payroll@example.org>", Subject: fmt.Sprintf("Salary statement for user %d", k),
					Body: fmt.Sprintf("Dear user %d,\n\nyour reference is %s. Keep it private.\n", k, c)},
				{From: "Doctor's office <care@example.org>", Subject: "Appointment " + c,
					Body: "Your appointment is confirmed.\n"},
				{From: "Bank <bank@example.org>", Subject: "Your statement",
					Body: fmt.Sprintf("Account holder user%d, statement code %s.\n", k, c)},
			},
		}
	}
	return out
}

// Server is a running mox.
type Server struct {
	// Dir holds the configuration, the data and mox.log.
	Dir string
	// Addr is the loopback host:port of the HTTP listener that serves
	// /webmail/, /webapi/ and /account/.
	Addr string

	bin  string
	proc *process.Process
}

// URL returns the base URL of the HTTP listener.
func (s *Server) URL() string { return "http://" + s.Addr }

// FindBinary locates the mox binary: $CROSSTALK_MOX, then .tools/bin/mox in
// this directory or any parent (where test.sh builds it), then $PATH.
func FindBinary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
		}
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, ".tools", "bin", "mox")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := exec.LookPath("mox"); err == nil {
		return p, nil
	}
	return "", errors.New("mox binary not found: run ./test.sh (it builds mox " + Version +
		" into .tools/bin), or set " + BinaryEnv)
}

// Start runs mox from bin with a fresh configuration in dir (which must not
// exist yet or be empty) and creates the accounts. On any error the process
// is already stopped. The caller must call Stop.
func Start(ctx context.Context, bin, dir string, accounts []Account) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	// localserve refuses to initialise over an existing configuration.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("mox dir %s must be new or empty: %w", dir, err)
	}
	s := &Server{Dir: dir, bin: bin}
	if out, err := s.cli(ctx, nil, "localserve", "-dir", dir, "-initonly"); err != nil {
		return nil, fmt.Errorf("mox localserve -initonly: %w\n%s", err, out)
	}
	var lastErr error
	// A free port can be taken between choosing and binding it; try again.
	for range 3 {
		port, err := process.FreePort()
		if err != nil {
			return nil, err
		}
		if err := s.configure(port); err != nil {
			return nil, err
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.launch(ctx); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	for _, a := range accounts {
		if err := s.AddAccount(ctx, a); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// configure keeps localserve's accounts and domain but replaces its
// listeners with one plain-HTTP listener on 127.0.0.1:port: the defaults
// (ports 1025-1993) would clash between parallel test packages, and SMTP and
// IMAP are not under test. The static /workdir/ web handler goes too, as it
// would serve mox's working directory.
func (s *Server) configure(port int) error {
	confPath := filepath.Join(s.Dir, "mox.conf")
	conf, err := os.ReadFile(confPath)
	if err != nil {
		return err
	}
	i, j := bytes.Index(conf, []byte("\nListeners:\n")), bytes.Index(conf, []byte("\nPostmaster:\n"))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no Listeners section before Postmaster; has the mox version changed from %s?", confPath, Version)
	}
	var b bytes.Buffer
	b.Write(conf[:i+1])
	b.WriteString("Listeners:\n\tlocal:\n\t\tIPs:\n\t\t\t- 127.0.0.1\n")
	for _, l := range []string{"AccountHTTP", "WebmailHTTP", "WebAPIHTTP"} {
		fmt.Fprintf(&b, "\t\t%s:\n\t\t\tEnabled: true\n\t\t\tPort: %d\n", l, port)
	}
	b.Write(conf[j:])
	if err := os.WriteFile(confPath, b.Bytes(), 0o660); err != nil {
		return err
	}
	domPath := filepath.Join(s.Dir, "domains.conf")
	dom, err := os.ReadFile(domPath)
	if err != nil {
		return err
	}
	if k := bytes.Index(dom, []byte("\nWebHandlers:\n")); k >= 0 {
		dom = dom[:k+1]
	}
	return os.WriteFile(domPath, dom, 0o660)
}

// launch starts localserve and waits until both its HTTP listener and its
// control socket answer, or it exits.
func (s *Server) launch(ctx context.Context) error {
	cmd := exec.Command(s.bin, "localserve", "-dir", s.Dir)
	cmd.Dir = s.Dir
	p, err := process.Start("mox", cmd, filepath.Join(s.Dir, "mox.log"))
	if err != nil {
		return err
	}
	s.proc = p
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	err = p.WaitReady(ctx, 30*time.Second, 50*time.Millisecond, func(ctx context.Context) bool {
		if _, err := os.Stat(filepath.Join(s.Dir, "ctl")); err != nil {
			return false
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/webmail/", nil)
		if err != nil {
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		s.Stop()
		return fmt.Errorf("mox did not come up on %s: %w\n%s", s.Addr, err, s.LogTail())
	}
	return nil
}

// AddAccount creates an account with mox's command line, sets its password
// and imports its mail into the Inbox.
func (s *Server) AddAccount(ctx context.Context, a Account) error {
	if out, err := s.cli(ctx, nil, "config", "account", "add", a.Name, a.Email); err != nil {
		return fmt.Errorf("mox config account add %s: %w\n%s", a.Name, err, out)
	}
	if out, err := s.cli(ctx, strings.NewReader(a.Password+"\n"), "setaccountpassword", a.Name); err != nil {
		return fmt.Errorf("mox setaccountpassword %s: %w\n%s", a.Name, err, out)
	}
	if len(a.Mail) == 0 {
		return nil
	}
	path := filepath.Join(s.Dir, a.Name+".mbox")
	if err := os.WriteFile(path, Mbox(a), 0o644); err != nil {
		return err
	}
	out, err := s.cli(ctx, nil, "import", "mbox", a.Name, "Inbox", path)
	if err != nil {
		return fmt.Errorf("mox import mbox %s: %w\n%s", a.Name, err, out)
	}
	if want := fmt.Sprintf("%d imported", len(a.Mail)); !strings.Contains(string(out), want) {
		return fmt.Errorf("mox import mbox %s: expected %q in its output:\n%s", a.Name, want, out)
	}
	return nil
}

// Mbox renders an account's mail as an mbox file, oldest first, so that
// import gives the messages ids in the order of a.Mail.
func Mbox(a Account) []byte {
	var b bytes.Buffer
	date := time.Date(2024, 1, 2, 9, 0, 0, 0, time.UTC)
	for i, m := range a.Mail {
		d := date.Add(time.Duration(i) * time.Hour)
		sender := m.From
		if k := strings.LastIndexByte(sender, '<'); k >= 0 {
			sender = strings.Trim(sender[k:], "<>")
		}
		fmt.Fprintf(&b, "From %s %s\n", sender, d.Format("Mon Jan _2 15:04:05 2006"))
		fmt.Fprintf(&b, "From: %s\nTo: <%s>\nSubject: %s\nDate: %s\nMessage-ID: <%d.%s@example.org>\n",
			m.From, a.Email, m.Subject, d.Format(time.RFC1123Z), i+1, a.Name)
		b.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n")
		for line := range strings.Lines(m.Body) {
			// mboxrd: a body line that looks like a separator is quoted.
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
				b.WriteByte('>')
			}
			b.WriteString(line)
		}
		if !strings.HasSuffix(m.Body, "\n") {
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// cli runs one mox command against this server's configuration. Commands
// that change accounts go through the running server's control socket.
func (s *Server) cli(ctx context.Context, stdin *strings.Reader, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	full := args
	if args[0] != "localserve" {
		full = append([]string{"-config", filepath.Join(s.Dir, "mox.conf")}, args...)
	}
	cmd := exec.CommandContext(ctx, s.bin, full...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	return cmd.CombinedOutput()
}

// Stop ends mox and everything it started: SIGTERM to its process group,
// then SIGKILL if it has not exited within its own 3 s shutdown grace. It is
// safe to call more than once.
func (s *Server) Stop() error {
	if s.proc != nil {
		s.proc.Stop(syscall.SIGTERM, 4*time.Second)
	}
	return nil
}

// LogTail returns the end of mox's log, for error messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "mox.log"))
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
