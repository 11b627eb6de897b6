package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
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

Examples:
  crosstalk serve -bug lastlogin
  crosstalk serve -bug none -addr 127.0.0.1:9090 -users 20
  crosstalk serve -bug lastlogin -work 200ns -arrival
  crosstalk serve -bug lastlogin -access-log access.log   # then: crosstalk incident -log access.log

-access-log appends one JSON line per request in the format crosstalk incident
reads: the times with µs decimals, the connection, the session's user, a digest
of the session, the status, the bytes, a hash of the body and, for /profile,
the owner of the data the page was rendered from.
`

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "serve", serveUsage)
	var (
		bug, addr string
		users     int
		work      time.Duration
		arrival   bool
		accessLog string
		instance  string
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
	fs.StringVar(&accessLog, "access-log", "", "append a JSON access log of every request to `FILE`")
	fs.StringVar(&instance, "instance", "", "instance name in the access log (default: the listen address)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	b, err := webmail.ParseBug(bug)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	srv, err := webmail.New(webmail.Options{Bug: b, Users: users, Work: work, ReportArrival: arrival})
	if err != nil {
		return usageErr(e, "%v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageErr(e, "cannot listen on %s: %v", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, Protocols: withH2C()}
	var alog *webmail.AccessLog
	if accessLog != "" {
		f, err := os.OpenFile(accessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			ln.Close()
			return usageErr(e, "-access-log: %v", err)
		}
		defer f.Close()
		if instance == "" {
			instance = ln.Addr().String()
		}
		alog = webmail.NewAccessLog(srv, f, instance)
		hs.Handler, hs.ConnContext = alog, webmail.ConnContext
	}
	fmt.Fprintf(e.stderr, "webmail (bug %s, %d users, work %v) listening on http://%s — Ctrl-C stops it\n", b, users, work, ln.Addr())
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
	if alog != nil && alog.Err() != nil {
		fmt.Fprintf(e.stderr, "crosstalk: serve: access log: %v\n", alog.Err())
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
