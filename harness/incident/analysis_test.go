package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// base is 2008-07-10 15:10:00 UTC in µs.
const base = int64(1215702600) * 1_000_000

// line renders one JSON line; start and dur in µs after base.
func line(user, inst, path string, start, dur int64, extra string) string {
	end := base + start + dur
	return fmt.Sprintf(`{"msec":"%s","request_time":"%s","upstream_addr":"%s","user":"%s","uri":"%s","status":"200"%s}`,
		appendSeconds(nil, end), appendSeconds(nil, dur), inst, user, path, extra) + "\n"
}

func TestEvidenceKindsAndFlags(t *testing.T) {
	var b strings.Builder
	// Direct, by body hash: carol received alice's inbox body.
	b.WriteString(line("alice", "i1", "/inbox", 0, 5000, `,"body_hash":"h-alice"`))
	b.WriteString(line("alice", "i1", "/inbox", 60_000_000, 5000, `,"body_hash":"h-alice"`))
	b.WriteString(line("carol", "i2", "/inbox", 61_000_000, 5000, `,"body_hash":"h-alice"`))
	// Direct, by resource owner: dave fetched an attachment of erin's.
	b.WriteString(line("dave", "i2", "/u/erin/attachments/1", 62_000_000, 5000, ""))
	// Mechanism: frank then gina on one instance within W; no owner field.
	b.WriteString(line("frank", "i3", "/profile", 63_000_000, 5000, `,"session":"sf","remote_addr":"192.0.2.1"`))
	b.WriteString(line("gina", "i3", "/profile", 63_000_100, 5000, ""))
	// Not within W on another instance: no exposure.
	b.WriteString(line("hank", "i4", "/profile", 63_000_000, 5000, ""))
	b.WriteString(line("ivan", "i4", "/profile", 63_900_000, 5000, ""))
	// The same session from a second address.
	b.WriteString(line("frank", "i1", "/inbox", 64_000_000, 5000, `,"session":"sf","remote_addr":"198.51.100.9"`))
	// A leak with nobody else on the instance: persistent.
	b.WriteString(line("judy", "i5", "/profile", 65_000_000, 5000, `,"owner":"kate"`))
	a, err := NewAnalyzer(Options{
		Model:     &Model{Classes: []string{`^/profile$`}, Window: time.Millisecond, Direction: EarlierGetsLater, Source: "test"},
		Resources: &Ownership{Rule: mustRule(t, `^/u/([^/]+)/`)},
		Sessions:  map[string]string{"s-zed": "zed"},
	})
	require.NoError(t, err)
	require.NoError(t, a.Feed(Input{Name: "t.log", R: strings.NewReader(b.String())}))
	r := Finalize(a.Partial(), FinalOptions{WindowFrom: time.UnixMicro(base), WindowUntil: time.UnixMicro(base + 70_000_000)})

	got := map[PairKey]int64{}
	for p := range r.Direct.All() {
		got[p.PairKey] = p.Count
	}
	assert.Equal(t, map[PairKey]int64{
		{Viewer: "carol", Owner: "alice", Kind: "mail", Evidence: ByBodyHash}:     1,
		{Viewer: "dave", Owner: "erin", Kind: "attachment", Evidence: ByResource}: 1,
		{Viewer: "judy", Owner: "kate", Kind: "profile", Evidence: ByOwnerField}:  1,
	}, got)
	require.Equal(t, 1, r.BoundPairs, "frank and gina overlapped within W; hank and ivan did not")
	assert.Equal(t, PairKey{Viewer: "frank", Owner: "gina", Kind: "profile", Evidence: ByMechanism}, r.BoundTop[0].PairKey,
		"the earlier request gets the later one's data")

	cat := map[string]string{}
	for _, u := range r.Users {
		cat[u.User] = u.Category
	}
	assert.Equal(t, map[string]string{
		"alice": CatOwner, "erin": CatOwner, "kate": CatOwner,
		"carol": CatViewer, "dave": CatViewer, "judy": CatViewer,
		"gina": CatPossible, "frank": CatUnaffected, "hank": CatUnaffected, "ivan": CatUnaffected,
		"zed": CatNotConnected,
	}, cat)
	require.Len(t, r.TwoAddresses, 1)
	assert.Equal(t, SessionFlag{Session: "sf", User: "frank", Addrs: []string{"192.0.2.1", "198.51.100.9"}}, r.TwoAddresses[0])
	// No concurrent request explains judy's leak, nor dave's: his is not
	// even of the model's classes. A sequential control would leak too.
	require.Len(t, r.Persistent, 2)
	assert.Equal(t, "dave", r.Persistent[0].User)
	assert.Equal(t, "judy", r.Persistent[1].User)

	var csv bytes.Buffer
	require.NoError(t, WriteUsersCSV(&csv, r))
	assert.Contains(t, csv.String(), "judy,viewer,1,1,0,,profile,,1,false,")
	assert.Equal(t, len(r.Users)+1, strings.Count(csv.String(), "\n"))

	// The timeline: the leaks known as the lines are read, from 15:11. A
	// shared body is known to be a leak only once the whole log is read, so
	// carol's is not in the per-minute counts.
	assert.Equal(t, time.UnixMicro(base+60_000_000).UTC(), r.Timeline.FirstLeak)
	var leaks int64
	for _, m := range r.Timeline.Minutes {
		leaks += m.Direct
	}
	assert.Equal(t, int64(2), leaks)
}

