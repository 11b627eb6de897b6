package reports

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// Summary is everything the reports need, computed from the records alone so
// that a saved stream renders the same as the live run did.
type Summary struct {
	// Header and Outcome are the stream's header and verdict records; either
	// is nil when the stream lacks it. When several streams were merged,
	// Header is the first one's and Outcome adds them all up (see
	// [Aggregator]); Headers then holds every header in order.
	Header  *harness.Header
	Outcome *harness.Outcome
	Headers []harness.Header

	// Verdict is the verdict to report. It is Outcome's verdict, except that
	// findings always make it [harness.Leak] (one is proof enough) and a
	// stream without a verdict record and without findings is
	// [harness.Inconclusive]: an unfinished run cannot vouch for isolation.
	Verdict harness.Verdict
	// Reason explains Verdict in one sentence.
	Reason string
	// Problems lists what is wrong with the stream itself (a missing header
	// or verdict, a verdict that contradicts the findings, a torn line).
	// Empty for a complete, consistent stream.
	Problems []string

	// Found counts the finding records. Each one is folded into Groups as it
	// arrives, so a run that leaks on every response does not keep them all.
	Found int
	// Bursts counts burst records; Exchanges counts exchange records, which
	// only traced runs write.
	Bursts    int
	Exchanges int

	// Release skew over all bursts; arrival spread over the bursts whose
	// target reported handler-entry times (ArrivalBursts of them).
	ReleaseSkewP50, ReleaseSkewP90     time.Duration
	ArrivalSpreadP50, ArrivalSpreadP90 time.Duration
	ArrivalBursts                      int
	// SkewHistogram and SpreadHistogram are the distributions behind those
	// percentiles, in power-of-two buckets.
	SkewHistogram, SpreadHistogram []Bucket

	// Timeline counts bursts, errors and findings over the run's time, in
	// equal bins from the first stream's start.
	Timeline Timeline

	// Exposure: who saw whose data. Viewers and Owners are the distinct users
	// on each side of the findings, in natural order (user2 before user10).
	Viewers []string
	Owners  []string
	// Kinds has one entry per data kind in the findings: mail, attachment and
	// profile first, then the rest alphabetically.
	Kinds []KindExposure
	// Exposure has one entry per (owner, viewer) pair with findings, ordered
	// by owner then viewer.
	Exposure []Exposure
	// Groups folds repeats: one entry per distinct (viewer, owner, request,
	// marker), ordered by first occurrence. At most maxKeptGroups are kept;
	// GroupsDropped counts the findings of distinct leaks past that.
	Groups        []FindingGroup
	GroupsDropped int

	// Pairs are the pairs of requests that ran in one burst, from the
	// exchange records of a traced run (none without -trace): how often each
	// pair ran together and how many findings came out of it, the viewer's
	// request with the owner's.
	Pairs []RequestPair

	// Coverage is the verdict record's coverage or, in a stream without
	// one, what the header says the baseline showed; nil when the stream
	// has neither (it was written before coverage existed, or the setup
	// never got to the baseline).
	Coverage *harness.Coverage

	// Reproduction is the stream's last reproduction record: the plan fuzz
	// shrank or replay ran, its rate and the command that replays it. Nil
	// in the stream of a run.
	Reproduction *harness.Reproduction
}

// RequestPair is two requests of the spec that ran in the same bursts. A
// and B are in order (A <= B); a pair of one request with itself is two
// users sending it together.
type RequestPair struct {
	A, B     string
	Bursts   int
	Findings int
	// Evidence holds the first few findings of the pair.
	Evidence []harness.Finding
}

// KindExposure counts the findings of one data kind.
type KindExposure struct {
	Data string `json:"data"`
	// Owners is how many distinct users had data of this kind seen by
	// others; Viewers how many distinct users saw it.
	Owners   int `json:"owners"`
	Viewers  int `json:"viewers"`
	Findings int `json:"findings"`
}

