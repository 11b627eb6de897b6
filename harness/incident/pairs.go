package incident

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
)

// A leak of a million viewer → owner pairs must not cost a million sets of
// strings: pairs are held as small fixed records of indices, into tables of
// the user names, the files and the kinds, and only turned into [Pair]
// values when a report is written. Each pair keeps its count and its first
// evidence line (the smallest file and line, so that merged shards keep the
// same one as a single pass); the count says how often it happened.

// evidenceCodes are the kinds of evidence in the order of their names, so
// that sorting records by code sorts them as [pairLess] sorts names.
var evidenceCodes = [...]Evidence{ByBodyHash, ByBodySize, ByMechanism, ByOwnerField, ByResource}

const (
	evBodyHash uint8 = iota
	evBodySize
	evMechanism
	evOwnerField
	evResource
)

func evidenceCode(e Evidence) (uint8, bool) {
	i := slices.Index(evidenceCodes[:], e)
	return uint8(i), i >= 0
}

// maxUsers bounds the distinct users (viewers and owners) of one analysis,
// so that a viewer, an owner, a kind and an evidence code pack into one
// uint64 map key. 67 million users would need some 13 GB for their per-user
// state anyway.
const maxUsers = 1 << 26

// pairKeyOf packs viewer, owner, kind and evidence into a map key.
func pairKeyOf(viewer, owner uint32, kind, ev uint8) uint64 {
	return uint64(viewer)<<38 | uint64(owner)<<12 | uint64(kind)<<4 | uint64(ev)
}

func unpackPairKey(k uint64) (viewer, owner uint32, kind, ev uint8) {
	return uint32(k >> 38), uint32(k>>12) & (1<<26 - 1), uint8(k >> 4), uint8(k & 15)
}

// pairVal is what one pair accumulates: its count and its first evidence
// line, packed as file index << 48 | line number.
type pairVal struct {
	count int64
	ref   uint64
}

func packRef(file uint16, line int64) uint64 { return uint64(file)<<48 | uint64(line)&(1<<48-1) }

func unpackRef(r uint64) (uint16, int64) { return uint16(r >> 48), int64(r & (1<<48 - 1)) }

// addPair counts n more of pair k into m, keeping the earliest evidence
// ref, as refBefore orders them.
func addPair(m map[uint64]pairVal, k, ref uint64, n int64, files func(uint16) string) {
	pv, ok := m[k]
	if !ok || refBefore(ref, pv.ref, files) {
		pv.ref = ref
	}
	pv.count += n
	m[k] = pv
}

// refBefore orders packed refs by file name, then line: files are numbered
// as they are read, not in the order of their names.
func refBefore(x, y uint64, files func(uint16) string) bool {
	fx, lx := unpackRef(x)
	fy, ly := unpackRef(y)
	if fx != fy {
		if nx, ny := files(fx), files(fy); nx != ny {
			return nx < ny
		}
	}
	return lx < ly
}

// pairRec is one pair of a [Partial] or a report: indices into the user
// names, the kinds of the options (see kindTable) and the files.
type pairRec struct {
	Viewer, Owner uint32
	Kind, Ev      uint8
	File          uint16
	Line          int64
	Count         int64
}

// MarshalJSON writes a record as [viewer, owner, kind, evidence, count,
// file, line]: a partial of a million pairs stays a small file.
func (r pairRec) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "[%d,%d,%d,%d,%d,%d,%d]", r.Viewer, r.Owner, r.Kind, r.Ev, r.Count, r.File, r.Line), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *pairRec) UnmarshalJSON(b []byte) error {
	var a []int64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if len(a) != 7 {
		return errors.New("a pair is [viewer, owner, kind, evidence, count, file, line]")
	}
	lims := [7]int64{maxUsers - 1, maxUsers - 1, 255, int64(len(evidenceCodes) - 1), 1 << 62, 1<<16 - 1, 1<<48 - 1}
	for i, v := range a {
		if v < 0 || v > lims[i] {
			return fmt.Errorf("pair field %d out of range: %d", i+1, v)
		}
	}
	*r = pairRec{Viewer: uint32(a[0]), Owner: uint32(a[1]), Kind: uint8(a[2]), Ev: uint8(a[3]), Count: a[4], File: uint16(a[5]), Line: a[6]}
	return nil
}

