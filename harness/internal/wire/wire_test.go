package wire

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
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
