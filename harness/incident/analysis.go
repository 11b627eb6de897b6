package incident

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options configure an [Analyzer].
type Options struct {
	// Model, when set, draws the mechanism bound.
	Model *Model
	// Kinds map paths to data kinds; nil uses [DefaultKinds].
	Kinds []KindRule
	// Sessions maps a session id to its user, for logs that carry only the
	// session (the "ID mapping").
	Sessions map[string]string
	// Resources says who owns a resource, for direct evidence from access to
	// another's resource and for naming the owner of a shared body hash.
	Resources *Ownership
	// MatchSize treats the response size as a body hash where a line has no
	// hash: weaker evidence, for logs with nothing better.
	MatchSize bool
	HAR       HARFields
	// Deploy is when the defect went live: the bound counts no exposure
	// before it. Zero: from the first line.
	Deploy time.Time
	// Horizon is how far behind the latest time seen a request may still be
	// logged and be compared with its neighbours: the longest request plus
	// how out of order the log is. 0 means one minute.
	Horizon time.Duration
	// Shard and Shards partition by instance: this analysis keeps the lines
	// of the instances whose hash modulo Shards is Shard. Shards 0 or 1:
	// all of them.
	Shard, Shards int
	// From and Until partition by time: lines starting in [From, Until) are
	// analysed; lines within the model's window outside it are read as
	// context only, so that shards of adjacent ranges merge exactly.
	From, Until time.Time
	// MaxBadFraction and MinBad: give up once more than MinBad lines and more
	// than this fraction of all lines are malformed. 0 means 1% and 100.
	MaxBadFraction float64
	MinBad         int64
	// Samples is how many leak windows to keep for the reproduction plan;
	// 0 means 3, negative none.
	Samples int
}

// ErrTooManyBad is wrapped by the error Feed returns when the malformed
// lines pass the threshold.
var ErrTooManyBad = errors.New("too many malformed lines")

// maxBadListed bounds the malformed lines listed by number; all are counted.
const maxBadListed = 100

// Ref points at a log line.
type Ref struct {
	File string `json:"file"`
	Line int64  `json:"line"`
}

func refLess(a, b Ref) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	return a.Line < b.Line
}

// Evidence is what a direct pair rests on.
type Evidence string

// The kinds of direct evidence, and the bound.
const (
	ByOwnerField Evidence = "owner field"
	ByResource   Evidence = "resource owner"
	ByBodyHash   Evidence = "body hash"
	ByBodySize   Evidence = "body size"
	ByMechanism  Evidence = "mechanism bound"
)

// PairKey names a viewer → owner exposure of one kind on one footing.
type PairKey struct {
	Viewer   string   `json:"viewer"`
	Owner    string   `json:"owner"`
	Kind     string   `json:"kind"`
	Evidence Evidence `json:"evidence"`
}

// Pair is an exposure with how many responses (or, for the bound, request
// pairs) it rests on and its first evidence line (Refs holds one).
type Pair struct {
	PairKey
	Count int64 `json:"count"`
	Refs  []Ref `json:"refs"`
}

type pathInfo struct {
	id   uint32
	kind uint8
	bug  bool
}

// maxPaths bounds the path cache: beyond it paths are classified each time,
// so that a log of unique URLs does not grow memory.
const maxPaths = 1 << 16

type userAcc struct {
	name     string
	requests int64
	minutes  []int32 // sorted, disjoint, inclusive ranges [a0,b0,a1,b1...]
	first    int64
	last     int64
	// Direct evidence: responses to this user with others' data, and
	// responses of others with this user's; persistent: such a response
	// no concurrent request could explain.
	viewed, persistent int64
	lastSess, lastAddr string
}

type item struct {
	start, end int64
	res        int64
	line       int64
	file       uint16
	user       uint32
	path       uint32
	kind       uint8
	owned      bool
	viewerOK   bool
	bug        bool
	leak       bool
	concurrent bool
}

// window holds one instance's recent requests sorted by start, for the
// overlaps the model asks about. It keeps only what a later line could
// still overlap: memory follows the request rate times the horizon.
type window struct {
	items      []item
	head, due  int
	frontier   int64
	maxRes     int64
	removedMax int64
	removedAny bool
}

