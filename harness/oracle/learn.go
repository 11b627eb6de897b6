package oracle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Baseline is one user's responses to the same requests fetched twice in a
// row, before any concurrency: First[i] and Second[i] are the bodies of
// request i, and Labels[i] names it.
type Baseline struct {
	User   string
	First  [][]byte
	Second [][]byte
	Labels []string
}

// Token rules for [Learn].
const (
	minLearned = 6   // shorter tokens recur by chance across users' data
	maxLearned = 128 // longer ones are blobs and nonces, not identifiers
)

// Learn returns markers learned from baselines: tokens that appear in both of
// a user's fetches of the same request and nowhere in any other user's
// baselines. Each has Kind [Learned], the user as Owner and, as Label, the
// name of the first request it was stable in. The order is deterministic:
// by owner, then request, then value.
//
// A body is tokenized after undoing JSON escapes and HTML character
// references, since the scan sees through those too. A token is a maximal
// run of ASCII letters and digits, or several such runs joined by single
// '-', '_', '.', '@' or '+' bytes, so that e-mail addresses, UUIDs, order
// numbers and host names stay whole; the runs inside a joined token are
// tokens too, since a page may show part of one. The scan matches at the
// same boundaries, so a learned token is found wherever it stands alone. A
// token is kept only if:
//
//   - it is 6 to 128 bytes long: shorter ones recur by chance, longer ones
//     are blobs that change on every fetch anyway;
//   - it contains a letter: numbers, prices, dates and phone numbers are
//     shared by accident between users;
//   - it contains a digit: tokens of letters alone, even joined ("ARN-LIS",
//     "Harbour-View", "text-align"), come from vocabularies (words, names,
//     airport codes, JSON keys, CSS), and the baseline sees only part of
//     each user's data, so one user's page may show such a token first and
//     another user's unfetched mail show it later without any leak. Codes
//     that mix letters and digits (order numbers, booking references,
//     session ids) are where user-specific data lives; names a spec cares
//     about belong in static or identity markers;
//   - its letters are not only date, time or unit words ("2024-05-01T10",
//     "05-Jan-2024", "1024px", "10h30m"): those also recur by chance.
//
// "Absent from every other user's baselines" is checked with the scan's own
// matching on every other user's bodies, raw and decoded, so a token that
// appears there inside a longer token still counts as present only where
// the scan would find it.
func Learn(baselines []Baseline) []Marker {
	type fetches struct {
		label         string
		first, second []byte
	}
	type user struct {
		name string
		reqs []fetches
	}
	var users []*user
	byName := map[string]*user{}
	for _, b := range baselines {
		u := byName[b.User]
		if u == nil {
			u = &user{name: b.User}
			byName[b.User] = u
			users = append(users, u)
		}
		for i := range min(len(b.First), len(b.Second)) {
			label := fmt.Sprintf("request %d", i)
			if i < len(b.Labels) && b.Labels[i] != "" {
				label = b.Labels[i]
			}
			u.reqs = append(u.reqs, fetches{label, b.First[i], b.Second[i]})
		}
	}

	// Candidates: tokens stable across a user's two fetches of a request.
	type candidate struct {
		owner string
		label string
		req   int
	}
	cands := map[string]*candidate{}
	shared := map[string]bool{} // stable for two users: nobody's
	for _, u := range users {
		mine := map[string]bool{}
		for ri, r := range u.reqs {
			first := tokenSet(normalize(r.first))
			eachToken(normalize(r.second), func(tok []byte) {
				t := string(tok)
				if !first[t] || mine[t] {
					return
				}
				mine[t] = true
				if c, ok := cands[t]; ok {
					if c.owner != u.name {
						shared[t] = true
					}
					return
				}
				cands[t] = &candidate{owner: u.name, label: r.label, req: ri}
			})
		}
	}
	for t := range shared {
		delete(cands, t)
	}
	if len(cands) == 0 {
		return nil
	}

	// Drop every candidate the scan would find in another user's body.
	values := make([]string, 0, len(cands))
	for t := range cands {
		values = append(values, t)
	}
	slices.Sort(values)
	marks := make([]mark, len(values))
	for i, v := range values {
		marks[i] = mark{Marker: Marker{Owner: cands[v].owner, Value: v}}
	}
	ix := newIndex(marks)
	dropped := make([]bool, len(marks))
	for _, u := range users {
		visit := func(id int32, _, _ int) {
			if marks[id].Owner != u.name {
				dropped[id] = true
			}
		}
		for _, r := range u.reqs {
			for _, body := range [][]byte{r.first, r.second} {
				ix.find(body, visit)
				if n := normalize(body); len(n) != len(body) || string(n) != string(body) {
					ix.find(n, visit)
				}
			}
		}
	}

	var out []Marker
	for i, v := range values {
		if dropped[i] {
			continue
		}
		c := cands[v]
		out = append(out, Marker{Owner: c.owner, Kind: Learned, Value: v, Label: c.label})
	}
	reqOf := func(m Marker) int { return cands[m.Value].req }
	slices.SortFunc(out, func(a, b Marker) int {
		return cmp.Or(strings.Compare(a.Owner, b.Owner), cmp.Compare(reqOf(a), reqOf(b)), strings.Compare(a.Value, b.Value))
	})
	return out
}

