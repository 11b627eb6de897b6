package incident

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReportVersion is the version of the incident report's JSON.
const ReportVersion = 1

// Report is the incident analysis: what was read, what the log proves,
// what the model bounds, who is in which category, and when.
type Report struct {
	Version int    `json:"version"`
	Inputs  Inputs `json:"inputs"`
	Model   *Model `json:"model,omitempty"`
	// ModelText says the model in words.
	ModelText string    `json:"model_text,omitempty"`
	Deploy    time.Time `json:"deploy,omitzero"`
	Window    Window    `json:"window"`
	// Statements are the counts in the operator's form, each saying what it
	// rests on.
	Statements []Statement `json:"statements"`
	// Matrix is the exposure matrix: per kind of data, owners and viewers
	// by direct evidence and by the bound.
	Matrix     []KindRow      `json:"matrix"`
	Categories map[string]int `json:"categories"`
	// Direct is every direct pair; the JSON has them last, as
	// "direct_pairs", written one by one (see WriteJSON).
	Direct     Pairs `json:"-"`
	BoundPairs int   `json:"bound_pairs"`
	// DirectOutsideModel counts direct pairs the model alone would not have
	// allowed: the model is too narrow for this log (the bound includes
	// them all the same).
	DirectOutsideModel int           `json:"direct_outside_model"`
	BoundTop           []Pair        `json:"bound_top,omitempty"`
	TwoAddresses       []SessionFlag `json:"two_addresses"`
	Persistent         []UserFlag    `json:"persistent"`
	Timeline           Timeline      `json:"timeline"`
	Samples            []Sample      `json:"samples,omitempty"`
	Truth              *TruthCheck   `json:"truth,omitempty"`
	Caveats            []string      `json:"caveats,omitempty"`
	Users              []UserRow     `json:"-"`
	// directOwners and modelOwners count, per kind, the owners of direct
	// pairs and of the model's own pairs, for the truth check.
	directOwners, modelOwners map[string]int
	bound                     Pairs
}

// Inputs is what was read.
type Inputs struct {
	Files        []FileStat `json:"files"`
	Lines        int64      `json:"lines"`
	Parsed       int64      `json:"parsed"`
	Bad          int64      `json:"bad"`
	BadLines     []BadLine  `json:"bad_lines,omitempty"`
	Late         int64      `json:"late,omitempty"`
	Unattributed int64      `json:"unattributed,omitempty"`
	Resolution   string     `json:"resolution"`
	Instances    int        `json:"instances"`
	Users        int        `json:"users"`
	First        time.Time  `json:"first,omitzero"`
	Last         time.Time  `json:"last,omitzero"`
}

// Window is the incident window users are classified in.
type Window struct {
	From   time.Time `json:"from,omitzero"`
	Until  time.Time `json:"until,omitzero"`
	Source string    `json:"source"`
}

// Statement is one count as an operator would state it.
type Statement struct {
	Text     string   `json:"text"`
	Kind     string   `json:"kind"`
	Users    int      `json:"users"`
	Evidence Evidence `json:"evidence"`
	// Exact is true for direct evidence: the count is the count, not a bound.
	Exact bool `json:"exact"`
}

// KindRow is one row of the exposure matrix.
type KindRow struct {
	Kind          string `json:"kind"`
	DirectOwners  int    `json:"direct_owners"`
	DirectViewers int    `json:"direct_viewers"`
	DirectCount   int64  `json:"direct_responses"`
	BoundOwners   int    `json:"bound_owners"`
	BoundViewers  int    `json:"bound_viewers"`
}

// SessionFlag is a session used from more than one client address.
type SessionFlag struct {
	Session string   `json:"session"`
	User    string   `json:"user"`
	Addrs   []string `json:"addrs"`
}

// UserFlag is a user who kept receiving others' data.
type UserFlag struct {
	User string `json:"user"`
	// Unexplained counts leaking responses that no concurrent request of
	// the model's classes could explain: the "control leaks" of a
	// persistent corruption.
	Unexplained int64 `json:"unexplained"`
	Viewed      int64 `json:"viewed"`
}

