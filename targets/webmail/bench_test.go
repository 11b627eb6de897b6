package webmail

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the handler and not a recorder.
type discard struct {
	h      http.Header
	status int
	n      int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(status int)      { d.status = status }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

// benchSessions logs every user in by calling the handler directly.
func benchSessions(b *testing.B, s *Server) []string {
	b.Helper()
	var sids []string
	for _, a := range s.Users() {
		form := url.Values{"login": {a.Login}, "password": {a.Password}}.Encode()
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		require.Equal(b, http.StatusSeeOther, rec.Code)
		sids = append(sids, rec.Result().Cookies()[0].Value)
	}
	return sids
}

// BenchmarkProfile is /profile throughput with all eight users asking in
// parallel, handler only (no network).
func BenchmarkProfile(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"none/work=0", Options{Bug: BugNone}},
		{"none/work=default", Options{Bug: BugNone, Work: DefaultWork}},
		{"lastlogin/work=0", Options{Bug: BugLastLogin}},
		{"lastlogin/work=default", Options{Bug: BugLastLogin, Work: DefaultWork}},
		{"none/work=0/arrival", Options{Bug: BugNone, ReportArrival: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := New(bc.opts)
			require.NoError(b, err)
			sids := benchSessions(b, s)
			var next atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/profile", nil)
				req.AddCookie(&http.Cookie{Name: "sid", Value: sids[int(next.Add(1))%len(sids)]})
				w := &discard{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					s.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Errorf("status %d", w.status)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkProfileHTTP is the same over loopback HTTP/1.1 keep-alive, as a
// load test sees it.
func BenchmarkProfileHTTP(b *testing.B) {
	s, err := New(Options{Work: DefaultWork})
	require.NoError(b, err)
	sids := benchSessions(b, s)
	ts := httptest.NewServer(s)
	defer ts.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var next atomic.Uint32
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		sid := sids[int(next.Add(1))%len(sids)]
		for pb.Next() {
			req, _ := http.NewRequest("GET", ts.URL+"/profile", nil)
			req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = resp.Body.Read(make([]byte, 4096))
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
