package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Error is the error [Load], [Parse] and [Spec.Validate] return for a spec
// they cannot accept. It names where the problem is, so that an editor or a
// CI log can jump straight to it.
type Error struct {
	// File is the spec file, or the CSV file for an error in a CSV row. It is
	// empty for a spec built in code.
	File string
	// Line and Column are 1-based; they are 0 when the problem has no place in
	// a file (a spec built in code, or a field that is missing altogether and
	// whose parent has no position either).
	Line, Column int
	// Field is the path of the offending field, such as
	// "users.list[1].password_env". It is empty for a syntax error.
	Field string
	// Msg says what is wrong and, where it can, how to put it right.
	Msg string
}

// Error formats e as "file:line:col: field: message", leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	for _, part := range []string{e.Field, e.Msg} {
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(part)
	}
	return b.String()
}

// suggest returns the candidate closest to word when it is close enough to
// be a likely typo, or "". Ties go to the earlier candidate so that the
// suggestion is stable.
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// Allow roughly one typo per three letters, at least one and at most
	// three, so that "usr" finds "users" but "foo" does not find "form".
	limit := len(word) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau (optimal string alignment) distance, which
// counts a swap of neighbours as one typo: "pasword" and "passwrod" are both
// one step from "password".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows are enough for the transposition look-back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// didYouMean renders the tail of an "unknown X" message: a suggestion when
// one is close, and otherwise the full list of what is allowed.
func didYouMean(word string, known []string) string {
	if s := suggest(word, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return " (known: " + strings.Join(sorted, ", ") + ")"
}
