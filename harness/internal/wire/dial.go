package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"time"
)

// Dialer opens connections to one target, HTTP/1.1 and HTTP/2 alike, and
// keeps the one warm HTTP/2 connection the h2 strategy fires on.
type Dialer struct {
	Base    *url.URL
	Timeout time.Duration
	MaxBody int64
	// WrapH2, when set, wraps every new HTTP/2 connection; tests use it to
	// watch the writes.
	WrapH2 func(net.Conn) net.Conn

	addr    string
	tls     *tls.Config
	netDial net.Dialer
	h2      h2Pool
}

// NewDialer prepares connections to base. insecure skips TLS certificate
// checks, for self-signed staging targets.
func NewDialer(base *url.URL, timeout time.Duration, maxBody int64, insecure bool) *Dialer {
	host := base.Hostname()
	port := base.Port()
	if port == "" {
		port = "80"
		if base.Scheme == "https" {
			port = "443"
		}
	}
	d := &Dialer{Base: base, addr: net.JoinHostPort(host, port), Timeout: timeout, MaxBody: maxBody}
	if base.Scheme == "https" {
		d.tls = &tls.Config{ServerName: host, InsecureSkipVerify: insecure} //nolint:gosec // opt-in for self-signed staging targets
	}
	d.netDial.Timeout = timeout
	return d
}

// connect is the one dial of both protocols: TCP with Nagle off, since
// small requests must leave at once, then TLS with ALPN proto on https.
func (d *Dialer) connect(ctx context.Context, proto string) (net.Conn, error) {
	nc, err := d.netDial.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if d.tls == nil {
		return nc, nil
	}
	cfg := d.tls.Clone()
	cfg.NextProtos = []string{proto}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, d.Timeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		nc.Close()
		return nil, err
	}
	if proto == "h2" && tc.ConnectionState().NegotiatedProtocol != "h2" {
		tc.Close()
		return nil, errors.New("the target does not offer HTTP/2 over TLS (ALPN h2)")
	}
	return tc, nil
}

// Dial opens a persistent HTTP/1.1 connection.
func (d *Dialer) Dial(ctx context.Context) (*Conn, error) {
	nc, err := d.connect(ctx, "http/1.1")
	if err != nil {
		return nil, err
	}
	return newConn(nc), nil
}

// Close closes the HTTP/2 connection, if one is open. HTTP/1.1 connections
// belong to whoever dialled them.
func (d *Dialer) Close() { d.h2.close() }

// DescribeErr turns network errors into a sentence a user can act on.
func DescribeErr(err error, timeout time.Duration) string {
	switch {
	case err == nil:
		return ""
	case IsTimeout(err):
		return "no complete response within " + timeout.String()
	default:
		return err.Error()
	}
}

// IsTimeout reports whether err is a network timeout, which is what a
// deadline (and so a client cancel) looks like.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ErrBodyTooLarge marks a reply cut at the size limit.
var ErrBodyTooLarge = errors.New("response body exceeds the size limit")
