package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
)

// seen is what the server side got of one request.
type seen struct {
	method, path, body, token, cookie string
	proto                             int
}

// recorder is a target that notes every request it gets, keyed by the step
// number the client put in a header, and echoes that number back.
type recorder struct {
	mu  sync.Mutex
	got map[string]seen
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	step := r.Header.Get("X-Step")
	rc.mu.Lock()
	rc.got[step] = seen{method: r.Method, path: r.URL.RequestURI(), body: string(body),
		token: r.Header.Get("Authorization"), cookie: r.Header.Get("Cookie"), proto: r.ProtoMajor}
	rc.mu.Unlock()
	w.Header().Set(ArrivalHeader, fmt.Sprint(time.Now().UnixNano()))
	fmt.Fprintf(w, "reply to step %s", step)
}

func h2cProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// startRecorder serves a recorder over h2c-capable HTTP, or over TLS with
// ALPN h2 and http/1.1.
func startRecorder(t testing.TB, useTLS bool) (*recorder, *url.URL) {
	t.Helper()
	rc := &recorder{got: map[string]seen{}}
	ts := httptest.NewUnstartedServer(rc)
	if useTLS {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Config.Protocols = h2cProtocols()
		ts.Start()
	}
	t.Cleanup(ts.Close)
	u, err := url.Parse(ts.URL)
	require.NoError(t, err)
	return rc, u
}

// stageBurst builds n shots by hand: odd steps are GETs with a query, even
// steps POSTs with a body, each with its own credentials.
func stageBurst(t testing.TB, d *wire.Dialer, base *url.URL, n int) []*shot {
	t.Helper()
	conns := make([]*wire.Conn, n)
	for i := range conns {
		c, err := d.Dial(context.Background())
		require.NoError(t, err)
		t.Cleanup(c.Close)
		conns[i] = c
	}
	return stageOn(d, base, conns)
}

// stageOn builds one shot per connection given.
func stageOn(d *wire.Dialer, base *url.URL, conns []*wire.Conn) []*shot {
	ss := &session{d: d, base: base}
	shots := make([]*shot, len(conns))
	for i, c := range conns {
		h := http.Header{}
		h.Set("X-Step", fmt.Sprint(i))
		h.Set("Authorization", fmt.Sprintf("Bearer token-of-user-%d", i))
		h.Set("Cookie", fmt.Sprintf("sid=session-%d", i))
		method, path, body := http.MethodGet, fmt.Sprintf("/profile?step=%d", i), ""
		if i%2 == 0 {
			method, path, body = http.MethodPost, fmt.Sprintf("/api/send/%d", i), fmt.Sprintf(`{"body":"payload %d","pad":"%s"}`, i, strings.Repeat("x", i))
			h.Set("Content-Type", "application/json")
		}
		shots[i] = &shot{step: Step{User: fmt.Sprint("user", i), Request: "r"}, idx: i, ss: ss, c: c,
			wire: wire.Build(base, method, path, h, []byte(body))}
	}
	return shots
}

func TestEveryStrategyDeliversEveryRequestIntact(t *testing.T) {
	for _, name := range Strategies() {
		for _, useTLS := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tls=%v", name, useTLS), func(t *testing.T) {
				rc, base := startRecorder(t, useTLS)
				d := wire.NewDialer(base, 10*time.Second, 1<<20, true)
				t.Cleanup(d.Close)
				for round := range 3 { // later rounds reuse the warm connections
					rc.mu.Lock()
					clear(rc.got)
					rc.mu.Unlock()
					shots := stageBurst(t, d, base, 12)
					release := strategyNamed(name).fire(shots, 10*time.Second, 1<<20)
					assert.False(t, release.IsZero())
					for i, sh := range shots {
						require.NoError(t, sh.err, "round %d step %d", round, i)
						assert.Equal(t, http.StatusOK, sh.resp.Status)
						assert.Equal(t, fmt.Sprintf("reply to step %d", i), string(sh.resp.Body))
						assert.False(t, sh.ex.Arrival.IsZero(), "the arrival header is read")
						assert.False(t, sh.ex.Sent.After(sh.ex.Done))
					}
					rc.mu.Lock()
					require.Len(t, rc.got, len(shots))
					for i := range shots {
						g := rc.got[fmt.Sprint(i)]
						assert.Equal(t, fmt.Sprintf("Bearer token-of-user-%d", i), g.token)
						assert.Equal(t, fmt.Sprintf("sid=session-%d", i), g.cookie)
						if i%2 == 0 {
							assert.Equal(t, http.MethodPost, g.method)
							assert.Equal(t, fmt.Sprintf("/api/send/%d", i), g.path)
							assert.Equal(t, fmt.Sprintf(`{"body":"payload %d","pad":"%s"}`, i, strings.Repeat("x", i)), g.body)
						} else {
							assert.Equal(t, http.MethodGet, g.method)
							assert.Equal(t, fmt.Sprintf("/profile?step=%d", i), g.path)
							assert.Empty(t, g.body)
						}
						want := 1
						if name == SyncH2 {
							want = 2
						}
						assert.Equal(t, want, g.proto, "step %d went over HTTP/%d", i, g.proto)
					}
					rc.mu.Unlock()
				}
			})
		}
	}
}

// writeLog is a connection that keeps a copy of every write.
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, bytes.Clone(p))
	w.mu.Unlock()
	return w.Conn.Write(p)
}

