package webmail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// stopGrace is how long Stop lets requests in flight finish before it
// closes their connections.
const stopGrace = 5 * time.Second

// listening is the state of a server that [Start] serves.
type listening struct {
	hs     *http.Server
	url    string
	served chan error
	alog   *AccessLog
}

// Start builds a webmail from o and serves it on addr until [Server.Stop],
// the way targets/mox and targets/nginx start theirs. An empty addr, or a
// port of 0, takes a free port on 127.0.0.1. It returns once the listener is
// bound, so [Server.URL] answers at once.
//
// The server speaks HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the
// same port, so that every sync strategy, the single-packet h2 one too, can
// be fired at it without TLS.
func Start(addr string, o Options) (*Server, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webmail: cannot listen on %s: %w", addr, err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	s.live = &listening{
		hs:     &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, Protocols: &p},
		url:    "http://" + ln.Addr().String(),
		served: make(chan error, 1),
	}
	if o.AccessLog != nil {
		instance := o.Instance
		if instance == "" {
			instance = ln.Addr().String()
		}
		s.live.alog = NewAccessLog(s, o.AccessLog, instance)
		s.live.hs.Handler, s.live.hs.ConnContext = s.live.alog, ConnContext
	}
	go func() { s.live.served <- s.live.hs.Serve(ln) }()
	return s, nil
}

// URL is the base URL a started server answers on, "" for one made by [New]
// that the caller serves itself.
func (s *Server) URL() string {
	if s.live == nil {
		return ""
	}
	return s.live.url
}

// Stop stops a server from [Start]: it stops accepting, lets requests in
// flight finish for a few seconds, closes what is left and waits for the
// work the server queued (see [Server.Close]). It returns the error serving
// failed with, if it failed before Stop was called. Call it once.
func (s *Server) Stop() error {
	if s.live == nil {
		s.Close()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if s.live.hs.Shutdown(ctx) != nil {
		// The grace ran out: cut the stragglers off.
		_ = s.live.hs.Close()
	}
	err := <-s.live.served
	s.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if s.live.alog != nil && s.live.alog.Err() != nil {
		err = errors.Join(err, fmt.Errorf("access log: %w", s.live.alog.Err()))
	}
	return err
}