// Exposure says which kinds of Owner's data Viewer saw, and how often.
type Exposure struct {
	Owner    string   `json:"owner"`
	Viewer   string   `json:"viewer"`
	Data     []string `json:"data"`
	Findings int      `json:"findings"`
}

// FindingGroup is one distinct leak and how many times it was seen.
type FindingGroup struct {
	// First is the earliest occurrence, by burst and step.
	First harness.Finding
	Count int
}

// Bucket is one bar of a timing histogram: the durations in [Low, High).
type Bucket struct {
	Low, High time.Duration
	Count     int
}

// Timeline is the run cut into equal bins of time.
type Timeline struct {
	// Start is the time of bin 0; Width the length of every bin.
	Start time.Time
	Width time.Duration
	Bins  []TimeBin
}

// TimeBin counts what happened in one bin of the timeline.
type TimeBin struct {
	Bursts, Errors, Findings int
}

// maxKeptGroups bounds the distinct leaks a summary holds. Markers make
// groups distinct, and a target that leaks learned markers can produce many;
// the reports show the first few dozen and the -o stream keeps all.
const maxKeptGroups = 10_000

// timelineBins is how many bins the timeline keeps at most: enough for a
// chart, few enough that a day-long run costs nothing.
const timelineBins = 120

// Summarize condenses a result stream. It never fails: whatever the stream
// lacks is listed in [Summary.Problems] and the verdict is chosen so that a
// broken stream is never reported as isolated.
func Summarize(records []harness.Record) Summary {
	a := NewAggregator()
	for _, r := range records {
		a.Add(r)
	}
	return a.Summary()
}

// Aggregator builds a [Summary] one record at a time, keeping only what the
// reports show: counts, the distinct leaks, and one duration per burst for
// the percentiles. A run feeds it as it goes, so its memory does not grow
// with the findings; the -o stream is what keeps every record.
//
// Several streams can be fed one after the other (each starts with its
// header): the summary then merges them the way load tools merge result
// files. Counts add up, the verdict is the worst one (Leak, then
// Inconclusive, then Isolated), and every header is kept.
//
// An Aggregator is not safe for concurrent use.
type Aggregator struct {
	headers  []harness.Header
	outcomes []harness.Outcome
	problems []string

	found, bursts, exchanges int
	skews, spreads           []time.Duration
	timeline                 Timeline
	pending                  []timedEvent // events before the timeline has a start

	groups   []FindingGroup
	groupIdx map[groupKey]int
	dropped  int
	kinds    map[string]*kindAgg
	pairs    map[pair]*pairAgg
	viewers  map[string]bool
	owners   map[string]bool

	// The current burst's exchanges and findings, held until the burst is
	// over to tell which requests ran together and whose request leaked.
	burstID       int
	burstSeen     bool
	burstRequests map[string]string // user → request
	burstFindings []harness.Finding
	reqPairs      map[[2]string]*RequestPair

	reproduction *harness.Reproduction
}

type groupKey struct{ viewer, owner, request, marker string }
type pair struct{ owner, viewer string }

type kindAgg struct {
	findings        int
	owners, viewers map[string]bool
}

type pairAgg struct {
	findings int
	data     map[string]bool
}

type timedEvent struct {
	at                       time.Time
	bursts, errors, findings int
}

// NewAggregator returns an empty [Aggregator].
func NewAggregator() *Aggregator {
	return &Aggregator{
		groupIdx: map[groupKey]int{},
		kinds:    map[string]*kindAgg{},
		pairs:    map[pair]*pairAgg{},
		viewers:  map[string]bool{},
		owners:   map[string]bool{},
		reqPairs: map[[2]string]*RequestPair{},
	}
}