type hashKey struct {
	path, hash string
}

type hashAcc struct {
	counts map[string]int64
	refs   map[string]Ref
}

type sessionAcc struct {
	user  string
	addrs []string
}

// maxAddrs is how many client addresses are kept per session: two are a
// flag, a third only says "more".
const maxAddrs = 3

type minuteAcc struct {
	Requests int64 `json:"requests"`
	Direct   int64 `json:"direct"`
	Bound    int64 `json:"bound"`
}

// Analyzer reads logs and accumulates a [Partial]. Feed it every input,
// then call Partial. It is not safe for concurrent use.
type Analyzer struct {
	opts    Options
	model   *Model
	kinds   []KindRule
	kindIdx map[string]uint8
	kindOf  []string
	window  int64 // model window, µs
	windows bool
	horizon int64
	deploy  int64
	from    int64
	until   int64
	hasFrom bool
	hasTil  bool

	users map[string]uint32
	// sessionIDs maps a session straight to its user's id plus one; it is
	// built before any Feed and only read after, by the parsing goroutine.
	sessionIDs map[string]uint32
	accs       []*userAcc
	paths      map[string]pathInfo
	pathNames  []string
	instances  map[string]*window
	// direct and bound are keyed by pairKeyOf: per pair a 24-byte slot.
	direct   map[uint64]pairVal
	bound    map[uint64]pairVal
	hashes   map[hashKey]*hashAcc
	sessions map[string]*sessionAcc
	minutes  map[int64]*minuteAcc
	lastMin  int64
	lastMinP *minuteAcc
	samples  []Sample

	files []FileStat
	cur   *FileStat
	fileN uint16

	parsed, late, unattributed int64
	first, last                int64
	res                        int64
	sawInstance, sawNoInstance bool
	badCount                   int64
	bad                        []BadLine
}

// NewAnalyzer checks the options and returns an empty analyzer.
func NewAnalyzer(opts Options) (*Analyzer, error) {
	a := &Analyzer{opts: opts, users: map[string]uint32{}, paths: map[string]pathInfo{},
		instances: map[string]*window{}, direct: map[uint64]pairVal{}, bound: map[uint64]pairVal{},
		hashes: map[hashKey]*hashAcc{}, sessions: map[string]*sessionAcc{}, minutes: map[int64]*minuteAcc{},
		kindIdx: map[string]uint8{}, lastMin: -1 << 62}
	a.pathNames = []string{""}
	if opts.Kinds == nil {
		opts.Kinds = DefaultKinds()
	}
	ks, err := compileKinds(opts.Kinds)
	if err != nil {
		return nil, err
	}
	a.kinds = ks
	a.kindOf = []string{OtherKind}
	a.kindIdx[OtherKind] = 0
	for _, k := range ks {
		if _, ok := a.kindIdx[k.Kind]; !ok {
			if len(a.kindOf) >= 255 {
				return nil, errors.New("too many kinds")
			}
			a.kindIdx[k.Kind] = uint8(len(a.kindOf))
			a.kindOf = append(a.kindOf, k.Kind)
		}
	}
	if opts.Model != nil {
		m := *opts.Model
		if err := m.Compile(); err != nil {
			return nil, err
		}
		a.model = &m
		a.window = int64(m.Window / time.Microsecond)
	}
	if opts.Shards < 0 || (opts.Shards > 0 && (opts.Shard < 0 || opts.Shard >= opts.Shards)) {
		return nil, fmt.Errorf("shard %d of %d does not exist", opts.Shard, opts.Shards)
	}
	a.windows = a.model != nil || opts.Samples >= 0
	a.horizon = int64(opts.Horizon / time.Microsecond)
	if a.horizon <= 0 {
		a.horizon = 60_000_000
	}
	if !opts.Deploy.IsZero() {
		a.deploy = opts.Deploy.UnixMicro()
	} else {
		a.deploy = -1 << 62
	}
	if !opts.From.IsZero() {
		a.from, a.hasFrom = opts.From.UnixMicro(), true
	}
	if !opts.Until.IsZero() {
		a.until, a.hasTil = opts.Until.UnixMicro(), true
	}
	if a.opts.MaxBadFraction <= 0 {
		a.opts.MaxBadFraction = 0.01
	}
	if a.opts.MinBad <= 0 {
		a.opts.MinBad = 100
	}
	if a.opts.Samples == 0 {
		a.opts.Samples = 3
	}
	a.first, a.last = 1<<62, -1<<62
	if opts.Sessions != nil {
		a.sessionIDs = make(map[string]uint32, len(opts.Sessions))
		for sess, u := range opts.Sessions {
			id, _ := a.user([]byte(u))
			a.sessionIDs[sess] = id + 1
		}
	}
	return a, nil
}