// FinalOptions shape the report drawn from a partial.
type FinalOptions struct {
	// Users lists every user to classify, for example all accounts, so that
	// those absent from the log show as not connected.
	Users []string
	// WindowFrom and WindowUntil set the incident window; zero: from the
	// deploy (or the first leak) to the last leak.
	WindowFrom, WindowUntil time.Time
	// Truth, when set, is compared with the result.
	Truth *Truth
	// Location renders minutes in the timeline; nil is UTC.
	Location *time.Location
}

// Category names, the court's sort of 2008.
const (
	CatOwner        = "owner"         // their data was seen by another (direct evidence)
	CatViewer       = "viewer"        // they saw others' data, their own was not shown seen
	CatPossible     = "possible"      // the bound allows that their data was seen; unproven
	CatUnaffected   = "unaffected"    // connected in the window, neither
	CatNotConnected = "not_connected" // no request in the window
)

// UserRow is one line of the per-user classification.
type UserRow struct {
	User         string
	Category     string
	Requests     int64
	Viewed       int64
	SeenBy       int64
	OwnerKinds   []string
	ViewerKinds  []string
	BoundKinds   []string
	Persistent   int64
	TwoAddresses bool
	First, Last  time.Time
}

func usTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Finalize draws the report from a partial: a single pass's or a merge's.
func Finalize(p *Partial, fo FinalOptions) *Report {
	r := &Report{Version: ReportVersion, Categories: map[string]int{}}
	r.Model = p.Options.Model
	if r.Model != nil {
		r.ModelText = r.Model.String()
	}
	if p.Options.Deploy != 0 {
		r.Deploy = usTime(p.Options.Deploy)
	}
	in := &r.Inputs
	in.Files = p.Files
	for _, f := range p.Files {
		in.Lines += f.Lines - f.Blank
		in.Bad += f.Bad
	}
	in.Parsed, in.BadLines, in.Late, in.Unattributed = p.Parsed, p.Bad, p.Late, p.Unattributed
	in.Resolution = time.Duration(p.Res * int64(time.Microsecond)).String()
	in.Instances = len(p.Instances)
	if p.Parsed > 0 {
		in.First, in.Last = usTime(p.First), usTime(p.Last)
	}

	kindNames := kindTable(p.Options.Kinds)
	ranks := kindRanks(kindNames)
	files := make([]string, len(p.Files))
	for i, f := range p.Files {
		files[i] = f.Name
	}
	r.Direct = Pairs{names: p.Names, kinds: kindNames, files: files, recs: p.Direct}
	if hp := hashPairs(p); len(hp) > 0 {
		r.Direct = withPairs(r.Direct, hp, ranks)
	}
	r.bound = Pairs{names: p.Names, kinds: kindNames, files: files, recs: p.Bound}
	r.BoundPairs = len(p.Bound)
	// Everything below walks the records by index, a million pairs without
	// a string map lookup or an allocation each. names is the direct
	// pairs' table, a superset of the bound pairs': remap takes a bound
	// index to it, keeping the order.
	names := r.Direct.names
	remap := make([]uint32, len(p.Names))
	for i, n := range p.Names {
		j, _ := slices.BinarySearch(names, n)
		remap[i] = uint32(j)
	}
	if p.Options.Model != nil {
		r.DirectOutsideModel = outsideModel(r.Direct.recs, p.Bound, remap, ranks)
	}
	// The 20 bound pairs seen most often; ties in the pairs' order.
	var top []int
	for i, b := range p.Bound {
		j := sort.Search(len(top), func(j int) bool { return p.Bound[top[j]].Count < b.Count })
		if j < 20 {
			top = slices.Insert(top, j, i)
			if len(top) > 20 {
				top = top[:20]
			}
		}
	}
	for _, i := range top {
		r.BoundTop = append(r.BoundTop, r.bound.At(i))
	}

	kinds := []string{}
	for _, k := range p.Options.Kinds {
		if !slices.Contains(kinds, k.Kind) {
			kinds = append(kinds, k.Kind)
		}
	}
	kinds = append(kinds, OtherKind)
	type set = map[uint32]struct{}
	type sets struct{ dOwn, dView, bOwn, bView, model set }
	per := make([]*sets, len(kindNames))
	get := func(k uint8) *sets {
		s := per[k]
		if s == nil {
			s = &sets{set{}, set{}, set{}, set{}, set{}}
			per[k] = s
		}
		return s
	}
	directCount := make([]int64, len(kindNames))
	type uinfo struct {
		ownK, viewK, boundK kindSet
		seenBy              int64
		viewed              int64
	}
	ui := make([]uinfo, len(names))
	var firstLeak, lastLeak int64 = 1 << 62, -1 << 62
	for _, d := range r.Direct.recs {
		s := get(d.Kind)
		s.dOwn[d.Owner] = struct{}{}
		s.dView[d.Viewer] = struct{}{}
		s.bOwn[d.Owner] = struct{}{}
		s.bView[d.Viewer] = struct{}{}
		directCount[d.Kind] += d.Count
		o, v := &ui[d.Owner], &ui[d.Viewer]
		o.ownK.add(d.Kind)
		o.boundK.add(d.Kind)
		o.seenBy += d.Count
		v.viewK.add(d.Kind)
		v.viewed += d.Count
	}
	for _, b := range p.Bound {
		owner, viewer := remap[b.Owner], remap[b.Viewer]
		s := get(b.Kind)
		s.model[owner] = struct{}{}
		s.bOwn[owner] = struct{}{}
		s.bView[viewer] = struct{}{}
		ui[owner].boundK.add(b.Kind)
	}
	r.directOwners, r.modelOwners = map[string]int{}, map[string]int{}
	for k, s := range per {
		if s == nil {
			continue
		}
		if !slices.Contains(kinds, kindNames[k]) {
			kinds = append(kinds, kindNames[k])
		}
	}
	for m, c := range p.Minutes {
		if c.Direct > 0 || c.Bound > 0 {
			firstLeak = min(firstLeak, m)
			lastLeak = max(lastLeak, m)
		}
	}
	for _, k := range kinds {
		ki := slices.Index(kindNames, k)
		if ki < 0 || per[ki] == nil {
			continue
		}
		s := per[ki]
		row := KindRow{Kind: k, DirectCount: directCount[ki], DirectOwners: len(s.dOwn), DirectViewers: len(s.dView),
			BoundOwners: len(s.bOwn), BoundViewers: len(s.bView)}
		r.Matrix = append(r.Matrix, row)
		r.directOwners[k], r.modelOwners[k] = len(s.dOwn), len(s.model)
	}
	for _, row := range r.Matrix {
		if row.DirectOwners > 0 || p.Options.Model == nil {
			r.Statements = append(r.Statements, Statement{
				Text: fmt.Sprintf("%d users had %s (direct evidence: the log names whose data was served)", row.DirectOwners, kindPhrase(row.Kind)),
				Kind: row.Kind, Users: row.DirectOwners, Evidence: directEvidenceOf(&r.Direct, row.Kind), Exact: true})
		}
		if p.Options.Model != nil {
			r.Statements = append(r.Statements, Statement{
				Text: fmt.Sprintf("at most %d users had %s (mechanism bound: requests that overlapped within the model's window, plus the direct evidence)",
					row.BoundOwners, kindPhrase(row.Kind)),
				Kind: row.Kind, Users: row.BoundOwners, Evidence: ByMechanism})
		}
	}

	// The window.
	switch {
	case !fo.WindowFrom.IsZero() || !fo.WindowUntil.IsZero():
		r.Window = Window{From: fo.WindowFrom.UTC(), Until: fo.WindowUntil.UTC(), Source: "given"}
	case lastLeak >= firstLeak:
		from := usTime(firstLeak * 60_000_000)
		src := "first to last leak"
		if !r.Deploy.IsZero() && r.Deploy.Before(from) {
			from, src = r.Deploy, "deploy to last leak"
		}
		r.Window = Window{From: from, Until: usTime((lastLeak + 1) * 60_000_000), Source: src}
	case p.Parsed > 0:
		r.Window = Window{From: usTime(p.First), Until: usTime(p.Last + 1), Source: "the whole log (no leak)"}
	}
	wFrom, wUntil := int32(-1<<31+1), int32(1<<31-1)
	if !r.Window.From.IsZero() {
		wFrom = int32(floorDiv(r.Window.From.UnixMicro(), 60_000_000))
	}
	if !r.Window.Until.IsZero() {
		wUntil = int32(floorDiv(r.Window.Until.UnixMicro()-1, 60_000_000))
	}

	// Flags.
	twoAddr := map[string]bool{}
	for id, s := range p.Sessions {
		if len(s.Addrs) > 1 {
			r.TwoAddresses = append(r.TwoAddresses, SessionFlag{Session: id, User: s.User, Addrs: s.Addrs})
			twoAddr[s.User] = true
		}
	}
	slices.SortFunc(r.TwoAddresses, func(x, y SessionFlag) int { return strings.Compare(x.Session, y.Session) })

	// Every user.
	all := map[string]bool{}
	for n := range p.Users {
		all[n] = true
	}
	for _, n := range fo.Users {
		all[n] = true
	}
	for _, n := range p.Known {
		all[n] = true
	}
	for _, n := range r.Direct.names {
		all[n] = true
	}
	sorted := make([]string, 0, len(all))
	for n := range all {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	in.Users = len(sorted)
	for _, n := range sorted {
		up := p.Users[n]
		var u *uinfo
		if i, ok := slices.BinarySearch(names, n); ok {
			u = &ui[i]
		}
		row := UserRow{User: n, TwoAddresses: twoAddr[n]}
		connected := false
		if up != nil {
			row.Requests, row.Persistent = up.Requests, up.Persistent
			row.First, row.Last = usTime(up.First), usTime(up.Last)
			for i := 0; i+1 < len(up.Minutes); i += 2 {
				if up.Minutes[i] <= wUntil && up.Minutes[i+1] >= wFrom {
					connected = true
				}
			}
			if up.Persistent > 0 {
				r.Persistent = append(r.Persistent, UserFlag{User: n, Unexplained: up.Persistent, Viewed: up.Viewed})
			}
		}
		if u != nil {
			row.Viewed, row.SeenBy = u.viewed, u.seenBy
			row.OwnerKinds, row.ViewerKinds, row.BoundKinds = u.ownK.names(kindNames), u.viewK.names(kindNames), u.boundK.names(kindNames)
		}
		switch {
		case len(row.OwnerKinds) > 0:
			row.Category = CatOwner
		case len(row.ViewerKinds) > 0:
			row.Category = CatViewer
		case !connected:
			row.Category = CatNotConnected
		case len(row.BoundKinds) > 0:
			row.Category = CatPossible
		default:
			row.Category = CatUnaffected
		}
		r.Categories[row.Category]++
		r.Users = append(r.Users, row)
	}
	r.Timeline = buildTimeline(p, r, firstLeak, lastLeak, fo.Location)
	r.Samples = p.Samples
	r.Caveats = caveats(p, r)
	if fo.Truth != nil {
		r.Truth = compareTruth(fo.Truth, r)
	}
	return r
}

func directEvidenceOf(ps *Pairs, kind string) Evidence {
	var seen [len(evidenceCodes)]bool
	for _, r := range ps.recs {
		if ps.kinds[r.Kind] == kind {
			seen[r.Ev] = true
		}
	}
	var ev []string
	for i, ok := range seen {
		if ok {
			ev = append(ev, string(evidenceCodes[i]))
		}
	}
	return Evidence(strings.Join(ev, ", "))
}

// withPairs adds the pairs of shared bodies, few, to a partial's direct
// pairs, over the union of their names.
func withPairs(ps Pairs, extra []Pair, ranks []uint8) Pairs {
	names := map[string]bool{}
	for _, n := range ps.names {
		names[n] = true
	}
	for _, p := range extra {
		names[p.Viewer], names[p.Owner] = true, true
	}
	out := Pairs{names: sortedKeys(names), kinds: ps.kinds, files: ps.files}
	idx := func(n string) uint32 { i, _ := slices.BinarySearch(out.names, n); return uint32(i) }
	out.recs = make([]pairRec, 0, len(ps.recs)+len(extra))
	for _, r := range ps.recs {
		r.Viewer, r.Owner = idx(ps.names[r.Viewer]), idx(ps.names[r.Owner])
		out.recs = append(out.recs, r)
	}
	for _, p := range extra {
		ev, _ := evidenceCode(p.Evidence)
		r := pairRec{Viewer: idx(p.Viewer), Owner: idx(p.Owner), Kind: uint8(max(slices.Index(ps.kinds, p.Kind), 0)), Ev: ev, Count: p.Count}
		if len(p.Refs) > 0 {
			r.File, r.Line = uint16(max(slices.Index(ps.files, p.Refs[0].File), 0)), p.Refs[0].Line
		}
		out.recs = append(out.recs, r)
	}
	// One viewer may have received one owner's bodies on several paths:
	// such records are equal but for count and line, and keep an order.
	slices.SortStableFunc(out.recs, func(x, y pairRec) int { return recCompare(x, y, ranks) })
	return out
}

// kindPhrase says what happened to a user's data of kind k, in the words
// of the 2008 statement ("had mail content seen by others").
func kindPhrase(k string) string {
	switch k {
	case "mail":
		return "mail content seen by others"
	case "attachment":
		return "attachments downloaded by others"
	case "profile":
		return "their profile page shown to others"
	}
	return k + " data seen by others"
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// hashPairs turns bodies received by more than one user into pairs: the
// resource's owner, where ownership is known, else the user who received
// that body most often, is its owner; every other receiver saw it.
func hashPairs(p *Partial) []Pair {
	kinds, _ := compileKinds(p.Options.Kinds)
	var out []Pair
	for _, h := range p.Hashes {
		if len(h.Users) < 2 {
			continue
		}
		owner := h.Users[0]
		for _, u := range h.Users[1:] {
			if u.Count > owner.Count {
				owner = u
			}
		}
		kind := OtherKind
		for _, k := range kinds {
			if k.re.MatchString(h.Path) {
				kind = k.Kind
				break
			}
		}
		ev := ByBodyHash
		if strings.HasPrefix(h.Hash, "size:") {
			ev = ByBodySize
		}
		for _, u := range h.Users {
			if u.User == owner.User {
				continue
			}
			out = append(out, Pair{PairKey: PairKey{Viewer: u.User, Owner: owner.User, Kind: kind, Evidence: ev},
				Count: u.Count, Refs: []Ref{u.Ref}})
		}
	}
	return out
}

func caveats(p *Partial, r *Report) []string {
	var c []string
	for _, f := range p.Files {
		if f.Formats[FormatCombined] > 0 {
			c = append(c, fmt.Sprintf("%s: %d combined-format lines: one-second timestamps, no duration and no instance, so their overlaps are bounded at one-second resolution over all instances pooled, and they carry no owner or body hash for direct evidence", f.Name, f.Formats[FormatCombined]))
		}
	}
	if p.NoInstance && p.Options.Model != nil && !p.Options.Model.AcrossInstances {
		c = append(c, "some lines name no instance: they are pooled as one instance, which loosens the bound")
	}
	if p.Late > 0 {
		c = append(c, fmt.Sprintf("%d lines were logged more than the horizon behind the latest time (a clock that stepped back, or a very long request): their overlaps with requests already released were not compared, so the bound may miss exposures through them", p.Late))
	}
	if p.Unattributed > 0 {
		c = append(c, fmt.Sprintf("%d lines name no user and no mapped session: they are not attributed to anyone", p.Unattributed))
	}
	if bad := r.Inputs.Bad; bad > 0 {
		c = append(c, fmt.Sprintf("%d malformed lines were skipped (listed by number)", bad))
	}
	if r.DirectOutsideModel > 0 {
		c = append(c, fmt.Sprintf("%d of the %d direct pairs are outside what the model allows (its window is narrower than the leak's real one, or another mechanism leaked): the bound counts them, but its other exposures may be too few", r.DirectOutsideModel, r.Direct.Len()))
	}
	if p.Options.Model == nil {
		c = append(c, "no leak model was given (-model-from, or -classes and -window): no upper bound is drawn, only direct evidence")
	}
	return c
}

// reportFields is a Report without its methods, for encoding/json.
type reportFields Report

// WriteJSON writes the report as indented JSON with its direct pairs last,
// written one at a time: a report of a million pairs is not built in
// memory whole.
func (r *Report) WriteJSON(w io.Writer) error {
	head, err := json.MarshalIndent((*reportFields)(r), "", "  ")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	head = bytes.TrimSuffix(head, []byte("}"))
	bw.Write(bytes.TrimRight(head, "\n"))
	bw.WriteString(",\n  \"direct_pairs\": [")
	enc := newPairEncoder(&r.Direct)
	var b []byte
	for i, rec := range r.Direct.recs {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		b = enc.append(b[:0], rec)
		bw.Write(b)
	}
	if r.Direct.Len() > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

// MarshalJSON is WriteJSON into memory, for small reports.
func (r *Report) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	err := r.WriteJSON(&b)
	return b.Bytes(), err
}

// UnmarshalJSON reads what WriteJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	var x struct {
		*reportFields
		Direct Pairs `json:"direct_pairs"`
	}
	x.reportFields = (*reportFields)(r)
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	r.Direct = x.Direct
	return nil
}

