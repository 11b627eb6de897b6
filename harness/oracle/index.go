package oracle

import (
	"bytes"
	"math"
)

// alnum marks the bytes that make up words. A marker only counts where the
// bytes on both sides of it are not in this set, so that "user1" is not found
// inside "user10".
var alnum = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()

// filterLog is the size of the run filter, in bits: 2^18 bits (32 KiB) keep
// the false-positive rate low with tens of thousands of markers while staying
// in cache.
const filterLog = 18

// index finds marker values in text.
//
// A match has a word boundary on both sides, so it starts either at the
// start of a word of the text or with non-word bytes that follow one. Either
// way the marker's first word (its first maximal run of [A-Za-z0-9]) is a
// whole word of the text. The scan therefore walks the words of the text
// once, drops those whose length no marker's first word has, tests a
// bit filter, and only then looks the word up in a map: the cost per byte
// does not grow with the number of markers.
//
// Canaries have their own path (see scanCanaries) and markers without any
// word byte, which are rare, are searched for one by one.
type index struct {
	marks  []mark
	canary map[string]int32
	runs   map[string][]entry
	filter []uint64
	minRun int
	maxRun int
	bare   []int32
}

// entry is a marker whose first word is a key of index.runs.
type entry struct {
	id  int32
	off int32 // where the first word starts in the value
}

func newIndex(marks []mark) index {
	x := index{
		marks:  marks,
		canary: map[string]int32{},
		runs:   map[string][]entry{},
		filter: make([]uint64, 1<<filterLog/64),
		minRun: math.MaxInt,
	}
	for i, m := range marks {
		id := int32(i)
		v := m.Value
		if IsCanary(v) {
			x.canary[v] = id
			continue
		}
		s := 0
		for s < len(v) && !alnum[v[s]] {
			s++
		}
		if s == len(v) {
			x.bare = append(x.bare, id)
			continue
		}
		e := s
		for e < len(v) && alnum[v[e]] {
			e++
		}
		w := v[s:e]
		x.runs[w] = append(x.runs[w], entry{id: id, off: int32(s)})
		h := runHash([]byte(w))
		x.filter[h>>6] |= 1 << (h & 63)
		x.minRun = min(x.minRun, len(w))
		x.maxRun = max(x.maxRun, len(w))
	}
	return x
}

// runHash mixes a word's length and four of its bytes. It reads a fixed
// number of bytes whatever the word's length, which keeps the common case (a
// word no marker starts with) cheap; the map lookup behind the filter
// compares whole words.
func runHash(w []byte) uint32 {
	n := len(w)
	h := uint32(n) | uint32(w[0])<<8 | uint32(w[n-1])<<16 | uint32(w[n>>1])<<24
	h ^= uint32(w[(n-1)>>2]) * 0x85ebca6b
	h *= 0x9e3779b1
	return h >> (32 - filterLog)
}

// find calls visit for every marker value found in text at a token
// boundary, with its byte range. The same value may be reported more than
// once.
func (x *index) find(text []byte, visit func(id int32, s, e int)) {
	if len(x.canary) > 0 {
		x.scanCanaries(text, visit)
	}
	if len(x.runs) > 0 {
		x.scanRuns(text, visit)
	}
	for _, id := range x.bare {
		x.scanBare(text, id, visit)
	}
}

func (x *index) scanRuns(text []byte, visit func(id int32, s, e int)) {
	n := len(text)
	minRun, maxRun := x.minRun, x.maxRun
	filter := x.filter
	i := 0
	for i < n {
		if !alnum[text[i]] {
			i++
			continue
		}
		s := i
		i++
		for i < n && alnum[text[i]] {
			i++
		}
		if l := i - s; l < minRun || l > maxRun {
			continue
		}
		h := runHash(text[s:i])
		if filter[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		x.verify(text, s, i, visit)
	}
}

// verify checks the markers whose first word is text[s:e].
func (x *index) verify(text []byte, s, e int, visit func(id int32, s, e int)) {
	ents, ok := x.runs[string(text[s:e])]
	if !ok {
		return
	}
	for _, en := range ents {
		v := x.marks[en.id].Value
		p := s - int(en.off)
		end := p + len(v)
		if p < 0 || end > len(text) {
			continue
		}
		if (p > 0 && alnum[text[p-1]]) || (end < len(text) && alnum[text[end]]) {
			continue
		}
		if string(text[p:end]) == v {
			visit(en.id, p, end)
		}
	}
}

// scanBare finds a marker made only of non-word bytes, such as "+++".
func (x *index) scanBare(text []byte, id int32, visit func(id int32, s, e int)) {
	v := []byte(x.marks[id].Value)
	i := 0
	for i < len(text) {
		k := bytes.Index(text[i:], v)
		if k < 0 {
			return
		}
		p := i + k
		end := p + len(v)
		if (p == 0 || !alnum[text[p-1]]) && (end == len(text) || !alnum[text[end]]) {
			visit(id, p, end)
		}
		i = p + 1
	}
}
