package webmail

import (
	"cmp"
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

// listening is the state of a server that [Start] or [StartResettable]
// serves.
type listening struct {
	hs     *http.Server
	url    string
	served chan error
	alog   *AccessLog
}

// listen binds addr (an empty one, or port 0, takes a free port on
// 127.0.0.1) and serves h there on HTTP/1.1 and HTTP/2 with prior
// knowledge (h2c), so that every sync strategy, the single-packet h2 one
// too, can be fired at it without TLS. wrap, when set, may put something in
// front of h once the address is known.
func listen(addr string, h http.Handler, wrap func(l *listening, addr string)) (*listening, error) {
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
	l := &listening{
		hs:     &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: &p},
		url:    "http://" + ln.Addr().String(),
		served: make(chan error, 1),
	}
	if wrap != nil {
		wrap(l, ln.Addr().String())
	}
	go func() { l.served <- l.hs.Serve(ln) }()
	return l, nil
}

// shutdown stops accepting, lets requests in flight finish for
// [stopGrace], cuts off what is left, and returns the error serving failed
// with, if it failed before.
func (l *listening) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
	defer cancel()
	if l.hs.Shutdown(ctx) != nil {
		// The grace ran out: cut the stragglers off.
		_ = l.hs.Close()
	}
	err := <-l.served
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if l.alog != nil && l.alog.Err() != nil {
		err = errors.Join(err, fmt.Errorf("access log: %w", l.alog.Err()))
	}
	return err
}

// Start builds a webmail from o and serves it on addr until [Server.Stop],
// the way targets/mox and targets/nginx start theirs. An empty addr, or a
// port of 0, takes a free port on 127.0.0.1. It returns once the listener is
// bound, so [Server.URL] answers at once.
func Start(addr string, o Options) (*Server, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	var wrap func(*listening, string)
	if o.AccessLog != nil {
		wrap = func(l *listening, addr string) {
			l.alog = NewAccessLog(s, o.AccessLog, cmp.Or(o.Instance, addr))
			l.hs.Handler, l.hs.ConnContext = l.alog, ConnContext
		}
	}
	if s.live, err = listen(addr, s, wrap); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// StartResettable serves a [Resettable] webmail on addr as [Start] serves
// a plain one, until [Resettable.Stop]; with o.AccessLog every request, the
// resets too, is logged, with the user of the server that answered it.
func StartResettable(addr string, o Options, token string) (*Resettable, error) {
	r, err := NewResettable(o, token)
	if err != nil {
		return nil, err
	}
	var wrap func(*listening, string)
	if o.AccessLog != nil {
		wrap = func(l *listening, addr string) {
			r.alog = NewAccessLog(nil, o.AccessLog, cmp.Or(o.Instance, addr))
			l.alog, l.hs.ConnContext = r.alog, ConnContext
		}
	}
	if r.live, err = listen(addr, r, wrap); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
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
	err := s.live.shutdown()
	s.Close()
	return err
}

// URL is the base URL a server from [StartResettable] answers on.
func (r *Resettable) URL() string {
	if r.live == nil {
		return ""
	}
	return r.live.url
}

// Stop stops a server from [StartResettable] as [Server.Stop] does, the
// servers it replaced included. Call it once.
func (r *Resettable) Stop() error {
	var err error
	if r.live != nil {
		err = r.live.shutdown()
	}
	r.Close()
	return err
}
