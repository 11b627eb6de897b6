package wire

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo answers every request with its method, path, protocol and body.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s HTTP/%d %s", r.Method, r.URL.RequestURI(), r.ProtoMajor, body)
}

func tlsServer(t *testing.T) *url.URL {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	u, err := url.Parse(ts.URL)
	require.NoError(t, err)
	return u
}

// One dial serves both protocols: over TLS, the HTTP/1.1 connection
// negotiates http/1.1 and the HTTP/2 one h2, against the same server.
func TestOneDialForBothProtocols(t *testing.T) {
	base := tlsServer(t)
	d := NewDialer(base, 5*time.Second, 1<<20, true)
	defer d.Close()

	c, err := d.Dial(context.Background())
	require.NoError(t, err)
	defer c.Close()
	req := Build(base, http.MethodPost, "/send?x=1", http.Header{}, []byte("hello"))
	_, resp, err := c.RoundTrip(req, time.Now().Add(5*time.Second), 1<<20)
	require.NoError(t, err)
	assert.Equal(t, "POST /send?x=1 HTTP/1 hello", string(resp.Body))
	assert.False(t, resp.FirstByte.IsZero())
	assert.False(t, c.Dead, "a keep-alive connection stays usable")

	h2, err := d.H2(5 * time.Second)
	require.NoError(t, err)
	st := NewStream(Build(base, http.MethodGet, "/profile", http.Header{}, nil), 0, 0)
	require.NoError(t, h2.Stage([]*Stream{st}, base.Scheme, func(int) string { return "profile" }))
	require.NoError(t, h2.WritePacket(st.Final()))
	st.Sent = time.Now()
	h2.Read([]*Stream{st}, time.Now().Add(5*time.Second), 1<<20)
	require.NoError(t, st.Err)
	assert.Equal(t, http.StatusOK, st.Resp.Status)
	assert.Equal(t, "GET /profile HTTP/2 ", string(st.Resp.Body))

	again, err := d.H2(5 * time.Second)
	require.NoError(t, err)
	assert.Same(t, h2, again, "the warm HTTP/2 connection is kept for the next burst")
}

// A TLS server without h2 refuses the handshake or picks no protocol;
// either way there is no HTTP/2 connection, and an error says so.
func TestH2AgainstAnHTTP1OnlyTLSServer(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	base, err := url.Parse(ts.URL)
	require.NoError(t, err)
	d := NewDialer(base, 5*time.Second, 1<<20, true)
	defer d.Close()
	_, err = d.H2(5 * time.Second)
	require.Error(t, err)
	c, err := d.Dial(context.Background())
	require.NoError(t, err, "HTTP/1.1 still dials")
	c.Close()
}

func TestReplyOverTheLimitIsCutAndRetiresTheConnection(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(make([]byte, 4096))
	}))
	t.Cleanup(ts.Close)
	base, err := url.Parse(ts.URL)
	require.NoError(t, err)
	d := NewDialer(base, 5*time.Second, 1000, false)
	defer d.Close()
	c, err := d.Dial(context.Background())
	require.NoError(t, err)
	defer c.Close()
	_, resp, err := c.RoundTrip(Build(base, http.MethodGet, "/", http.Header{}, nil), time.Now().Add(5*time.Second), 1000)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Len(t, resp.Body, 1000)
	assert.True(t, c.Dead)
}

func TestBuildJoinsTheBasePath(t *testing.T) {
	base, err := url.Parse("http://127.0.0.1:8080/app/")
	require.NoError(t, err)
	r := Build(base, http.MethodGet, "/inbox", http.Header{"X-A": {"1"}}, nil)
	assert.Equal(t, "GET /app/inbox HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: crosstalk\r\n"+
		"Accept-Encoding: gzip, deflate, br\r\nX-A: 1\r\n\r\n", string(r.Raw))
	assert.Equal(t, "/inbox", r.Path)
}

// rawTarget answers every request on a connection with reply, which writes
// raw bytes; the test's end closes the listener and every connection.
func rawTarget(t *testing.T, reply func(c net.Conn)) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					reply(c)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	u, err := url.Parse("http://" + ln.Addr().String())
	require.NoError(t, err)
	return u
}

// roundTripWithin runs one round trip with a deadline of a minute and fails
// the test if it has not returned within bound: what is tested is that the
// client stops by itself, long before the deadline would stop it.
func roundTripWithin(t *testing.T, base *url.URL, maxBody int64, bound time.Duration) (Response, error) {
	t.Helper()
	d := NewDialer(base, time.Minute, maxBody, false)
	c, err := d.Dial(context.Background())
	require.NoError(t, err)
	type result struct {
		resp Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		_, resp, err := c.RoundTrip(Build(base, http.MethodGet, "/", http.Header{}, nil), time.Now().Add(time.Minute), maxBody)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		assert.True(t, c.Dead)
		c.Close()
		return r.resp, r.err
	case <-time.After(bound):
		c.Close() // ends the read, so that the goroutine ends
		<-done
		t.Fatalf("the round trip was still reading after %v of a one-minute deadline", bound)
		return Response{}, nil
	}
}

// A header line that never ends is cut at MaxHeaderBytes. The target writes
// 64 MiB of it, then waits: read in full, that is what memory would grow by.
func TestEndlessHeaderLineIsCut(t *testing.T) {
	line := bytes.Repeat([]byte("a"), 1<<20)
	base := rawTarget(t, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nX-Endless: "))
		for range 64 {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	_, err := roundTripWithin(t, base, 1<<20, 20*time.Second)
	require.ErrorIs(t, err, ErrHeaderTooLarge)
}

// A body over the limit is cut there: the rest is not read, even though the
// target is still sending it and says there is a gigabyte to come.
func TestOversizedBodyIsNotDrained(t *testing.T) {
	base := rawTarget(t, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n"))
		_, _ = c.Write(make([]byte, 4096))
		// Then nothing, until the test ends: a client that drains waits here.
		_, _ = c.Read(make([]byte, 1))
	})
	resp, err := roundTripWithin(t, base, 1000, 20*time.Second)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Len(t, resp.Body, 1000)
}