// kindTable is the kinds by index as an analysis numbers them: index 0 is
// [OtherKind], then each kind of the rules in order.
func kindTable(rules []KindRule) []string {
	t := []string{OtherKind}
	for _, k := range rules {
		if !slices.Contains(t, k.Kind) {
			t = append(t, k.Kind)
		}
	}
	return t
}

// kindRanks gives each kind index its place in the sorted kind names.
func kindRanks(kinds []string) []uint8 {
	sorted := slices.Clone(kinds)
	slices.Sort(sorted)
	r := make([]uint8, len(kinds))
	for i, k := range kinds {
		r[i] = uint8(slices.Index(sorted, k))
	}
	return r
}

// recCompare orders records as [pairLess] orders their names, given names
// sorted so that indices compare as names do.
func recCompare(x, y pairRec, ranks []uint8) int {
	switch {
	case x.Viewer != y.Viewer:
		return cmp.Compare(x.Viewer, y.Viewer)
	case x.Owner != y.Owner:
		return cmp.Compare(x.Owner, y.Owner)
	case x.Kind != y.Kind:
		return int(ranks[x.Kind]) - int(ranks[y.Kind])
	}
	return int(x.Ev) - int(y.Ev)
}

// recsFromMaps turns an analysis' or a merge's pair maps into sorted
// records over a sorted table of the names they use. Each map is taken
// from *ms[i] and the pointer cleared once its records are built, so that
// the map and its records are not both held for every map at once.
func recsFromMaps(ms []*map[uint64]pairVal, name func(uint32) string, ranks []uint8) ([]string, [][]pairRec) {
	used := map[uint32]bool{}
	for _, m := range ms {
		for k := range *m {
			v, o, _, _ := unpackPairKey(k)
			used[v], used[o] = true, true
		}
	}
	ids := make([]uint32, 0, len(used))
	maxID := uint32(0)
	for id := range used {
		ids = append(ids, id)
		maxID = max(maxID, id)
	}
	slices.SortFunc(ids, func(a, b uint32) int { return strings.Compare(name(a), name(b)) })
	names := make([]string, len(ids))
	index := make([]uint32, maxID+1)
	for i, id := range ids {
		names[i] = name(id)
		index[id] = uint32(i)
	}
	out := make([][]pairRec, len(ms))
	for i, mp := range ms {
		m := *mp
		recs := make([]pairRec, 0, len(m))
		for k, pv := range m {
			v, o, kind, ev := unpackPairKey(k)
			f, line := unpackRef(pv.ref)
			recs = append(recs, pairRec{Viewer: index[v], Owner: index[o], Kind: kind, Ev: ev, File: f, Line: line, Count: pv.count})
		}
		*mp, m = nil, nil
		// Sorted by one packed key, the order of recCompare: a comparison
		// of two integers per step rather than four fields.
		slices.SortFunc(recs, func(x, y pairRec) int {
			return cmp.Compare(pairKeyOf(x.Viewer, x.Owner, ranks[x.Kind], x.Ev), pairKeyOf(y.Viewer, y.Owner, ranks[y.Kind], y.Ev))
		})
		out[i] = recs
	}
	return names, out
}

// Pairs is a sorted list of viewer → owner pairs held as small records; At
// and All give them as [Pair] values.
type Pairs struct {
	names, kinds, files []string
	recs                []pairRec
}

// Len is the number of pairs.
func (ps *Pairs) Len() int { return len(ps.recs) }

// At returns pair i.
func (ps *Pairs) At(i int) Pair {
	r := ps.recs[i]
	return Pair{PairKey: PairKey{Viewer: ps.names[r.Viewer], Owner: ps.names[r.Owner], Kind: ps.kinds[r.Kind], Evidence: evidenceCodes[r.Ev]},
		Count: r.Count, Refs: []Ref{{File: ps.files[r.File], Line: r.Line}}}
}

// All yields the pairs in order.
func (ps *Pairs) All() iter.Seq[Pair] {
	return func(yield func(Pair) bool) {
		for i := range ps.recs {
			if !yield(ps.At(i)) {
				return
			}
		}
	}
}

