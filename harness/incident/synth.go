package incident

import (
	"bufio"
	"container/heap"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// SynthOptions shape the synthesized 2008 incident.
type SynthOptions struct {
	Users     int
	Instances int
	// Start and End bound the log; Deploy is when the bug goes live;
	// BlockFrom and BlockAll when blocking starts and is complete: each user
	// is blocked at a time drawn between the two, and sends nothing after.
	Start, Deploy, BlockFrom, BlockAll, End time.Time
	// Window is the mechanism's window W: a request's handler reads the
	// shared "current user" W after writing it.
	Window time.Duration
	// Think is the mean time between a user's requests.
	Think time.Duration
	// MeanSession is the mean length of a user's visit.
	MeanSession time.Duration
	// TwoAddressShare is the share of users whose session moves to a second
	// client address halfway.
	TwoAddressShare float64
	Seed            uint64
	// Combined writes the log in the combined format instead (with the user
	// in its user field, one-second times and nothing else of ours): the
	// same requests, for comparing parsers.
	Combined bool
}

// DefaultSynth is the 2008 incident: 20,000 users on 8 instances from 15:00
// to 16:10, the bug live from 15:10, blocking from 15:55 to 16:10.
func DefaultSynth() SynthOptions {
	day := time.Date(2008, 7, 10, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	return SynthOptions{Users: 20000, Instances: 8, Start: at(15, 0), Deploy: at(15, 10), BlockFrom: at(15, 55),
		BlockAll: at(16, 10), End: at(16, 10), Window: 250 * time.Microsecond, Think: time.Minute,
		MeanSession: 25 * time.Minute, TwoAddressShare: 0.002, Seed: 2008}
}

// SynthClasses is the request classes of the synthesized webmail that read
// the shared "current user": every page behind the login.
var SynthClasses = []string{`^/(inbox|profile|messages/)`}

// Truth is the ground truth of a synthesized incident: every response that
// carried another user's data, by pair and kind.
type Truth struct {
	Window    time.Duration `json:"window_ns"`
	Users     int           `json:"users"`
	Instances int           `json:"instances"`
	Lines     int64         `json:"lines"`
	// Pairs are the true viewer → owner pairs with their counts, held as
	// records like a report's (see [Pairs]).
	Pairs   Pairs          `json:"pairs"`
	Owners  map[string]int `json:"owners_by_kind"`
	Viewers map[string]int `json:"viewers_by_kind"`
}

// TruthCheck compares a report with the ground truth.
type TruthCheck struct {
	// DirectEqual: the direct-evidence pairs and their counts are exactly
	// the truth's.
	DirectEqual   bool `json:"direct_equal"`
	DirectPairs   int  `json:"direct_pairs"`
	TruthPairs    int  `json:"truth_pairs"`
	MissingPairs  int  `json:"missing_pairs"`
	ExtraPairs    int  `json:"extra_pairs"`
	CountMismatch int  `json:"count_mismatches"`
	// Kinds compares owner counts per kind: truth, direct, bound, slack.
	Kinds []TruthKind `json:"kinds"`
	// BoundNeverBelow: the bound covers every true owner, kind by kind.
	BoundNeverBelow bool `json:"bound_never_below"`
	// ModelCovers: the model's own exposures, without the direct evidence
	// the bound also counts, cover every true pair.
	ModelCovers       bool `json:"model_covers_truth"`
	PairsOutsideModel int  `json:"true_pairs_outside_model"`
}

// TruthKind is one kind's owners in the truth, the direct count and the bound.
type TruthKind struct {
	Kind    string `json:"kind"`
	Truth   int    `json:"truth"`
	Direct  int    `json:"direct"`
	Bound   int    `json:"bound"`
	Slack   int    `json:"slack"`
	Covered bool   `json:"bound_covers_every_true_owner"`
	// Model is the owners the model alone allows.
	Model int `json:"model"`
}

func compareTruth(t *Truth, r *Report) *TruthCheck {
	c := &TruthCheck{DirectEqual: true, BoundNeverBelow: true, ModelCovers: true, TruthPairs: t.Pairs.Len()}
	// Both lists are sorted by pair: walk them side by side rather than
	// index a million pairs by their strings. Equal keys are adjacent (one
	// viewer may have received one owner's bodies on several paths).
	want := &t.Pairs
	next := func(at func(int) Pair, n int, i *int) (PairKey, int64, bool) {
		if *i >= n {
			return PairKey{}, 0, false
		}
		p := at(*i)
		k, c := p.PairKey, p.Count
		for *i++; *i < n; *i++ {
			q := at(*i)
			if q.PairKey != k {
				break
			}
			c += q.Count
		}
		return k, c, true
	}
	var gi, wi int
	gk, gc, gok := next(r.Direct.At, r.Direct.Len(), &gi)
	wk, wc, wok := next(want.At, want.Len(), &wi)
	for gok || wok {
		switch {
		case gok && (!wok || pairLess(gk, wk) < 0):
			c.DirectPairs++
			c.ExtraPairs++
			gk, gc, gok = next(r.Direct.At, r.Direct.Len(), &gi)
		case wok && (!gok || pairLess(wk, gk) < 0):
			c.MissingPairs++
			wk, wc, wok = next(want.At, want.Len(), &wi)
		default:
			c.DirectPairs++
			if gc != wc {
				c.CountMismatch++
			}
			gk, gc, gok = next(r.Direct.At, r.Direct.Len(), &gi)
			wk, wc, wok = next(want.At, want.Len(), &wi)
		}
	}
	c.DirectEqual = c.MissingPairs == 0 && c.ExtraPairs == 0 && c.CountMismatch == 0
	for p := range t.Pairs.All() {
		if !r.bound.has(p.Viewer, p.Owner, p.Kind) {
			c.PairsOutsideModel++
			c.ModelCovers = false
		}
	}
	trueOwners := map[string]map[string]bool{}
	for p := range t.Pairs.All() {
		if trueOwners[p.Kind] == nil {
			trueOwners[p.Kind] = map[string]bool{}
		}
		trueOwners[p.Kind][p.Owner] = true
	}
	boundOwners := map[string]map[string]bool{}
	for p := range r.Direct.All() {
		if boundOwners[p.Kind] == nil {
			boundOwners[p.Kind] = map[string]bool{}
		}
		boundOwners[p.Kind][p.Owner] = true
	}
	for _, u := range r.Users {
		for _, k := range u.BoundKinds {
			if boundOwners[k] == nil {
				boundOwners[k] = map[string]bool{}
			}
			boundOwners[k][u.User] = true
		}
	}
	kinds := sortedKeys(map[string]bool{})
	for k := range trueOwners {
		kinds = append(kinds, k)
	}
	for _, row := range r.Matrix {
		if !slices.Contains(kinds, row.Kind) {
			kinds = append(kinds, row.Kind)
		}
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		tk := TruthKind{Kind: k, Truth: len(trueOwners[k]), Direct: r.directOwners[k], Bound: len(boundOwners[k]), Covered: true}
		for o := range trueOwners[k] {
			if !boundOwners[k][o] {
				tk.Covered = false
			}
		}
		tk.Slack = tk.Bound - tk.Truth
		tk.Model = r.modelOwners[k]
		if !tk.Covered {
			c.BoundNeverBelow = false
		}
		c.Kinds = append(c.Kinds, tk)
	}
	return c
}

// ReadTruth loads a truth file written by [Synthesize].
func ReadTruth(name string, r io.Reader) (*Truth, error) {
	// Streamed pair by pair: the truth of a large incident has a million
	// pairs, and a report of it must not hold them as strings.
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	bad := func(err error) (*Truth, error) {
		return nil, fmt.Errorf("%s: not a ground-truth file: %w", name, err)
	}
	var t Truth
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return bad(errors.New("not a JSON object"))
	}
	var b pairsBuilder
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		switch tok {
		case "pairs":
			if tok, err := dec.Token(); err != nil || (tok != json.Delim('[') && tok != nil) {
				return bad(errors.New("pairs: not an array"))
			} else if tok == nil {
				continue
			}
			for dec.More() {
				var p Pair
				if err := dec.Decode(&p); err != nil {
					return bad(err)
				}
				if err := b.add(p); err != nil {
					return bad(err)
				}
			}
			if _, err := dec.Token(); err != nil {
				return bad(err)
			}
		case "window_ns":
			err = dec.Decode(&t.Window)
		case "users":
			err = dec.Decode(&t.Users)
		case "instances":
			err = dec.Decode(&t.Instances)
		case "lines":
			err = dec.Decode(&t.Lines)
		case "owners_by_kind":
			err = dec.Decode(&t.Owners)
		case "viewers_by_kind":
			err = dec.Decode(&t.Viewers)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return bad(err)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return bad(errors.New("the object does not end"))
	}
	t.Pairs = b.done()
	return &t, nil
}

type synthUser struct {
	login, session string
	addr, addr2    string
	start, end     int64
	switchAt       int64
	loggedIn       bool
	next           int64
	idx            int
}

type userHeap []*synthUser

func (h userHeap) Len() int           { return len(h) }
func (h userHeap) Less(i, j int) bool { return h[i].next < h[j].next }
func (h userHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *userHeap) Push(x any)        { *h = append(*h, x.(*synthUser)) }
func (h *userHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type synthReq struct {
	start, end int64
	user       *synthUser
	owner      *synthUser // whose data the handler rendered; nil: none
	latest     *synthUser // the last writer of the shared user seen so far
	instance   int
	path       string
	kind       string
	bug        bool
	conn       int64
	connReq    int64
	seq        int64
}

type endHeap []*synthReq

func (h endHeap) Len() int { return len(h) }
func (h endHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	return h[i].seq < h[j].seq
}
func (h endHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)   { *h = append(*h, x.(*synthReq)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// SynthSinks are where [Synthesize] writes: the log (JSON lines, no user
// field, only the session) and the session → user mapping.
type SynthSinks struct {
	Log, Sessions io.Writer
}

// Synthesize writes a realistic log of the 2008 incident and returns its
// ground truth. Requests arrive as each user's own Poisson process over a
// visit; each goes to a random instance; on an instance, a page request
// started at t renders the data of the user whose page request started last
// in (t, t+W], if any, once the bug is live. Lines are written in the order
// of their log time (the end of the request), with µs timestamps, as nginx
// writes them.
func Synthesize(o SynthOptions, out SynthSinks) (*Truth, error) {
	if o.Users <= 0 || o.Instances <= 0 || !o.End.After(o.Start) || o.Think <= 0 || o.MeanSession <= 0 {
		return nil, fmt.Errorf("synthesize: need users, instances, a time range, think time and session length")
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	us := func(t time.Time) int64 { return t.UnixMicro() }
	start, end, deploy := us(o.Start), us(o.End), us(o.Deploy)
	blockFrom, blockAll := us(o.BlockFrom), us(o.BlockAll)
	W := int64(o.Window / time.Microsecond)
	users := make([]*synthUser, o.Users)
	h := make(userHeap, 0, o.Users)
	sessW := csv.NewWriter(out.Sessions)
	if err := sessW.Write([]string{"session", "user"}); err != nil {
		return nil, err
	}
	for i := range users {
		u := &synthUser{login: fmt.Sprintf("u%05d", i+1), session: fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()),
			addr: fmt.Sprintf("198.51.%d.%d", (i/250)%256, i%250+1)}
		u.start = start + rng.Int64N(end-start)
		length := int64(rng.ExpFloat64() * float64(o.MeanSession/time.Microsecond))
		u.end = min(u.start+length, end)
		if blockAll > blockFrom {
			u.end = min(u.end, blockFrom+rng.Int64N(blockAll-blockFrom))
		}
		if rng.Float64() < o.TwoAddressShare {
			u.addr2 = fmt.Sprintf("203.0.113.%d", i%254+1)
			u.switchAt = (u.start + u.end) / 2
		}
		u.next = u.start
		users[i] = u
		if err := sessW.Write([]string{u.session, u.login}); err != nil {
			return nil, err
		}
		if u.start < u.end {
			heap.Push(&h, u)
			u.idx = len(h) - 1
		}
	}
	sessW.Flush()
	if err := sessW.Error(); err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(out.Log, 1<<20)
	truth := &Truth{Window: o.Window, Users: o.Users, Instances: o.Instances}
	pairs := map[PairKey]int64{}
	pending := make([][]*synthReq, o.Instances)
	var done endHeap
	conns := map[[2]int]int64{}
	var seq int64
	var line []byte
	think := float64(o.Think / time.Microsecond)
	emit := func(r *synthReq) error {
		if o.Combined {
			line = synthCombined(line[:0], r)
		} else {
			line = synthLine(line[:0], r)
		}
		truth.Lines++
		if r.owner != nil && r.owner != r.user {
			pairs[PairKey{Viewer: r.user.login, Owner: r.owner.login, Kind: r.kind, Evidence: ByOwnerField}]++
		}
		_, err := bw.Write(line)
		return err
	}
	// resolve fixes the owner of the instance's pending requests that no
	// later start can overwrite any more, and queues them for the log.
	resolve := func(inst int, now int64) {
		q := pending[inst]
		n := 0
		for _, r := range q {
			if r.start+W < now {
				if r.latest != nil {
					r.owner = r.latest
				}
				heap.Push(&done, r)
				continue
			}
			q[n] = r
			n++
		}
		pending[inst] = q[:n]
	}
	flush := func(now int64) error {
		for done.Len() > 0 && done[0].end < now-W {
			if err := emit(heap.Pop(&done).(*synthReq)); err != nil {
				return err
			}
		}
		return nil
	}
	for h.Len() > 0 {
		u := h[0]
		t := u.next
		r := &synthReq{start: t, user: u, instance: rng.IntN(o.Instances), seq: seq}
		seq++
		if !u.loggedIn {
			r.path, r.kind = "/login", "login"
			u.loggedIn = true
		} else {
			switch x := rng.Float64(); {
			case x < 0.35:
				r.path, r.kind = "/inbox", "mail"
			case x < 0.70:
				r.path, r.kind = "/messages/"+strconv.Itoa(1+rng.IntN(40)), "mail"
			case x < 0.85:
				r.path, r.kind = "/messages/"+strconv.Itoa(1+rng.IntN(40))+"/attachments/1", "attachment"
			default:
				r.path, r.kind = "/profile", "profile"
			}
			r.bug = true
			r.owner = u
		}
		dur := int64(math.Exp(math.Log(8000)+0.6*rng.NormFloat64())) + 200
		dur = min(dur, 2_000_000)
		r.end = t + dur
		// One keep-alive connection per user and instance.
		ck := [2]int{int(hashString(u.login) & 0x7fffffff), r.instance}
		conns[ck]++
		r.conn, r.connReq = int64(r.instance)<<31|int64(ck[0]), conns[ck]
		for i := range pending {
			resolve(i, t)
		}
		if r.bug && t >= deploy {
			for _, p := range pending[r.instance] {
				if p.bug && p.start >= deploy && t > p.start && t <= p.start+W {
					p.latest = u
				}
			}
		}
		pending[r.instance] = append(pending[r.instance], r)
		if err := flush(t); err != nil {
			return nil, err
		}
		gap := int64(rng.ExpFloat64()*think) + 1
		u.next = t + gap
		if u.next >= u.end {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	for i := range pending {
		resolve(i, 1<<62)
	}
	for done.Len() > 0 {
		if err := emit(heap.Pop(&done).(*synthReq)); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	owners, viewers := map[string]map[string]bool{}, map[string]map[string]bool{}
	list := make([]Pair, 0, len(pairs))
	for k, n := range pairs {
		list = append(list, Pair{PairKey: k, Count: n})
		if owners[k.Kind] == nil {
			owners[k.Kind], viewers[k.Kind] = map[string]bool{}, map[string]bool{}
		}
		owners[k.Kind][k.Owner] = true
		viewers[k.Kind][k.Viewer] = true
	}
	sortPairs(list)
	ps, err := pairsOf(list)
	if err != nil {
		return nil, err
	}
	truth.Pairs = ps
	truth.Owners, truth.Viewers = map[string]int{}, map[string]int{}
	for k := range owners {
		truth.Owners[k], truth.Viewers[k] = len(owners[k]), len(viewers[k])
	}
	return truth, nil
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// appendSeconds writes µs as decimal seconds with six decimals.
func appendSeconds(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us/1_000_000, 10)
	b = append(b, '.')
	frac := us % 1_000_000
	s := strconv.AppendInt(nil, frac, 10)
	for i := len(s); i < 6; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func synthLine(b []byte, r *synthReq) []byte {
	u := r.user
	addr := u.addr
	if u.addr2 != "" && r.start >= u.switchAt {
		addr = u.addr2
	}
	method, status := "GET", "200"
	if r.path == "/login" {
		method, status = "POST", "303"
	}
	data := u
	if r.owner != nil {
		data = r.owner
	}
	size := 2000 + int64(hashString(data.login+r.path)%30000)
	b = append(b, `{"msec":"`...)
	b = appendSeconds(b, r.end)
	b = append(b, `","request_time":"`...)
	b = appendSeconds(b, r.end-r.start)
	b = append(b, `","request_id":"`...)
	b = strconv.AppendUint(b, uint64(r.seq)*2654435761+1, 16)
	b = append(b, `","connection":"`...)
	b = strconv.AppendInt(b, r.conn, 10)
	b = append(b, `","connection_requests":"`...)
	b = strconv.AppendInt(b, r.connReq, 10)
	b = append(b, `","upstream_addr":"10.0.1.`...)
	b = strconv.AppendInt(b, int64(r.instance+1), 10)
	b = append(b, `:8080","remote_addr":"`...)
	b = append(b, addr...)
	b = append(b, `","session":"`...)
	b = append(b, u.session...)
	b = append(b, `","method":"`...)
	b = append(b, method...)
	b = append(b, `","uri":"`...)
	b = append(b, r.path...)
	b = append(b, `","status":"`...)
	b = append(b, status...)
	b = append(b, `","bytes":"`...)
	b = strconv.AppendInt(b, size, 10)
	b = append(b, `","owner":"`...)
	if r.owner != nil {
		b = append(b, r.owner.login...)
	} else {
		b = append(b, '-')
	}
	return append(b, "\"}\n"...)
}

var monthNames = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func synthCombined(b []byte, r *synthReq) []byte {
	u := r.user
	addr := u.addr
	if u.addr2 != "" && r.start >= u.switchAt {
		addr = u.addr2
	}
	method, status := "GET", "200"
	if r.path == "/login" {
		method, status = "POST", "303"
	}
	data := u
	if r.owner != nil {
		data = r.owner
	}
	t := time.UnixMicro(r.end).UTC()
	b = append(b, addr...)
	b = append(b, " - "...)
	b = append(b, u.login...)
	b = append(b, " ["...)
	b = appendPad2(b, t.Day())
	b = append(b, '/')
	b = append(b, monthNames[t.Month()-1]...)
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(t.Year()), 10)
	b = append(b, ':')
	b = appendPad2(b, t.Hour())
	b = append(b, ':')
	b = appendPad2(b, t.Minute())
	b = append(b, ':')
	b = appendPad2(b, t.Second())
	b = append(b, ` +0000] "`...)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, r.path...)
	b = append(b, ` HTTP/1.1" `...)
	b = append(b, status...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, 2000+int64(hashString(data.login+r.path)%30000), 10)
	return append(b, " \"https://mail.example/inbox\" \"Mozilla/5.0 (X11; Linux x86_64; rv:3.0) Gecko/2008070208 Firefox/3.0\"\n"...)
}

func appendPad2(b []byte, n int) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}
