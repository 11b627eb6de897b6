package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestBenchMedianCountsCappedTrialsAsLowerBounds(t *testing.T) {
	s := time.Second
	m := MedianOf([]Trial{{D: 1 * s}, {D: 3 * s}, {D: 2 * s}}, 3)
	assert.True(t, m.Exact)
	assert.Equal(t, 2*s, m.D)

	m = MedianOf([]Trial{{D: 1 * s}, {D: 30 * s, Capped: true}, {D: 30 * s, Capped: true}}, 3)
	assert.False(t, m.Exact)
	assert.Equal(t, 30*s, m.D)
	assert.Equal(t, "≥ 30.00 s", m.String())

	m = MedianOf([]Trial{{D: 1 * s}, {D: 5 * s, Capped: true}}, 10) // the budget ran out
	assert.True(t, m.Exact, "a lower bound above the median does not move it")
	assert.Equal(t, "1.00 s (2/10 trials)", m.String())

	assert.False(t, MedianOf(nil, 3).Exact)

	exact := func(d time.Duration) Median { return MedianOf([]Trial{{D: d}}, 1) }
	capped := func(d time.Duration) Median { return MedianOf([]Trial{{D: d, Capped: true}}, 1) }
	assert.Equal(t, "10.0×", Speedup(exact(10*s), []Median{exact(2 * s), exact(1 * s)}))
	assert.Equal(t, "≥ 30.0×", Speedup(capped(30*s), []Median{exact(1 * s)}))
	assert.Contains(t, Speedup(capped(30*s), []Median{capped(30 * s)}), "n/a")
	assert.Equal(t, "2.0×", Speedup(exact(2*s), []Median{exact(1 * s), capped(s / 10)}),
		"a capped strategy with a smaller figure did not find the leak; the one that did is the best")
}

func TestMedianTakesTheStreamsRank(t *testing.T) {
	for n := 1; n <= 12; n++ {
		var ts []Trial
		var ds []time.Duration
		for i := range n {
			d := time.Duration((i*7)%n+1) * time.Millisecond
			ts = append(ts, Trial{D: d})
			ds = append(ds, d)
		}
		assert.Equal(t, harness.Percentiles(ds, 50)[0], MedianOf(ts, n).D, "n=%d", n)
	}
}

// A cell ends at its planned trials, once more than half are capped (the
// median is settled as a lower bound), or when its budget is spent.
func TestTrialsStopWhenTheMedianIsSettled(t *testing.T) {
	tr := &trials{cfg: Config{Trials: 3, Cap: time.Hour}, until: time.Now().Add(time.Hour), start: time.Now()}
	tr.tick(false)
	assert.Empty(t, tr.out, "no leak and under the cap: the trial goes on")
	tr.tick(true)
	tr.tick(true)
	assert.False(t, tr.enough())
	tr.tick(true)
	assert.True(t, tr.enough())
	assert.Len(t, tr.out, 3)

	tr = &trials{cfg: Config{Trials: 3, Cap: time.Nanosecond}, until: time.Now().Add(time.Hour), start: time.Now().Add(-time.Millisecond)}
	tr.tick(false)
	assert.False(t, tr.enough())
	tr.start = time.Now().Add(-time.Millisecond)
	tr.tick(false)
	assert.True(t, tr.enough(), "two of three capped: more trials cannot move the median")
	assert.False(t, MedianOf(tr.out, 3).Exact)

	tr = &trials{cfg: Config{Trials: 3, Cap: time.Hour}, until: time.Now(), start: time.Now().Add(-time.Millisecond)}
	assert.True(t, tr.enough(), "the budget is spent")
	tr.cut()
	require.Len(t, tr.out, 1)
	assert.True(t, tr.out[0].Capped, "a trial the budget cut short is a lower bound")
}

// The naive baseline logs in through the spec and the harness's sessions,
// and then every user it fires as gets its own page.
func TestNaiveFiresAsEachUser(t *testing.T) {
	srv, err := webmail.Start("", webmail.Options{Users: 4, ReportArrival: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Stop()) }()
	s, err := webmailSpec(4)
	require.NoError(t, err)
	nv, err := newNaive(context.Background(), srv.URL(), s)
	require.NoError(t, err)
	arr, bodies, err := nv.burst(context.Background(), 1, 4)
	require.NoError(t, err)
	for i, b := range bodies {
		u := s.Resolved[(1+i)%4]
		assert.Contains(t, string(b), u.Email, "step %d is %s's own profile", i, u.Login)
		assert.False(t, arr[i].IsZero())
	}
	spreads, err := nv.spreads(context.Background(), 2, 3)
	require.NoError(t, err)
	assert.Len(t, spreads, 3)
}