// Add folds one record into the summary. Records whose payload does not
// match their type are ignored, as are types this build does not know.
func (a *Aggregator) Add(r harness.Record) {
	switch {
	case r.Type == harness.RecordHeader && r.Header != nil:
		a.headers = append(a.headers, *r.Header)
		if a.timeline.Start.IsZero() && !r.Header.Started.IsZero() {
			a.startTimeline(r.Header.Started)
		}
	case r.Type == harness.RecordVerdict && r.Outcome != nil:
		o := *r.Outcome
		o.LoginFailures = slices.Clone(o.LoginFailures)
		a.outcomes = append(a.outcomes, o)
	case r.Type == harness.RecordBurst && r.Burst != nil:
		b := r.Burst
		a.bursts++
		a.skews = append(a.skews, b.ReleaseSkew)
		if b.ArrivalSpread > 0 {
			a.spreads = append(a.spreads, b.ArrivalSpread)
		}
		a.event(timedEvent{at: b.Release, bursts: 1, errors: b.Errors})
		a.endBurst()
	case r.Type == harness.RecordFinding && r.Finding != nil:
		a.inBurst(r.Finding.Burst)
		a.burstFindings = append(a.burstFindings, *r.Finding)
		a.finding(*r.Finding)
	case r.Type == harness.RecordReproduction && r.Reproduction != nil:
		rp := *r.Reproduction
		a.reproduction = &rp
	case r.Type == harness.RecordExchange && r.Exchange != nil:
		a.exchanges++
		a.inBurst(r.Exchange.Burst)
		if a.burstRequests == nil {
			a.burstRequests = map[string]string{}
		}
		a.burstRequests[r.Exchange.User] = r.Exchange.Request
	}
}

// maxPairEvidence is how many findings a request pair keeps as evidence.
const maxPairEvidence = 3

// inBurst ends the held burst when records of another one arrive, for the
// setup bursts that have no burst record.
func (a *Aggregator) inBurst(id int) {
	if a.burstSeen && id != a.burstID {
		a.endBurst()
	}
	a.burstID, a.burstSeen = id, true
}

// endBurst counts the request pairs of the held burst: every pair that ran,
// and for each finding, the viewer's request with the owner's.
func (a *Aggregator) endBurst() {
	defer func() {
		a.burstRequests, a.burstFindings, a.burstSeen = nil, nil, false
	}()
	if len(a.burstRequests) == 0 {
		return // not traced: which requests ran together is not known
	}
	senders := map[string]int{}
	for _, q := range a.burstRequests {
		senders[q]++
	}
	reqs := slices.Sorted(maps.Keys(senders))
	for i, x := range reqs {
		for _, y := range reqs[i:] {
			if x == y && senders[x] < 2 {
				continue
			}
			a.reqPair(x, y).Bursts++
		}
	}
	for _, f := range a.burstFindings {
		own, ok := a.burstRequests[f.Owner]
		if !ok {
			continue // the owner sent nothing in this burst
		}
		p := a.reqPair(f.Request, own)
		p.Findings++
		if len(p.Evidence) < maxPairEvidence {
			p.Evidence = append(p.Evidence, f)
		}
	}
}

func (a *Aggregator) reqPair(x, y string) *RequestPair {
	if y < x {
		x, y = y, x
	}
	p := a.reqPairs[[2]string{x, y}]
	if p == nil {
		p = &RequestPair{A: x, B: y}
		a.reqPairs[[2]string{x, y}] = p
	}
	return p
}

// pairsSoFar counts the burst still held (a stream cut off mid-burst) on a
// copy, so that later records still join that burst.
func (a *Aggregator) pairsSoFar() []RequestPair {
	sum := map[[2]string]RequestPair{}
	for k, p := range a.reqPairs {
		c := *p
		c.Evidence = slices.Clone(p.Evidence)
		sum[k] = c
	}
	if len(a.burstRequests) > 0 {
		held := &Aggregator{burstRequests: a.burstRequests, burstFindings: a.burstFindings, reqPairs: map[[2]string]*RequestPair{}}
		for k, p := range sum {
			held.reqPairs[k] = &p
		}
		held.endBurst()
		for k, p := range held.reqPairs {
			sum[k] = *p
		}
	}
	out := slices.Collect(maps.Values(sum))
	slices.SortFunc(out, func(x, y RequestPair) int { return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B)) })
	return out
}

// Problem records something wrong with the input that the reports must
// show, such as a torn or malformed line.
func (a *Aggregator) Problem(msg string) {
	a.problems = append(a.problems, msg)
}

