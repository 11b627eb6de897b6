package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

const serveUsage = `
Usage: crosstalk serve [-bug NAME] [-addr HOST:PORT] [flags]

Runs the built-in webmail until Ctrl-C. It speaks HTTP/1.1 and, for "crosstalk
run -sync h2", HTTP/2 with prior knowledge (h2c). Every user has a seeded
mailbox of its own; -bug picks the defect to serve. The spec
targets/webmail/webmail.yaml points at the default address.

With -reset-token T, "POST /_reset" with the header "X-Reset-Token: T"
replaces the server with a new one, as it was when it started (every
session, mailbox, cache and pooled connection): the reset that fuzz and
replay run before every execution through the spec's reset: requests.

Examples:
  crosstalk serve -bug lastlogin
  crosstalk serve -bug none -addr 127.0.0.1:9090 -users 20
  crosstalk serve -bug lastlogin -work 200ns -arrival
  crosstalk serve -bug conndesync -reset-token s3cret   # with a spec whose reset: sends it
`

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "serve", serveUsage)
	var (
		bug, addr, resetToken string
		users                 int
		work                  time.Duration
		arrival               bool
	)
	names := make([]string, 0, len(webmail.Bugs()))
	for _, b := range webmail.Bugs() {
		names = append(names, string(b))
	}
	fs.StringVar(&bug, "bug", "none", "defect to serve: "+strings.Join(names, ", "))
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.IntVar(&users, "users", 8, "number of seeded users (user1..userN, password pw-userN)")
	fs.DurationVar(&work, "work", webmail.DefaultWork, "busy work inside the last-login window (0: none)")
	fs.BoolVar(&arrival, "arrival", false, "report each request's handler-entry time in the "+harness.ArrivalHeader+" header")
	fs.StringVar(&resetToken, "reset-token", "", "serve POST "+webmail.ResetPath+" with this "+webmail.ResetHeader+": a new server as at the start (empty: no reset)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	b, err := webmail.ParseBug(bug)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	srv, err := webmail.NewResettable(webmail.Options{Bug: b, Users: users, Work: work, ReportArrival: arrival}, resetToken)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageErr(e, "cannot listen on %s: %v", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, Protocols: withH2C()}
	fmt.Fprintf(e.stderr, "webmail (bug %s, %d users, work %v) listening on http://%s — Ctrl-C stops it\n", b, users, work, ln.Addr())
	if resetToken != "" {
		fmt.Fprintf(e.stderr, "reset: POST http://%s%s with %s\n", ln.Addr(), webmail.ResetPath, webmail.ResetHeader)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
		<-errc
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(e.stderr, "crosstalk: serve: %v\n", err)
		return 1
	}
	return 0
}

// withH2C accepts HTTP/2 with prior knowledge (h2c) next to HTTP/1.1, so that
// "-sync h2" and its single-packet bursts work against the built-in webmail.
func withH2C() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}
