package incident

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// PartialVersion is the version of the partial-result file. A merge of
// versions it does not know is refused.
// Version 2 holds pairs as records of indices into Names.
const PartialVersion = 2

// Partial is what one analysis (a shard, or the whole log) accumulated,
// before the counts and categories are drawn from it. Every field combines
// by sum, union or "the smallest k", so that merging the partials of shards
// gives exactly the partial of a single pass, and [Finalize] the same report.
type Partial struct {
	Version int            `json:"version"`
	Options PartialOptions `json:"options"`
	Files   []FileStat     `json:"files"`
	Bad     []BadLine      `json:"bad_lines,omitempty"`
	// Parsed counts the lines analysed; Late those logged so far behind
	// that overlaps with already released neighbours may be missed;
	// Unattributed those with no user and no session mapping.
	Parsed       int64 `json:"parsed"`
	Late         int64 `json:"late,omitempty"`
	Unattributed int64 `json:"unattributed,omitempty"`
	// Res is the coarsest clock resolution seen, µs.
	Res        int64                   `json:"resolution_us"`
	First      int64                   `json:"first_us,omitempty"`
	Last       int64                   `json:"last_us,omitempty"`
	Instances  []string                `json:"instances,omitempty"`
	NoInstance bool                    `json:"no_instance,omitempty"`
	Users      map[string]*UserPartial `json:"users"`
	// Known are the users of the session mapping, so that those absent from
	// the log are classified too.
	Known []string `json:"known,omitempty"`
	// Names are the users the pairs name, sorted; Direct and Bound are
	// sorted records of indices into Names, the kinds of the options and
	// Files.
	Names       []string                   `json:"names,omitempty"`
	Direct      []pairRec                  `json:"direct,omitempty"`
	Bound       []pairRec                  `json:"bound,omitempty"`
	Hashes      []HashPartial              `json:"hashes,omitempty"`
	Sessions    map[string]*SessionPartial `json:"sessions,omitempty"`
	Minutes     map[int64]*minuteAcc       `json:"minutes"`
	Samples     []Sample                   `json:"samples,omitempty"`
	ShardsTaken []int                      `json:"shards_taken,omitempty"`
}

// PartialOptions are the analysis options that shape a partial; partials
// merge only when they agree.
type PartialOptions struct {
	Model  *Model     `json:"model,omitempty"`
	Kinds  []KindRule `json:"kinds"`
	Deploy int64      `json:"deploy_us,omitempty"`
	// Samples is how many leak windows are kept.
	Samples int `json:"samples"`
	Shards  int `json:"shards,omitempty"`
}

// UserPartial is one user's counts.
type UserPartial struct {
	Requests   int64   `json:"requests"`
	Minutes    []int32 `json:"minutes"`
	First      int64   `json:"first_us"`
	Last       int64   `json:"last_us"`
	Viewed     int64   `json:"viewed,omitempty"`
	Persistent int64   `json:"persistent,omitempty"`
}

// HashPartial counts who received one body for one resource.
type HashPartial struct {
	Path  string     `json:"path"`
	Hash  string     `json:"hash"`
	Users []HashUser `json:"users"`
}

// HashUser is one receiver of a body.
type HashUser struct {
	User  string `json:"user"`
	Count int64  `json:"count"`
	Ref   Ref    `json:"ref"`
}

// SessionPartial is a session's user and its first client addresses.
type SessionPartial struct {
	User  string   `json:"user"`
	Addrs []string `json:"addrs"`
}

// WritePartial saves a partial as JSON.
func WritePartial(w io.Writer, p *Partial) error {
	enc := json.NewEncoder(w)
	return enc.Encode(p)
}

// ReadPartial loads a partial saved by [WritePartial].
func ReadPartial(name string, r io.Reader) (*Partial, error) {
	var p Partial
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: not a partial incident result: %w", name, err)
	}
	if p.Version != PartialVersion {
		return nil, fmt.Errorf("%s: partial version %d, this crosstalk reads %d", name, p.Version, PartialVersion)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if p.Users == nil {
		p.Users = map[string]*UserPartial{}
	}
	if p.Minutes == nil {
		p.Minutes = map[int64]*minuteAcc{}
	}
	if p.Sessions == nil {
		p.Sessions = map[string]*SessionPartial{}
	}
	return &p, nil
}