func (a *Aggregator) finding(f harness.Finding) {
	a.found++
	a.viewers[f.Viewer] = true
	a.owners[f.Owner] = true
	k := a.kinds[f.Data]
	if k == nil {
		k = &kindAgg{owners: map[string]bool{}, viewers: map[string]bool{}}
		a.kinds[f.Data] = k
	}
	k.findings++
	k.owners[f.Owner] = true
	k.viewers[f.Viewer] = true
	p := pair{f.Owner, f.Viewer}
	e := a.pairs[p]
	if e == nil {
		e = &pairAgg{data: map[string]bool{}}
		a.pairs[p] = e
	}
	e.findings++
	e.data[f.Data] = true

	g := groupKey{f.Viewer, f.Owner, f.Request, f.Marker}
	if i, ok := a.groupIdx[g]; ok {
		a.groups[i].Count++
		// Streams are written in order, but merged ones need not be: the
		// group shows its earliest occurrence whatever the input order.
		if compareFindings(f, a.groups[i].First) < 0 {
			a.groups[i].First = f
		}
	} else if len(a.groups) < maxKeptGroups {
		a.groupIdx[g] = len(a.groups)
		a.groups = append(a.groups, FindingGroup{First: f, Count: 1})
	} else {
		a.dropped++
	}
	at := f.Sent
	if at.IsZero() {
		at = f.Done
	}
	a.event(timedEvent{at: at, findings: 1})
}

// startTimeline anchors bin 0 at start and places what came before.
func (a *Aggregator) startTimeline(start time.Time) {
	a.timeline.Start = start
	a.timeline.Width = 10 * time.Millisecond
	pending := a.pending
	a.pending = nil
	for _, ev := range pending {
		a.event(ev)
	}
}

// event adds ev to its timeline bin. The bins double in width whenever the
// run outgrows them, so the timeline stays timelineBins long at most
// without knowing the run's length in advance.
func (a *Aggregator) event(ev timedEvent) {
	if ev.at.IsZero() {
		return
	}
	tl := &a.timeline
	if tl.Start.IsZero() {
		if len(a.pending) < 1024 {
			a.pending = append(a.pending, ev)
			return
		}
		a.startTimeline(ev.at)
	}
	off := max(ev.at.Sub(tl.Start), 0)
	for off >= time.Duration(timelineBins)*tl.Width && tl.Width < time.Duration(1<<62)/timelineBins {
		merged := make([]TimeBin, (len(tl.Bins)+1)/2)
		for i, b := range tl.Bins {
			m := &merged[i/2]
			m.Bursts += b.Bursts
			m.Errors += b.Errors
			m.Findings += b.Findings
		}
		tl.Bins = merged
		tl.Width *= 2
	}
	i := min(int(off/tl.Width), timelineBins-1)
	for len(tl.Bins) <= i {
		tl.Bins = append(tl.Bins, TimeBin{})
	}
	b := &tl.Bins[i]
	b.Bursts += ev.bursts
	b.Errors += ev.errors
	b.Findings += ev.findings
}