// has says whether the list holds viewer → owner of kind, on any evidence.
func (ps *Pairs) has(viewer, owner, kind string) bool {
	v, ok1 := slices.BinarySearch(ps.names, viewer)
	o, ok2 := slices.BinarySearch(ps.names, owner)
	if !ok1 || !ok2 {
		return false
	}
	i := sort.Search(len(ps.recs), func(i int) bool {
		r := ps.recs[i]
		if r.Viewer != uint32(v) {
			return r.Viewer > uint32(v)
		}
		return r.Owner >= uint32(o)
	})
	for ; i < len(ps.recs) && ps.recs[i].Viewer == uint32(v) && ps.recs[i].Owner == uint32(o); i++ {
		if ps.kinds[ps.recs[i].Kind] == kind {
			return true
		}
	}
	return false
}

// pairsOf builds a list from pairs given by name, for a report read back
// from JSON and for the few pairs of shared bodies.
func pairsOf(ps []Pair) (Pairs, error) {
	var b pairsBuilder
	for _, p := range ps {
		if err := b.add(p); err != nil {
			return Pairs{}, err
		}
	}
	return b.done(), nil
}

// pairsBuilder gathers pairs one at a time into records, for a list read
// from a file too big to hold as strings.
type pairsBuilder struct {
	ids          map[string]uint32
	names, kinds []string
	files        []string
	recs         []pairRec
}

func (b *pairsBuilder) add(p Pair) error {
	ev, ok := evidenceCode(p.Evidence)
	if !ok {
		return fmt.Errorf("pair %s → %s: no such evidence %q", p.Viewer, p.Owner, p.Evidence)
	}
	if len(b.kinds) >= 255 || len(b.files) >= 1<<16-1 || len(b.names) >= maxUsers {
		return errors.New("too many kinds, files or users")
	}
	if b.ids == nil {
		b.ids = map[string]uint32{}
	}
	id := func(n string) uint32 {
		i, ok := b.ids[n]
		if !ok {
			i = uint32(len(b.names))
			b.ids[n] = i
			b.names = append(b.names, n)
		}
		return i
	}
	idx := func(tab *[]string, s string) int {
		if i := slices.Index(*tab, s); i >= 0 {
			return i
		}
		*tab = append(*tab, s)
		return len(*tab) - 1
	}
	r := pairRec{Viewer: id(p.Viewer), Owner: id(p.Owner), Kind: uint8(idx(&b.kinds, p.Kind)), Ev: ev, Count: p.Count}
	if len(p.Refs) > 0 {
		r.File, r.Line = uint16(idx(&b.files, p.Refs[0].File)), p.Refs[0].Line
	} else {
		r.File = uint16(idx(&b.files, ""))
	}
	b.recs = append(b.recs, r)
	return nil
}

// done numbers the names in sorted order and sorts the records as
// [sortPairs] sorts pairs.
func (b *pairsBuilder) done() Pairs {
	order := make([]uint32, len(b.names))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(x, y uint32) int { return strings.Compare(b.names[x], b.names[y]) })
	to := make([]uint32, len(b.names))
	names := make([]string, len(b.names))
	for i, id := range order {
		to[id], names[i] = uint32(i), b.names[id]
	}
	for i := range b.recs {
		b.recs[i].Viewer, b.recs[i].Owner = to[b.recs[i].Viewer], to[b.recs[i].Owner]
	}
	ranks := kindRanks(b.kinds)
	slices.SortStableFunc(b.recs, func(x, y pairRec) int { return recCompare(x, y, ranks) })
	return Pairs{names: names, kinds: b.kinds, files: b.files, recs: b.recs}
}

// MarshalJSON writes the pairs as a JSON array of [Pair].
func (ps Pairs) MarshalJSON() ([]byte, error) {
	out := make([]Pair, 0, ps.Len())
	for p := range ps.All() {
		out = append(out, p)
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads an array of [Pair], as a report's JSON has them.
func (ps *Pairs) UnmarshalJSON(b []byte) error {
	var in []Pair
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if len(in) == 0 {
		return nil
	}
	l, err := pairsOf(in)
	if err != nil {
		return err
	}
	*ps = l
	return nil
}