// Merge combines partials into the partial one pass over all their lines
// would have made. They must come from analyses with the same model, kinds
// and deploy time.
func Merge(ps []*Partial) (*Partial, error) {
	if len(ps) == 0 {
		return nil, errors.New("merge: no partial results")
	}
	out := &Partial{Version: PartialVersion, Options: ps[0].Options, Users: map[string]*UserPartial{},
		Sessions: map[string]*SessionPartial{}, Minutes: map[int64]*minuteAcc{}}
	files := map[string]*FileStat{}
	var fileOrder []string
	fileIDs := map[string]uint16{}
	// Pairs are merged by global user ids, numbered as first met; the
	// records get indices into the sorted names at the end.
	userIDs := map[string]uint32{}
	var userNames []string
	direct := map[uint64]pairVal{}
	bound := map[uint64]pairVal{}
	hashes := map[[2]string]map[string]HashUser{}
	bad := map[BadLine]bool{}
	inst := map[string]bool{}
	seen := false
	var known []string
	for i, p := range ps {
		o := p.Options
		o.Shards = out.Options.Shards
		if !sameOptions(o, out.Options) {
			return nil, fmt.Errorf("merge: partial %d was analysed with other options (model, kinds or deploy) than partial 1", i+1)
		}
		fileIdx := make([]uint16, len(p.Files))
		for j, f := range p.Files {
			g := files[f.Name]
			if g == nil {
				g = &FileStat{Name: f.Name, Formats: map[Format]int64{}}
				files[f.Name] = g
				if len(fileOrder) >= 1<<16-1 {
					return nil, errors.New("merge: too many input files")
				}
				fileIDs[f.Name] = uint16(len(fileOrder))
				fileOrder = append(fileOrder, f.Name)
			}
			fileIdx[j] = fileIDs[f.Name]
			g.Lines = max(g.Lines, f.Lines)
			g.Blank = max(g.Blank, f.Blank)
			g.Bad = max(g.Bad, f.Bad)
			for k, v := range f.Formats {
				g.Formats[k] = max(g.Formats[k], v)
			}
		}
		for _, b := range p.Bad {
			bad[b] = true
		}
		out.Parsed += p.Parsed
		out.Late += p.Late
		out.Unattributed += p.Unattributed
		out.Res = max(out.Res, p.Res)
		if p.Parsed > 0 {
			if !seen || p.First < out.First {
				out.First = p.First
			}
			if !seen || p.Last > out.Last {
				out.Last = p.Last
			}
			seen = true
		}
		for _, n := range p.Instances {
			inst[n] = true
		}
		out.NoInstance = out.NoInstance || p.NoInstance
		known = append(known, p.Known...)
		for name, u := range p.Users {
			g := out.Users[name]
			if g == nil {
				c := *u
				c.Minutes = slices.Clone(u.Minutes)
				out.Users[name] = &c
				continue
			}
			g.Requests += u.Requests
			g.Minutes = unionRanges(g.Minutes, u.Minutes)
			g.First = min(g.First, u.First)
			g.Last = max(g.Last, u.Last)
			g.Viewed += u.Viewed
			g.Persistent += u.Persistent
		}
		ids := make([]uint32, len(p.Names))
		for j, n := range p.Names {
			id, ok := userIDs[n]
			if !ok {
				if len(userNames) >= maxUsers {
					return nil, fmt.Errorf("merge: more than %d distinct users", maxUsers)
				}
				id = uint32(len(userNames))
				userIDs[n] = id
				userNames = append(userNames, n)
			}
			ids[j] = id
		}
		fileName := func(f uint16) string { return fileOrder[f] }
		for _, l := range []struct {
			into map[uint64]pairVal
			recs []pairRec
		}{{direct, p.Direct}, {bound, p.Bound}} {
			for _, r := range l.recs {
				addPair(l.into, pairKeyOf(ids[r.Viewer], ids[r.Owner], r.Kind, r.Ev), packRef(fileIdx[r.File], r.Line), r.Count, fileName)
			}
		}
		for _, h := range p.Hashes {
			k := [2]string{h.Path, h.Hash}
			m := hashes[k]
			if m == nil {
				m = map[string]HashUser{}
				hashes[k] = m
			}
			for _, u := range h.Users {
				g, ok := m[u.User]
				if !ok {
					m[u.User] = u
					continue
				}
				g.Count += u.Count
				if refLess(u.Ref, g.Ref) {
					g.Ref = u.Ref
				}
				m[u.User] = g
			}
		}
		for id, s := range p.Sessions {
			g := out.Sessions[id]
			if g == nil {
				out.Sessions[id] = &SessionPartial{User: s.User, Addrs: slices.Clone(s.Addrs)}
				continue
			}
			for _, a := range s.Addrs {
				g.Addrs = addAddr(g.Addrs, a)
			}
		}
		for m, c := range p.Minutes {
			g := out.Minutes[m]
			if g == nil {
				g = &minuteAcc{}
				out.Minutes[m] = g
			}
			g.Requests += c.Requests
			g.Direct += c.Direct
			g.Bound += c.Bound
		}
		out.Samples = append(out.Samples, p.Samples...)
	}
	for _, n := range fileOrder {
		out.Files = append(out.Files, *files[n])
	}
	for b := range bad {
		out.Bad = append(out.Bad, b)
	}
	slices.SortFunc(out.Bad, func(x, y BadLine) int {
		if refLess(Ref{x.File, x.Line}, Ref{y.File, y.Line}) {
			return -1
		}
		if x == y {
			return 0
		}
		return 1
	})
	if len(out.Bad) > maxBadListed {
		out.Bad = out.Bad[:maxBadListed]
	}
	for n := range inst {
		out.Instances = append(out.Instances, n)
	}
	slices.Sort(known)
	out.Known = slices.Compact(known)
	slices.Sort(out.Instances)
	var recs [][]pairRec
	out.Names, recs = recsFromMaps([]*map[uint64]pairVal{&direct, &bound}, func(id uint32) string { return userNames[id] },
		kindRanks(kindTable(out.Options.Kinds)))
	out.Direct, out.Bound = recs[0], recs[1]
	for k, m := range hashes {
		h := HashPartial{Path: k[0], Hash: k[1]}
		for _, u := range m {
			h.Users = append(h.Users, u)
		}
		slices.SortFunc(h.Users, func(x, y HashUser) int { return strings.Compare(x.User, y.User) })
		out.Hashes = append(out.Hashes, h)
	}
	slices.SortFunc(out.Hashes, func(x, y HashPartial) int {
		if c := strings.Compare(x.Path, y.Path); c != 0 {
			return c
		}
		return strings.Compare(x.Hash, y.Hash)
	})
	slices.SortFunc(out.Samples, func(x, y Sample) int {
		if sampleLess(x, y) {
			return -1
		}
		if sampleLess(y, x) {
			return 1
		}
		return 0
	})
	out.Samples = slices.CompactFunc(out.Samples, func(x, y Sample) bool { return x.Ref == y.Ref })
	if k := max(out.Options.Samples, 0); len(out.Samples) > k {
		out.Samples = out.Samples[:k]
	}
	out.Options.Shards = 0
	return out, nil
}