// Summary returns the summary of every record added so far. It can be
// called more than once; later records keep adding to the same state.
func (a *Aggregator) Summary() Summary {
	if a.timeline.Start.IsZero() && len(a.pending) > 0 {
		first := a.pending[0].at
		for _, ev := range a.pending {
			if ev.at.Before(first) {
				first = ev.at
			}
		}
		a.startTimeline(first)
	}
	s := Summary{
		Found:         a.found,
		Bursts:        a.bursts,
		Exchanges:     a.exchanges,
		ArrivalBursts: len(a.spreads),
		Problems:      slices.Clone(a.problems),
		GroupsDropped: a.dropped,
		Timeline:      Timeline{Start: a.timeline.Start, Width: a.timeline.Width, Bins: slices.Clone(a.timeline.Bins)},
	}
	s.Reproduction = a.reproduction
	if len(a.headers) > 0 {
		h := a.headers[0]
		s.Header = &h
		s.Headers = slices.Clone(a.headers)
	}
	s.ReleaseSkewP50, s.ReleaseSkewP90 = percentiles(a.skews)
	s.ArrivalSpreadP50, s.ArrivalSpreadP90 = percentiles(a.spreads)
	s.SkewHistogram = histogram(a.skews)
	s.SpreadHistogram = histogram(a.spreads)

	s.Groups = slices.Clone(a.groups)
	slices.SortStableFunc(s.Groups, func(x, y FindingGroup) int { return compareFindings(x.First, y.First) })
	s.Viewers = sortedNames(a.viewers)
	s.Owners = sortedNames(a.owners)
	for data, k := range a.kinds {
		s.Kinds = append(s.Kinds, KindExposure{Data: data, Owners: len(k.owners), Viewers: len(k.viewers), Findings: k.findings})
	}
	slices.SortFunc(s.Kinds, func(x, y KindExposure) int { return compareKinds(x.Data, y.Data) })
	for p, e := range a.pairs {
		ex := Exposure{Owner: p.owner, Viewer: p.viewer, Findings: e.findings}
		for d := range e.data {
			ex.Data = append(ex.Data, d)
		}
		slices.SortFunc(ex.Data, compareKinds)
		s.Exposure = append(s.Exposure, ex)
	}
	slices.SortFunc(s.Exposure, func(x, y Exposure) int {
		return cmp.Or(compareNatural(x.Owner, y.Owner), compareNatural(x.Viewer, y.Viewer))
	})
	s.Pairs = a.pairsSoFar()
	s.Outcome = a.mergedOutcome(&s)
	s.judge(len(a.headers), len(a.outcomes))
	switch {
	case s.Outcome != nil && s.Outcome.Coverage != nil:
		s.Coverage = s.Outcome.Coverage
	case s.Header != nil && len(s.Header.Coverage) > 0:
		s.Coverage = &harness.Coverage{Requests: s.Header.Coverage}
	}
	return s
}

// mergedOutcome is the one verdict record, or the sum of several.
func (a *Aggregator) mergedOutcome(s *Summary) *harness.Outcome {
	switch len(a.outcomes) {
	case 0:
		return nil
	case 1:
		o := a.outcomes[0]
		o.LoginFailures = slices.Clone(o.LoginFailures)
		return &o
	}
	var m harness.Outcome
	worst := -1
	for i, o := range a.outcomes {
		m.Requests += o.Requests
		m.Errors += o.Errors
		m.Bursts += o.Bursts
		m.Findings += o.Findings
		m.Elapsed += o.Elapsed
		m.CutShort = m.CutShort || o.CutShort
		m.LoginFailures = append(m.LoginFailures, o.LoginFailures...)
		if worst < 0 || verdictRank(o.Verdict) > verdictRank(a.outcomes[worst].Verdict) {
			worst = i
		}
	}
	m.Verdict = a.outcomes[worst].Verdict
	m.Reason = fmt.Sprintf("%d streams merged; stream %d: %s", len(a.outcomes), worst+1, a.outcomes[worst].Reason)
	m.ReleaseSkewP50, m.ReleaseSkewP90 = s.ReleaseSkewP50, s.ReleaseSkewP90
	m.ArrivalSpreadP50, m.ArrivalSpreadP90 = s.ArrivalSpreadP50, s.ArrivalSpreadP90
	return &m
}

// verdictRank orders verdicts for merging: one leak anywhere is a leak, and
// one run that could not vouch for isolation keeps the whole from doing so.
func verdictRank(v harness.Verdict) int {
	switch v {
	case harness.Isolated:
		return 0
	case harness.Leak:
		return 3
	case harness.Inconclusive:
		return 2
	default:
		return 1
	}
}