// normalize undoes JSON escapes and then HTML references, when present.
func normalize(b []byte) []byte {
	if d := jsonUnescape(b); d != nil {
		b = d
	}
	if d := htmlUnescape(b); d != nil {
		b = d
	}
	return b
}

func tokenSet(b []byte) map[string]bool {
	set := map[string]bool{}
	eachToken(b, func(tok []byte) { set[string(tok)] = true })
	return set
}

// eachToken calls fn for every token of b that the rules of [Learn] keep.
func eachToken(b []byte, fn func(tok []byte)) {
	for i := 0; i < len(b); {
		if !alnum[b[i]] {
			i++
			continue
		}
		s := i
		joined := false
		for {
			for i < len(b) && alnum[b[i]] {
				i++
			}
			if i+1 < len(b) && isJoiner(b[i]) && alnum[b[i+1]] {
				i++
				joined = true
				continue
			}
			break
		}
		tok := b[s:i]
		if keepToken(tok) {
			fn(tok)
		}
		if !joined {
			continue
		}
		for j := 0; j < len(tok); {
			if !alnum[tok[j]] {
				j++
				continue
			}
			k := j
			for k < len(tok) && alnum[tok[k]] {
				k++
			}
			if keepToken(tok[j:k]) {
				fn(tok[j:k])
			}
			j = k
		}
	}
}

func isJoiner(c byte) bool {
	return c == '-' || c == '_' || c == '.' || c == '@' || c == '+'
}

func keepToken(tok []byte) bool {
	if len(tok) < minLearned || len(tok) > maxLearned {
		return false
	}
	letter, digit := false, false
	for _, c := range tok {
		letter = letter || isASCIILetter(c)
		digit = digit || c >= '0' && c <= '9'
	}
	if !letter || !digit {
		return false
	}
	// Letters only from date, time and unit words: "2024-05-01T10:00Z".
	for i := 0; i < len(tok); {
		if !isASCIILetter(tok[i]) {
			i++
			continue
		}
		j := i
		for j < len(tok) && isASCIILetter(tok[j]) {
			j++
		}
		if !dateWords[strings.ToLower(string(tok[i:j]))] {
			return true
		}
		i = j
	}
	return false
}

func isASCIILetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

var dateWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		jan feb mar apr may jun jul aug sep sept oct nov dec
		january february march april june july august september october november december
		mon tue tues wed thu thur thurs fri sat sun
		monday tuesday wednesday thursday friday saturday sunday
		am pm t z utc gmt st nd rd th
		h m s ms us ns min mins sec secs hr hrs d w y
		b k kb mb gb tb kib mib gib px em rem pt pc vh vw x`) {
		m[w] = true
	}
	return m
}()

// Unlearn returns an Oracle like o without the learned markers whose values
// are given: values that turned out to be shared data (a schema id every
// record carries, first seen when only one user had records) identify
// nobody. Markers of other kinds are kept even when their value is given,
// and o itself is not changed, since an Oracle is shared.
func (o *Oracle) Unlearn(values ...string) (*Oracle, error) {
	drop := map[string]bool{}
	for _, v := range values {
		drop[v] = true
	}
	kept := slices.DeleteFunc(slices.Clone(o.markers), func(m Marker) bool { return m.Kind == Learned && drop[m.Value] })
	return New(kept, RedactAlso(o.cfg.redactAlso...))
}