func mustRule(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	re, err := ParseOwnerRule(s)
	require.NoError(t, err)
	return re
}

// A combined log can bound at one-second resolution only, and says so.
func TestCombinedLogBoundsAtOneSecond(t *testing.T) {
	log := `192.0.2.1 - ann [10/Jul/2008:15:10:00 +0000] "GET /profile HTTP/1.1" 200 10 "-" "-"
192.0.2.2 - bob [10/Jul/2008:15:10:00 +0000] "GET /profile HTTP/1.1" 200 10 "-" "-"
192.0.2.3 - cid [10/Jul/2008:15:10:05 +0000] "GET /profile HTTP/1.1" 200 10 "-" "-"
`
	a, err := NewAnalyzer(Options{Model: &Model{Classes: []string{`^/profile$`}, Window: 200 * time.Microsecond, Direction: EarlierGetsLater, Source: "t"}})
	require.NoError(t, err)
	require.NoError(t, a.Feed(Input{Name: "c.log", R: strings.NewReader(log)}))
	r := Finalize(a.Partial(), FinalOptions{})
	assert.Equal(t, 2, r.BoundPairs, "ann and bob logged in the same second: either may have been first")
	assert.Equal(t, "1s", r.Inputs.Resolution)
	assert.Contains(t, strings.Join(r.Caveats, "\n"), "one-second timestamps")
}

// The JSON report writes its pairs one by one, last; it is valid JSON and
// reads back to the same pairs.
func TestReportJSONRoundTrip(t *testing.T) {
	var b strings.Builder
	b.WriteString(line("judy", "i5", "/profile", 0, 5000, `,"owner":"kate"`))
	b.WriteString(line("ann", "i5", "/inbox", 10, 5000, `,"owner":"kate"`))
	b.WriteString(line("ann", "i5", "/inbox", 20, 5000, `,"owner":"kate"`))
	r := Finalize(analyse(t, Options{}, Input{Name: "t.log", R: strings.NewReader(b.String())}), FinalOptions{})
	require.Equal(t, 2, r.Direct.Len())
	var out bytes.Buffer
	require.NoError(t, r.WriteJSON(&out))
	require.True(t, json.Valid(out.Bytes()), out.String())
	var back Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &back))
	require.Equal(t, 2, back.Direct.Len())
	for i := range 2 {
		assert.Equal(t, r.Direct.At(i), back.Direct.At(i))
	}
	assert.Equal(t, Pair{PairKey: PairKey{Viewer: "ann", Owner: "kate", Kind: "mail", Evidence: ByOwnerField}, Count: 2,
		Refs: []Ref{{File: "t.log", Line: 2}}}, back.Direct.At(0), "the count, and the first line of the two")
	assert.Equal(t, r.Categories, back.Categories)
	compact, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(compact), `"direct_pairs":[{"viewer":"ann"`)
}

// The pair encoder writes what json.MarshalIndent writes, escapes too.
func TestPairEncoderMatchesEncodingJSON(t *testing.T) {
	ps, err := pairsOf([]Pair{
		{PairKey: PairKey{Viewer: "a\"<b>&\u2028", Owner: "ü\\x\n", Kind: "mail", Evidence: ByBodyHash}, Count: 3, Refs: []Ref{{File: "dir/x.log", Line: 7}}},
		{PairKey: PairKey{Viewer: "v", Owner: "o", Kind: "attachment", Evidence: ByResource}, Count: 1 << 40, Refs: []Ref{{File: "y\tz", Line: 1 << 40}}},
	})
	require.NoError(t, err)
	enc := newPairEncoder(&ps)
	for i, rec := range ps.recs {
		want, err := json.MarshalIndent(ps.At(i), "    ", "  ")
		require.NoError(t, err)
		assert.Equal(t, string(want), string(enc.append(nil, rec)))
	}
}