// kindSet is a set of kind indices.
type kindSet [4]uint64

func (k *kindSet) add(i uint8) { k[i/64] |= 1 << (i % 64) }

// names lists the set's kinds, sorted.
func (k *kindSet) names(kinds []string) []string {
	out := []string{}
	for i := range kinds {
		if k[i/64]&(1<<(uint(i)%64)) != 0 {
			out = append(out, kinds[i])
		}
	}
	slices.Sort(out)
	return out
}

// outsideModel counts the direct pairs whose viewer, owner and kind the
// model's pairs do not have; both lists are sorted alike, and remap takes
// the bound pairs' names to the direct pairs'.
func outsideModel(direct, bound []pairRec, remap []uint32, ranks []uint8) int {
	key := func(v, o uint32, kind uint8) uint64 { return pairKeyOf(v, o, ranks[kind], 0) }
	n, j := 0, 0
	for _, d := range direct {
		k := key(d.Viewer, d.Owner, d.Kind)
		for j < len(bound) && key(remap[bound[j].Viewer], remap[bound[j].Owner], bound[j].Kind) < k {
			j++
		}
		if j >= len(bound) || key(remap[bound[j].Viewer], remap[bound[j].Owner], bound[j].Kind) != k {
			n++
		}
	}
	return n
}