// sameOptions compares what the options say, not compiled regexps.
func sameOptions(a, b PartialOptions) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// check rejects a partial no analysis could have written, so that a merge
// never trips over a hand-edited or corrupt file.
func (p *Partial) check() error {
	for n, u := range p.Users {
		if u == nil {
			return fmt.Errorf("user %q has no counts", n)
		}
		if len(u.Minutes)%2 != 0 {
			return fmt.Errorf("user %q: minutes must come in ranges of two", n)
		}
		for i := 0; i+1 < len(u.Minutes); i += 2 {
			if u.Minutes[i] > u.Minutes[i+1] || (i > 0 && u.Minutes[i] <= u.Minutes[i-1]) {
				return fmt.Errorf("user %q: minute ranges out of order", n)
			}
		}
	}
	for m, c := range p.Minutes {
		if c == nil {
			return fmt.Errorf("minute %d has no counts", m)
		}
	}
	for id, s := range p.Sessions {
		if s == nil {
			return fmt.Errorf("session %q has no user", id)
		}
	}
	if !slices.IsSorted(p.Names) || len(slices.Compact(slices.Clone(p.Names))) != len(p.Names) {
		return errors.New("the pairs' names are not sorted and distinct")
	}
	kinds := kindTable(p.Options.Kinds)
	ranks := kindRanks(kinds)
	for _, ps := range [][]pairRec{p.Direct, p.Bound} {
		for i, x := range ps {
			if int(x.Viewer) >= len(p.Names) || int(x.Owner) >= len(p.Names) || int(x.Kind) >= len(kinds) ||
				int(x.File) >= len(p.Files) || x.Count < 1 || x.Line < 1 {
				return fmt.Errorf("pair %d: a name, kind or file it does not have, or no count", i+1)
			}
			if i > 0 && recCompare(ps[i-1], x, ranks) >= 0 {
				return fmt.Errorf("pair %d: pairs out of order", i+1)
			}
		}
	}
	for _, s := range p.Samples {
		if len(s.Steps) > maxSampleSteps {
			return errors.New("a leak window has too many steps")
		}
	}
	if p.Options.Model != nil {
		m := *p.Options.Model
		if err := m.Compile(); err != nil {
			return err
		}
	}
	if _, err := compileKinds(p.Options.Kinds); err != nil {
		return err
	}
	return nil
}