// Every section hands over a full table at the smallest size, every cell
// measured.
func TestSectionsFillTheirTables(t *testing.T) {
	if testing.Short() {
		t.Skip("fires a few thousand requests")
	}
	ctx := context.Background()
	cfg := Config{Trials: 1, Cap: 5 * time.Second, Budget: 6 * time.Second, Bursts: 5, HeyTime: 200 * time.Millisecond, ScanTime: 20 * time.Millisecond}
	var spreads []SpreadRow
	require.NoError(t, Spreads(ctx, cfg, func(r SpreadRow) { spreads = append(spreads, r) }))
	require.Len(t, spreads, len(Firers()))
	for _, r := range spreads {
		for _, c := range r.Cells {
			assert.NoError(t, c.Err, r.Firer)
			assert.Positive(t, c.P50, r.Firer)
			assert.GreaterOrEqual(t, c.P90, c.P50)
		}
	}

	var scans []ScanRow
	require.NoError(t, ScanRates(cfg, func(r ScanRow) { scans = append(scans, r) }))
	require.Len(t, scans, 3)
	assert.Contains(t, scans[2].Markers, "10,000 learned")
	for _, r := range scans {
		assert.Positive(t, r.MBps)
		assert.Positive(t, r.PagesPerSec)
	}

	var rates []RateRow
	require.NoError(t, Throughput(ctx, cfg, func(r RateRow) { rates = append(rates, r) }))
	require.Len(t, rates, len(strategies())+1)
	for _, r := range rates[:len(strategies())] {
		assert.Positive(t, r.PerSec, r.Sync)
		assert.Zero(t, r.Errors, r.Sync)
		assert.NotEmpty(t, r.VsHey, "%+v", rates)
	}
	assert.Empty(t, rates[len(rates)-1].Sync, "hey's row is last")
}

// The leak hunt finds a wide window with every firer, and says so.
func TestTimesToLeakFindsTheWideWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("hunts a leak")
	}
	defer func(w []time.Duration) { Windows = w }(Windows)
	// A wide window: this is about the section's bookkeeping, and go test
	// runs other packages on the same cores, which spreads the naive
	// baseline's bursts over milliseconds.
	Windows = []time.Duration{200 * time.Microsecond}
	var rows []LeakRow
	cfg := Config{Trials: 1, Cap: 15 * time.Second, Budget: 60 * time.Second}
	require.NoError(t, TimesToLeak(context.Background(), cfg, func(r LeakRow) { rows = append(rows, r) }))
	require.Len(t, rows, 1)
	require.Len(t, rows[0].Cells, len(Firers()))
	for i, m := range rows[0].Cells {
		assert.True(t, m.Exact, "%s found it within the cap: %s", Firers()[i], m)
	}
	assert.True(t, strings.HasSuffix(rows[0].Speedup(), "×"), rows[0].Speedup())
}

func TestHeyRateStandsOnlyOnOKReplies(t *testing.T) {
	ok := "Summary:\n  Requests/sec:\t7212.1591\n\nStatus code distribution:\n  [200]\t1462 responses\n\n"
	v, note := heyResult(ok)
	assert.InDelta(t, 7212.1591, v, 1e-9)
	assert.Empty(t, note)
	for name, out := range map[string]string{
		"redirects":    strings.Replace(ok, "[200]", "[303]", 1),
		"mixed":        ok + "  [401]\t3 responses\n",
		"refused":      "Summary:\n  Requests/sec:\t1559.7508\n\nError distribution:\n  [1200]\tGet ...: connection refused\n",
		"no rate line": "Summary:\n",
		"zero":         strings.Replace(ok, "7212.1591", "0.0000", 1),
	} {
		v, note := heyResult(out)
		assert.Zero(t, v, name)
		assert.NotEmpty(t, note, name)
	}
}