// pairEncoder writes a pair as json.MarshalIndent(pair, "    ", "  ")
// would, from strings encoded once per name: the 832,368 pairs of the
// 10-million-line incident took 1.11 s through reflection, 0.06 s so.
type pairEncoder struct {
	names, kinds, files, evs [][]byte
}

func newPairEncoder(ps *Pairs) *pairEncoder {
	quote := func(ss []string) [][]byte {
		out := make([][]byte, len(ss))
		for i, s := range ss {
			out[i], _ = json.Marshal(s)
		}
		return out
	}
	evs := make([]string, len(evidenceCodes))
	for i, ev := range evidenceCodes {
		evs[i] = string(ev)
	}
	return &pairEncoder{names: quote(ps.names), kinds: quote(ps.kinds), files: quote(ps.files), evs: quote(evs)}
}

func (e *pairEncoder) append(b []byte, r pairRec) []byte {
	b = append(b, "{\n      \"viewer\": "...)
	b = append(b, e.names[r.Viewer]...)
	b = append(b, ",\n      \"owner\": "...)
	b = append(b, e.names[r.Owner]...)
	b = append(b, ",\n      \"kind\": "...)
	b = append(b, e.kinds[r.Kind]...)
	b = append(b, ",\n      \"evidence\": "...)
	b = append(b, e.evs[r.Ev]...)
	b = append(b, ",\n      \"count\": "...)
	b = strconv.AppendInt(b, r.Count, 10)
	b = append(b, ",\n      \"refs\": [\n        {\n          \"file\": "...)
	b = append(b, e.files[r.File]...)
	b = append(b, ",\n          \"line\": "...)
	b = strconv.AppendInt(b, r.Line, 10)
	return append(b, "\n        }\n      ]\n    }"...)
}