// FileStat counts one input's lines. A shard that filters a shared file
// sees the same counts as every other shard, so merging takes the largest.
type FileStat struct {
	Name    string           `json:"name"`
	Lines   int64            `json:"lines"`
	Blank   int64            `json:"blank,omitempty"`
	Bad     int64            `json:"bad"`
	Formats map[Format]int64 `json:"formats"`
}

// Feed reads one input to its end. A malformed line is counted and listed,
// and reading goes on; past the threshold Feed stops with [ErrTooManyBad].
func (a *Analyzer) Feed(in Input) error {
	if len(a.files) >= 1<<16-1 {
		return errors.New("too many inputs")
	}
	a.files = append(a.files, FileStat{Name: in.Name, Formats: map[Format]int64{}})
	a.cur = &a.files[len(a.files)-1]
	a.fileN = uint16(len(a.files) - 1)
	err := feedPipelined(in, a.opts.HAR, a.sessionIDs, func(e *Entry, uid uint32, perr error) error {
		a.cur.Lines = e.Line
		if perr != nil {
			return a.badLine(e.Line, perr)
		}
		if e.Format == "" {
			a.cur.Blank++
			return nil
		}
		a.cur.Formats[e.Format]++
		a.entry(e, uid)
		if len(a.accs) > maxUsers {
			return fmt.Errorf("line %d: more than %d distinct users", e.Line, maxUsers)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrTooManyBad) {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	return err
}

func (a *Analyzer) badLine(n int64, err error) error {
	a.cur.Bad++
	a.badCount++
	if len(a.bad) < maxBadListed {
		a.bad = append(a.bad, BadLine{File: a.cur.Name, Line: n, Reason: err.Error()})
	}
	total := int64(0)
	for _, f := range a.files {
		total += f.Lines
	}
	if a.badCount > a.opts.MinBad && float64(a.badCount) > a.opts.MaxBadFraction*float64(total) {
		first := a.bad[0]
		return fmt.Errorf("%w: %d of %d lines so far (first: %s line %d: %s); is this an access log in a known format?",
			ErrTooManyBad, a.badCount, total, first.File, first.Line, first.Reason)
	}
	return nil
}

func (a *Analyzer) pathInfo(p []byte) pathInfo {
	if pi, ok := a.paths[string(p)]; ok {
		return pi
	}
	s := string(p)
	var pi pathInfo
	for _, k := range a.kinds {
		if k.re.MatchString(s) {
			pi.kind = a.kindIdx[k.Kind]
			break
		}
	}
	if a.model != nil {
		pi.bug = a.model.matches(s)
	}
	if len(a.paths) < maxPaths {
		pi.id = uint32(len(a.pathNames))
		a.pathNames = append(a.pathNames, s)
		a.paths[s] = pi
	}
	return pi
}

func (a *Analyzer) user(name []byte) (uint32, *userAcc) {
	if id, ok := a.users[string(name)]; ok {
		return id, a.accs[id]
	}
	s := string(name)
	id := uint32(len(a.accs))
	acc := &userAcc{name: s, first: 1 << 62, last: -1 << 62}
	a.accs = append(a.accs, acc)
	a.users[s] = id
	return id, acc
}

func shardOf(instance []byte, n int) int {
	h := fnv.New32a()
	h.Write(instance)
	return int(h.Sum32() % uint32(n))
}

func (a *Analyzer) minute(start int64) *minuteAcc {
	m := floorDiv(start, 60_000_000)
	if m == a.lastMin {
		return a.lastMinP
	}
	p := a.minutes[m]
	if p == nil {
		p = &minuteAcc{}
		a.minutes[m] = p
	}
	a.lastMin, a.lastMinP = m, p
	return p
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (a *Analyzer) entry(e *Entry, mapped uint32) {
	if a.opts.Shards > 1 && shardOf(e.Instance, a.opts.Shards) != a.opts.Shard {
		return
	}
	ctx := radius(a.window + e.Res)
	owned := (!a.hasFrom || e.Start >= a.from) && (!a.hasTil || e.Start < a.until)
	if !owned {
		// Context for the overlaps of owned lines near the range's edges,
		// within twice the window (the sample radius).
		if (a.hasFrom && e.Start < a.from-2*ctx) || (a.hasTil && e.Start >= a.until+2*ctx) {
			return
		}
	}
	// A session was mapped to its user's id on the parsing goroutine.
	var uid uint32
	var acc *userAcc
	switch {
	case len(e.User) > 0:
		uid, acc = a.user(e.User)
	case mapped > 0:
		uid, acc = mapped-1, a.accs[mapped-1]
	default:
		if owned {
			a.unattributed++
		}
		return
	}
	pi := a.pathInfo(e.Path)
	var leak bool
	if owned {
		a.parsed++
		if len(e.Instance) > 0 {
			a.sawInstance = true
		} else {
			a.sawNoInstance = true
		}
		a.first = min(a.first, e.Start)
		a.last = max(a.last, e.Start)
		a.res = max(a.res, e.Res)
		acc.requests++
		acc.first = min(acc.first, e.Start)
		acc.last = max(acc.last, e.Start)
		acc.minutes = addMinute(acc.minutes, int32(floorDiv(e.Start, 60_000_000)))
		mp := a.minute(e.Start)
		mp.Requests++
		// Most lines repeat the user's last session and address: only a
		// change costs a lookup.
		if len(e.Session) > 0 && len(e.Client) > 0 && (string(e.Session) != acc.lastSess || string(e.Client) != acc.lastAddr) {
			a.session(e.Session, acc.name, e.Client)
			acc.lastSess, acc.lastAddr = string(e.Session), string(e.Client)
		}
		leak = a.directEvidence(e, uid, acc, pi, mp)
	}
	if !a.windows {
		return
	}
	key := e.Instance
	if a.model != nil && a.model.AcrossInstances {
		key = nil
	}
	w := a.instances[string(key)]
	if w == nil {
		w = &window{}
		a.instances[string(key)] = w
	}
	it := item{start: e.Start, end: e.End, res: e.Res, line: e.Line, file: a.fileN, user: uid, path: pi.id,
		kind: pi.kind, owned: owned, viewerOK: e.Status >= 200 && e.Status < 300, bug: pi.bug, leak: leak}
	a.insert(w, it)
}

// directEvidence counts what the line itself proves, and says whether it
// shows the user another's data.
func (a *Analyzer) directEvidence(e *Entry, uid uint32, acc *userAcc, pi pathInfo, mp *minuteAcc) bool {
	ref := packRef(a.fileN, e.Line)
	if len(e.Owner) > 0 {
		if string(e.Owner) == acc.name {
			return false
		}
		o, _ := a.user(e.Owner)
		a.addDirect(pairKeyOf(uid, o, pi.kind, evOwnerField), ref, acc, mp)
		return true
	}
	if a.opts.Resources != nil && e.Status >= 200 && e.Status < 300 {
		if o := a.opts.Resources.Owner(string(e.Path)); o != "" {
			if o == acc.name {
				return false
			}
			oid, _ := a.user([]byte(o))
			a.addDirect(pairKeyOf(uid, oid, pi.kind, evResource), ref, acc, mp)
			return true
		}
	}
	// Bodies are compared only for successful responses of a data kind: an
	// error page or a stylesheet is the same for everyone by design.
	if pi.kind == 0 || e.Status < 200 || e.Status >= 300 {
		return false
	}
	h := e.BodyHash
	if len(h) == 0 && a.opts.MatchSize && e.Bytes > 0 {
		h = []byte(fmt.Sprintf("size:%d", e.Bytes))
	}
	if len(h) > 0 {
		r := Ref{File: a.cur.Name, Line: e.Line}
		k := hashKey{path: string(e.Path), hash: string(h)}
		ha := a.hashes[k]
		if ha == nil {
			ha = &hashAcc{counts: map[string]int64{}, refs: map[string]Ref{}}
			a.hashes[k] = ha
		}
		ha.counts[acc.name]++
		if old, ok := ha.refs[acc.name]; !ok || refLess(r, old) {
			ha.refs[acc.name] = r
		}
	}
	return false
}

func (a *Analyzer) fileName(i uint16) string { return a.files[i].Name }

// addPair counts one more exposure of a pair and keeps its first line.
func (a *Analyzer) addPair(m map[uint64]pairVal, k, ref uint64) {
	addPair(m, k, ref, 1, a.fileName)
}

func (a *Analyzer) addDirect(k, ref uint64, acc *userAcc, mp *minuteAcc) {
	a.addPair(a.direct, k, ref)
	acc.viewed++
	mp.Direct++
}

func (a *Analyzer) session(id []byte, user string, addr []byte) {
	s := a.sessions[string(id)]
	if s == nil {
		s = &sessionAcc{user: user}
		a.sessions[string(id)] = s
	}
	for _, x := range s.addrs {
		if x == string(addr) {
			return
		}
	}
	s.addrs = addAddr(s.addrs, string(addr))
}

// addAddr keeps the maxAddrs smallest addresses, sorted, so that shards
// merge to what one pass keeps.
func addAddr(as []string, x string) []string {
	i, found := slices.BinarySearch(as, x)
	if found || i >= maxAddrs {
		return as
	}
	as = slices.Insert(as, i, x)
	if len(as) > maxAddrs {
		as = as[:maxAddrs]
	}
	return as
}

// addMinute adds minute m to sorted inclusive ranges.
func addMinute(rs []int32, m int32) []int32 {
	n := len(rs)
	if n >= 2 {
		if m >= rs[n-2] && m <= rs[n-1] {
			return rs
		}
		if m == rs[n-1]+1 {
			rs[n-1] = m
			return rs
		}
		if m > rs[n-1]+1 {
			return append(rs, m, m)
		}
		// Out of order: rebuild, rare.
		return unionRanges(rs, []int32{m, m})
	}
	return append(rs, m, m)
}

func unionRanges(a, b []int32) []int32 {
	all := make([][2]int32, 0, (len(a)+len(b))/2)
	for i := 0; i+1 < len(a); i += 2 {
		all = append(all, [2]int32{a[i], a[i+1]})
	}
	for i := 0; i+1 < len(b); i += 2 {
		all = append(all, [2]int32{b[i], b[i+1]})
	}
	slices.SortFunc(all, func(x, y [2]int32) int { return int(x[0]) - int(y[0]) })
	out := make([]int32, 0, len(all)*2)
	for _, r := range all {
		n := len(out)
		if n > 0 && r[0] <= out[n-1]+1 {
			out[n-1] = max(out[n-1], r[1])
			continue
		}
		out = append(out, r[0], r[1])
	}
	return out
}

// radius is how far around a leak a sample reaches, and so how long the
// window keeps a request after the model's own reach.
func radius(lim int64) int64 { return max(2*lim, 1000) }

func (a *Analyzer) insert(w *window, x item) {
	w.maxRes = max(w.maxRes, x.res)
	lim := a.window + w.maxRes
	if w.removedAny && x.start-lim <= w.removedMax && x.owned {
		a.late++
	}
	live := w.items[w.head:]
	lo := sort.Search(len(live), func(i int) bool { return live[i].start >= x.start-lim })
	for i := lo; i < len(live) && live[i].start <= x.start+lim; i++ {
		a.pair(&live[i], &x)
	}
	pos := len(live)
	for pos > 0 && live[pos-1].start > x.start {
		pos--
	}
	idx := w.head + pos
	w.items = slices.Insert(w.items, idx, x)
	if idx < w.due {
		// It arrived behind requests already finalised: finalise it now,
		// with the neighbours still held.
		w.due++
		a.finalise(w, idx, lim)
	}
	w.frontier = max(w.frontier, x.end)
	a.sweep(w, w.frontier-a.horizon, false)
}

// sweep finalises the items no later line can overlap any more, and drops
// those no sample can need. At the end (all) everything is finalised.
func (a *Analyzer) sweep(w *window, bound int64, all bool) {
	lim := a.window + w.maxRes
	r := radius(lim)
	for w.due < len(w.items) && (all || w.items[w.due].start+r < bound) {
		a.finalise(w, w.due, lim)
		w.due++
	}
	for w.head < w.due && (all || w.items[w.head].start+2*r < bound) {
		w.removedMax = max(w.removedMax, w.items[w.head].start)
		w.removedAny = true
		w.head++
	}
	if w.head > 1024 && w.head > len(w.items)/2 {
		n := copy(w.items, w.items[w.head:])
		w.items = w.items[:n]
		w.due -= w.head
		w.head = 0
	}
}

// pair applies the model to two requests whose starts are within the
// search range.
func (a *Analyzer) pair(r, x *item) {
	if a.model == nil || !r.bug || !x.bug || r.user == x.user {
		return
	}
	res := max(r.res, x.res)
	lim := a.window + res
	d := x.start - r.start
	if d > lim || d < -lim {
		return
	}
	r.concurrent, x.concurrent = true, true
	var earlier, later *item
	ambiguous := d >= -res && d <= res
	if d >= 0 {
		earlier, later = r, x
	} else {
		earlier, later = x, r
	}
	switch a.model.Direction {
	case EarlierGetsLater:
		a.boundPair(earlier, later)
		if ambiguous {
			a.boundPair(later, earlier)
		}
	case LaterGetsEarlier:
		a.boundPair(later, earlier)
		if ambiguous {
			a.boundPair(earlier, later)
		}
	default:
		a.boundPair(earlier, later)
		a.boundPair(later, earlier)
	}
}

func (a *Analyzer) boundPair(viewer, owner *item) {
	if !viewer.owned || !viewer.viewerOK || viewer.start+viewer.res < a.deploy {
		return
	}
	a.addPair(a.bound, pairKeyOf(viewer.user, owner.user, viewer.kind, evMechanism), packRef(viewer.file, viewer.line))
	a.minute(viewer.start).Bound++
}

// finalise decides what needs all of an item's neighbours: whether a leak
// it carried had any concurrent request to explain it, and its sample.
func (a *Analyzer) finalise(w *window, i int, lim int64) {
	it := &w.items[i]
	if !it.owned || !it.leak {
		return
	}
	if a.model != nil && !it.concurrent {
		a.accs[it.user].persistent++
	}
	if a.opts.Samples > 0 {
		a.sample(w, i, lim)
	}
}

// SampleStep is one request around a leak, for the reproduction plan.
type SampleStep struct {
	User   string `json:"user"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path"`
	// Offset is the start after the sample's first request, µs.
	Offset int64 `json:"offset_us"`
	Leak   bool  `json:"leak,omitempty"`
}

// Sample is the log window around one leaking response: the requests on
// its instance that started within twice the model's window of it.
type Sample struct {
	Ref   Ref          `json:"ref"`
	Start int64        `json:"start_us"`
	Steps []SampleStep `json:"steps"`
}

// maxSampleSteps keeps a sample within a plan burst's limit.
const maxSampleSteps = 64

func sampleLess(x, y Sample) bool {
	if x.Start != y.Start {
		return x.Start < y.Start
	}
	return refLess(x.Ref, y.Ref)
}

func (a *Analyzer) sample(w *window, i int, lim int64) {
	it := &w.items[i]
	s := Sample{Ref: Ref{File: a.files[it.file].Name, Line: it.line}, Start: it.start}
	k := a.opts.Samples
	if len(a.samples) >= k && !sampleLess(s, a.samples[len(a.samples)-1]) {
		return
	}
	rad := radius(lim)
	lo := sort.Search(len(w.items)-w.head, func(j int) bool { return w.items[w.head+j].start >= it.start-rad }) + w.head
	// Whoever started while the leaking request ran may have written what
	// it read, so the window runs to its end, not only W past its start.
	hi := max(it.start+rad, it.end+it.res)
	var first int64
	for j := lo; j < len(w.items) && w.items[j].start <= hi && len(s.Steps) < maxSampleSteps; j++ {
		n := &w.items[j]
		// With a model, the window holds what the mechanism needs: the
		// requests of its classes. Without one, every request near the leak.
		if n.path == 0 || (a.model != nil && !n.bug && j != i) {
			continue
		}
		if len(s.Steps) == 0 {
			first = n.start
		}
		s.Steps = append(s.Steps, SampleStep{User: a.accs[n.user].name, Path: a.pathNames[n.path],
			Offset: n.start - first, Leak: j == i})
	}
	pos := sort.Search(len(a.samples), func(j int) bool { return sampleLess(s, a.samples[j]) })
	a.samples = slices.Insert(a.samples, pos, s)
	if len(a.samples) > k {
		a.samples = a.samples[:k]
	}
}

// Partial returns what the analysis accumulated, in the form shards save
// and [Merge] combines. It finalises every pending window, so call it once,
// after the last Feed.
func (a *Analyzer) Partial() *Partial {
	for _, w := range a.instances {
		a.sweep(w, 0, true)
	}
	p := &Partial{Version: PartialVersion, Files: a.files, Bad: a.bad, Parsed: a.parsed, Late: a.late,
		Unattributed: a.unattributed, Res: a.res, Users: map[string]*UserPartial{},
		Sessions: map[string]*SessionPartial{}, Minutes: map[int64]*minuteAcc{}}
	p.Options = PartialOptions{Model: a.model, Kinds: a.opts.Kinds, Shards: a.opts.Shards, Samples: max(a.opts.Samples, 0)}
	if a.deploy > -1<<62 {
		p.Options.Deploy = a.deploy
	}
	if a.opts.Kinds == nil {
		p.Options.Kinds = DefaultKinds()
	}
	if a.parsed > 0 {
		p.First, p.Last = a.first, a.last
	}
	p.NoInstance = a.sawNoInstance
	for name := range a.instances {
		if name != "" {
			p.Instances = append(p.Instances, name)
		}
	}
	slices.Sort(p.Instances)
	for _, u := range a.accs {
		if u.requests == 0 && u.viewed == 0 {
			// Seen only as context outside this shard's time range.
			continue
		}
		p.Users[u.name] = &UserPartial{Requests: u.requests, Minutes: u.minutes, First: u.first, Last: u.last,
			Viewed: u.viewed, Persistent: u.persistent}
	}
	var recs [][]pairRec
	// The maps are let go as their records are built, before the report
	// is drawn.
	p.Names, recs = recsFromMaps([]*map[uint64]pairVal{&a.direct, &a.bound}, func(id uint32) string { return a.accs[id].name },
		kindRanks(kindTable(p.Options.Kinds)))
	p.Direct, p.Bound = recs[0], recs[1]
	for k, h := range a.hashes {
		hp := HashPartial{Path: k.path, Hash: k.hash}
		for u, c := range h.counts {
			hp.Users = append(hp.Users, HashUser{User: u, Count: c, Ref: h.refs[u]})
		}
		slices.SortFunc(hp.Users, func(x, y HashUser) int { return strings.Compare(x.User, y.User) })
		p.Hashes = append(p.Hashes, hp)
	}
	slices.SortFunc(p.Hashes, func(x, y HashPartial) int {
		if c := strings.Compare(x.Path, y.Path); c != 0 {
			return c
		}
		return strings.Compare(x.Hash, y.Hash)
	})
	for id, s := range a.sessions {
		p.Sessions[id] = &SessionPartial{User: s.user, Addrs: s.addrs}
	}
	for m, c := range a.minutes {
		cc := *c
		p.Minutes[m] = &cc
	}
	p.Samples = a.samples
	for _, u := range a.opts.Sessions {
		p.Known = append(p.Known, u)
	}
	slices.Sort(p.Known)
	p.Known = slices.Compact(p.Known)
	return p
}

func pairLess(x, y PairKey) int {
	if c := strings.Compare(x.Viewer, y.Viewer); c != 0 {
		return c
	}
	if c := strings.Compare(x.Owner, y.Owner); c != 0 {
		return c
	}
	if c := strings.Compare(x.Kind, y.Kind); c != 0 {
		return c
	}
	return strings.Compare(string(x.Evidence), string(y.Evidence))
}

func sortPairs(ps []Pair) {
	slices.SortFunc(ps, func(x, y Pair) int { return pairLess(x.PairKey, y.PairKey) })
}
