package oracle

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
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
// once, tests a bit filter keyed by the word's length and a few of its
// bytes, and only then looks the word up in a map: the cost per byte does
// not grow with the number of markers.
//
// Canaries have their own path (see scanCanaries) and markers without any
// word byte, which are rare, are searched for one by one.
type index struct {
	marks  []mark
	canary map[string]int32
	runs   map[string]*group
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

// maxGroup is how many markers may share a first word before they are
// told apart by the bytes after it: learned markers often share one
// ("ORD-1001-AX", "ORD-1002-BQ", ...), and checking thousands of them at
// every "ORD" would cost more than the whole scan.
const maxGroup = 8

// group holds the markers that share a first word. A large group is split
// by the k bytes that start at the first word.
type group struct {
	ents []entry
	k    int
	sub  map[string][]entry
}

func newIndex(marks []mark) index {
	x := index{
		marks:  marks,
		canary: map[string]int32{},
		runs:   map[string]*group{},
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
		g := x.runs[w]
		if g == nil {
			g = &group{}
			x.runs[w] = g
		}
		g.ents = append(g.ents, entry{id: id, off: int32(s)})
		h := runHash([]byte(w))
		x.filter[h>>6] |= 1 << (h & 63)
		x.minRun = min(x.minRun, len(w))
		x.maxRun = max(x.maxRun, len(w))
	}
	for _, g := range x.runs {
		if len(g.ents) <= maxGroup {
			continue
		}
		g.k = math.MaxInt
		for _, en := range g.ents {
			g.k = min(g.k, len(marks[en.id].Value)-int(en.off))
		}
		g.sub = map[string][]entry{}
		for _, en := range g.ents {
			v := marks[en.id].Value[en.off:]
			g.sub[v[:g.k]] = append(g.sub[v[:g.k]], en)
		}
		g.ents = nil
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

// scanRuns finds the words of text 64 bytes at a time: alnumMask gives a
// bit per byte, and the words start and end where neighbouring bits differ.
// Walking those transitions costs one step per word, not per byte, and has
// no branch that depends on the text except the rare filter hit.
func (x *index) scanRuns(text []byte, visit func(id int32, s, e int)) {
	n := len(text)
	var prev uint64 // 1 when the byte before the block is a word byte
	start := 0
	for base := 0; base < n; base += 64 {
		var m uint64
		if base+64 <= n {
			m = alnumMask(text[base : base+64])
		} else {
			m = alnumMaskTail(text[base:])
		}
		t := m ^ (m<<1 | prev)
		prev = m >> 63
		for t != 0 {
			i := bits.TrailingZeros64(t)
			t &= t - 1
			if m&(1<<i) != 0 {
				start = base + i
				continue
			}
			x.checkRun(text, start, base+i, visit)
		}
	}
	if prev != 0 {
		x.checkRun(text, start, n, visit)
	}
}

func (x *index) checkRun(text []byte, s, e int, visit func(id int32, s, e int)) {
	h := runHash(text[s:e])
	if x.filter[h>>6]&(1<<(h&63)) == 0 {
		return
	}
	if l := e - s; l >= x.minRun && l <= x.maxRun {
		x.verify(text, s, e, visit)
	}
}

// alnumMask returns a bit per byte of b[:64], set for [A-Za-z0-9]. Each
// 8-byte word is classified with carry-free byte arithmetic: adding 0x80-lo
// to a byte below 0x80 sets its top bit exactly when it is at least lo.
func alnumMask(b []byte) uint64 {
	_ = b[63]
	var m uint64
	for k := 0; k < 8; k++ {
		m |= alnumBits(binary.LittleEndian.Uint64(b[8*k:])) << (8 * k)
	}
	return m
}

func alnumBits(w uint64) uint64 {
	const ones = 0x0101010101010101
	const high = 0x8080808080808080
	h := w &^ high
	digit := (h + ones*(0x80-'0')) &^ (h + ones*(0x80-'9'-1))
	f := h | ones*0x20 // fold upper case onto lower case
	letter := (f + ones*(0x80-'a')) &^ (f + ones*(0x80-'z'-1))
	a := (digit | letter) &^ w & high
	// Gather the eight top bits into one byte.
	return (a >> 7) * 0x0102040810204080 >> 56
}

func alnumMaskTail(b []byte) uint64 {
	var m uint64
	for i, c := range b {
		if alnum[c] {
			m |= 1 << i
		}
	}
	return m
}

// verify checks the markers whose first word is text[s:e].
func (x *index) verify(text []byte, s, e int, visit func(id int32, s, e int)) {
	g, ok := x.runs[string(text[s:e])]
	if !ok {
		return
	}
	ents := g.ents
	if g.sub != nil {
		if s+g.k > len(text) {
			return
		}
		ents = g.sub[string(text[s:s+g.k])]
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