// histogram buckets ds by powers of two from 1 µs, which spreads burst
// timings from a few µs to seconds over twenty-odd bars.
func histogram(ds []time.Duration) []Bucket {
	if len(ds) == 0 {
		return nil
	}
	counts := map[int]int{}
	lo, hi := 1<<30, -1
	for _, d := range ds {
		i := 0
		for b := time.Microsecond; d >= b && i < 40; b *= 2 {
			i++
		}
		counts[i]++
		lo, hi = min(lo, i), max(hi, i)
	}
	var out []Bucket
	for i := lo; i <= hi; i++ {
		var low time.Duration
		if i > 0 {
			low = time.Microsecond << (i - 1)
		}
		out = append(out, Bucket{Low: low, High: time.Microsecond << i, Count: counts[i]})
	}
	return out
}

func compareFindings(a, b harness.Finding) int {
	return cmp.Or(
		cmp.Compare(a.Burst, b.Burst),
		cmp.Compare(a.Step, b.Step),
		compareNatural(a.Viewer, b.Viewer),
		compareNatural(a.Owner, b.Owner),
		cmp.Compare(a.Request, b.Request),
		cmp.Compare(a.Marker, b.Marker),
		cmp.Compare(a.Where, b.Where),
		cmp.Compare(a.Encoding, b.Encoding),
	)
}

func compareNatural(a, b string) int {
	if c := naturalCompare(a, b); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// percentiles returns the nearest-rank p50 and p90. Nearest rank reports a
// value that was actually measured, which is what a reader checks against.
func percentiles(ds []time.Duration) (p50, p90 time.Duration) {
	ps := harness.Percentiles(ds, 50, 90)
	return ps[0], ps[1]
}

func sortedNames(set map[string]bool) []string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.SortFunc(names, compareNatural)
	return names
}

// knownKinds are the data kinds the webmail specs use, listed the way an
// incident report would rank them: message content first.
var knownKinds = []string{"mail", "attachment", "profile"}

func compareKinds(a, b string) int {
	ia, ib := slices.Index(knownKinds, a), slices.Index(knownKinds, b)
	if ia < 0 {
		ia = len(knownKinds)
	}
	if ib < 0 {
		ib = len(knownKinds)
	}
	return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a, b))
}

func (s *Summary) judge(headers, verdicts int) {
	if headers == 0 {
		s.Problems = append(s.Problems, "incomplete stream: it has no header record")
	}
	if headers > 1 && verdicts < headers {
		s.Problems = append(s.Problems, fmt.Sprintf("%d of %d merged streams have no verdict record", headers-verdicts, headers))
	}
	n := s.Found
	if s.Outcome == nil || headers > 1 && verdicts < headers {
		if s.Outcome == nil {
			s.Problems = append(s.Problems, "incomplete stream: it has no verdict record, so the run did not finish writing its results")
		}
		if n > 0 {
			s.Verdict = harness.Leak
			s.Reason = fmt.Sprintf("%d %s carried another user's data", n, plural(n, "response", "responses"))
		} else {
			s.Verdict = harness.Inconclusive
			s.Reason = "the result stream is incomplete: it has no verdict record"
		}
		return
	}
	s.Verdict, s.Reason = s.Outcome.Verdict, s.Outcome.Reason
	switch s.Verdict {
	case harness.Isolated, harness.Leak, harness.Inconclusive:
	default:
		s.Problems = append(s.Problems, fmt.Sprintf("the verdict record holds an unknown verdict %q", clean(string(s.Verdict))))
		s.Verdict = harness.Inconclusive
		s.Reason = "the verdict record could not be understood"
	}
	if n > 0 && s.Verdict != harness.Leak {
		s.Problems = append(s.Problems, fmt.Sprintf("the verdict record says %s, but the stream holds %d %s", s.Verdict, n, plural(n, "finding", "findings")))
		s.Verdict = harness.Leak
		s.Reason = fmt.Sprintf("%d %s carried another user's data", n, plural(n, "response", "responses"))
	}
}

// findingCount is the number of findings to report: the verdict's count, or
// the records' if the verdict undercounts (for example a truncated trace).
func (s Summary) findingCount() int {
	n := s.Found
	if s.Outcome != nil && s.Outcome.Findings > n {
		n = s.Outcome.Findings
	}
	return n
}