// endStreams counts the frames in one write that end a request stream.
func endStreams(t *testing.T, b []byte) int {
	t.Helper()
	b = bytes.TrimPrefix(b, []byte(http2.ClientPreface))
	fr := http2.NewFramer(io.Discard, bytes.NewReader(b))
	n := 0
	for {
		f, err := fr.ReadFrame()
		if err == io.EOF {
			return n
		}
		require.NoError(t, err, "every write carries whole frames")
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if f.StreamEnded() {
				n++
			}
		case *http2.DataFrame:
			if f.StreamEnded() {
				n++
			}
		}
	}
}

func TestH2BurstIsOneWrite(t *testing.T) {
	for _, n := range []int{2, 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			_, base := startRecorder(t, false)
			d := wire.NewDialer(base, 10*time.Second, 1<<20, true)
			t.Cleanup(d.Close)
			var logs []*writeLog
			d.WrapH2 = func(c net.Conn) net.Conn {
				l := &writeLog{Conn: c}
				logs = append(logs, l)
				return l
			}
			for range 2 {
				shots := stageBurst(t, d, base, n)
				fireH2(shots, 10*time.Second, 1<<20)
				for _, sh := range shots {
					require.NoError(t, sh.err)
				}
			}
			require.Len(t, logs, 1, "both bursts share one warm connection")
			var counts []int
			for _, w := range logs[0].writes {
				if c := endStreams(t, w); c > 0 {
					counts = append(counts, c)
				}
			}
			assert.Equal(t, []int{n, n}, counts, "each burst ends all its streams in a single write")
		})
	}
}

func TestH2OffsetsFollowThePacket(t *testing.T) {
	_, base := startRecorder(t, false)
	d := wire.NewDialer(base, 10*time.Second, 1<<20, true)
	t.Cleanup(d.Close)
	shots := stageBurst(t, d, base, 4)
	shots[3].step.Offset = 300 * time.Microsecond
	release := fireH2(shots, 10*time.Second, 1<<20)
	for _, sh := range shots {
		require.NoError(t, sh.err)
	}
	assert.GreaterOrEqual(t, shots[3].ex.Sent.Sub(release), 300*time.Microsecond)
	assert.Equal(t, shots[0].ex.Sent, shots[1].ex.Sent, "the zero-offset steps share one write")
}

func TestH2AgainstAnHTTP1OnlyTargetFailsCleanly(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(ts.Close)
	base, err := url.Parse(ts.URL)
	require.NoError(t, err)
	d := wire.NewDialer(base, 5*time.Second, 1<<20, false)
	t.Cleanup(d.Close)
	shots := stageBurst(t, d, base, 2)
	fireH2(shots, 5*time.Second, 1<<20)
	for _, sh := range shots {
		require.Error(t, sh.err)
		assert.Contains(t, sh.ex.Err, "h2")
	}
}

func TestPickStrategy(t *testing.T) {
	us := time.Microsecond
	cases := []struct {
		name   string
		cals   []calibration
		want   string
		reason []string
	}{
		{"tightest wins", []calibration{
			{Strategy: SyncH2, Bursts: 6, Spread: 40 * us, Arrival: true},
			{Strategy: SyncLastByte, Bursts: 6, Spread: 12 * us, Arrival: true},
			{Strategy: SyncBarrier, Bursts: 6, Spread: 30 * us, Arrival: true},
		}, SyncLastByte, []string{"lastbyte had the tightest arrival spread", "12.0µs", "h2 40.0µs", "barrier 30.0µs"}},
		{"failed strategies are skipped", []calibration{
			{Strategy: SyncH2, Err: "the target does not offer HTTP/2"},
			{Strategy: SyncLastByte, Bursts: 6, Spread: 50 * us},
			{Strategy: SyncBarrier, Bursts: 6, Spread: 20 * us},
		}, SyncBarrier, []string{"barrier had the tightest first-byte spread", "h2 failed: the target does not offer HTTP/2"}},
		{"ties go to the earlier candidate", []calibration{
			{Strategy: SyncH2, Bursts: 3, Spread: 20 * us},
			{Strategy: SyncLastByte, Bursts: 3, Spread: 20 * us},
		}, SyncH2, []string{"h2 had"}},
		{"nothing measured", []calibration{
			{Strategy: SyncH2, Err: "refused"},
			{Strategy: SyncLastByte},
		}, SyncBarrier, []string{"measured no strategy", "h2 failed: refused", "lastbyte was not measured"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason := pickStrategy(c.cals)
			assert.Equal(t, c.want, got)
			assert.True(t, strings.HasPrefix(reason, "auto: "), reason)
			for _, s := range c.reason {
				assert.Contains(t, reason, s)
			}
		})
	}
}

// auto calibrates every strategy of the list, from last to first, so that
// a tie goes to the single packet.
func TestAutoCandidatesAreTheListReversed(t *testing.T) {
	var names []string
	for _, st := range autoCandidates() {
		names = append(names, st.name)
	}
	assert.Equal(t, SyncH2, names[0], "ties go to the single packet")
	assert.ElementsMatch(t, Strategies(), names)
	assert.Equal(t, append(Strategies(), SyncAuto), SyncNames())
	for _, n := range Strategies() {
		assert.NotNil(t, strategyNamed(n), n)
	}
	assert.Nil(t, strategyNamed(SyncAuto), "auto is a choice, not a strategy")
}
