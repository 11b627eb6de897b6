package main

import (
	"context"
	"fmt"
	"net"
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

The webmail is leaky on purpose and its passwords are known, so it listens
on loopback only unless -public is given.

With -reset-token T, "POST /_reset" with the header "X-Reset-Token: T"
replaces the server with a new one, as it was when it started (every
session, mailbox, cache and pooled connection): the reset that fuzz and
replay run before every execution through the spec's reset: requests.

Examples:
  crosstalk serve -bug lastlogin
  crosstalk serve -bug none -addr 127.0.0.1:9090 -users 20
  crosstalk serve -bug lastlogin -work 200ns -arrival
  crosstalk serve -bug none -addr 0.0.0.0:8080 -public   # reachable from other machines
  crosstalk serve -bug lastlogin -access-log access.log   # then: crosstalk incident -log access.log

-access-log appends one JSON line per request in the format crosstalk incident
reads: the times with µs decimals, the connection, the session's user, a digest
of the session, the status, the bytes, a hash of the body and, for /profile,
the owner of the data the page was rendered from. With -reset-token too, the
log goes on across resets (a reset is a line of its own, with no user):
  crosstalk serve -bug conndesync -reset-token s3cret   # with a spec whose reset: sends it
  crosstalk serve -bug lastlogin -reset-token s3cret -access-log access.log
`

// serveHelp is the usage with every bug variant and what it does.
func serveHelp() string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(serveUsage, "\n"))
	b.WriteString("\n\nBugs (-bug):\n")
	for _, bug := range webmail.Bugs() {
		fmt.Fprintf(&b, "  %-12s %s\n", bug, bug.Description())
	}
	return b.String()
}

func runServe(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "serve", serveHelp())
	var (
		bug, addr, resetToken string
		users                 int
		work                  time.Duration
		arrival               bool
		public                bool
		accessLog             string
		instance              string
	)
	names := make([]string, 0, len(webmail.Bugs()))
	for _, b := range webmail.Bugs() {
		names = append(names, string(b))
	}
	fs.StringVar(&bug, "bug", "none", "defect to serve: "+strings.Join(names, ", "))
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (loopback unless -public)")
	fs.BoolVar(&public, "public", false, "allow an -addr that other machines can reach")
	fs.IntVar(&users, "users", 8, fmt.Sprintf("number of seeded users, 1..%d (user1..userN, password pw-userN)", webmail.MaxUsers))
	fs.DurationVar(&work, "work", webmail.DefaultWork, "busy work inside the last-login window (0: none)")
	fs.BoolVar(&arrival, "arrival", false, "report each request's handler-entry time in the "+harness.ArrivalHeader+" header")
	fs.StringVar(&accessLog, "access-log", "", "append a JSON access log of every request to `FILE`")
	fs.StringVar(&instance, "instance", "", "instance name in the access log (default: the listen address)")
	fs.StringVar(&resetToken, "reset-token", "", "serve POST "+webmail.ResetPath+" with this "+webmail.ResetHeader+": a new server as at the start (empty: no reset)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if users < 1 || users > webmail.MaxUsers {
		return usageErr(e, "serve: -users must be between 1 and %d, not %d", webmail.MaxUsers, users)
	}
	if !public {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return usageErr(e, "serve: -addr %q: %v", addr, err)
		}
		if !isLoopbackHost(host) {
			return usageErr(e, "serve: -addr %s can be reached from other machines, and this webmail leaks on purpose "+
				"with known passwords; listen on 127.0.0.1, or give -public to mean it", addr)
		}
	}
	b, err := webmail.ParseBug(bug)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	o := webmail.Options{Bug: b, Users: users, Work: work, ReportArrival: arrival, Instance: instance}
	if accessLog != "" {
		f, err := os.OpenFile(accessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return usageErr(e, "-access-log: %v", err)
		}
		defer f.Close()
		o.AccessLog = f
	}
	if resetToken != "" {
		return serveResettable(ctx, e, o, addr, resetToken)
	}
	srv, err := webmail.Start(addr, o)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	fmt.Fprintf(e.stderr, "webmail (bug %s, %d users, work %v) listening on %s — Ctrl-C stops it\n", b, users, work, srv.URL())
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: serve: %v\n", err)
		return 1
	}
	return 0
}

// serveResettable serves a webmail that "POST /_reset" replaces with a new
// one, as at the start, until ctx ends.
func serveResettable(ctx context.Context, e *env, o webmail.Options, addr, token string) int {
	srv, err := webmail.StartResettable(addr, o, token)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	fmt.Fprintf(e.stderr, "webmail (bug %s, %d users, work %v) listening on %s — Ctrl-C stops it\n", o.Bug, o.Users, o.Work, srv.URL())
	fmt.Fprintf(e.stderr, "reset: POST %s%s with %s\n", srv.URL(), webmail.ResetPath, webmail.ResetHeader)
	<-ctx.Done()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(e.stderr, "crosstalk: serve: %v\n", err)
		return 1
	}
	return 0
}
