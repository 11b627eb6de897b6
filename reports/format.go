package reports

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// humanDuration renders a run length the way a person would say it: "2.1s",
// "850ms", "1m5s". Two or three significant figures are enough for a report,
// and full nanosecond precision only hides the magnitude.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		if d == -d { // math.MinInt64 has no positive counterpart
			return "-" + humanDuration(time.Duration(1<<63-1))
		}
		return "-" + humanDuration(-d)
	case d == 0:
		return "0s"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return shortFloat(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return shortFloat(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return shortFloat(float64(d)/float64(time.Second)) + "s"
	case d < 1<<62:
		return d.Round(time.Second).String()
	default:
		// Round would overflow near the largest Duration.
		return d.Truncate(time.Second).String()
	}
}

// shortFloat keeps one decimal below 10 and none above, which gives two or
// three significant figures for values in [1, 1000).
func shortFloat(x float64) string {
	if x < 10 {
		s := strconv.FormatFloat(x, 'f', 1, 64)
		return strings.TrimSuffix(s, ".0")
	}
	return strconv.FormatFloat(x, 'f', 0, 64)
}

// micros renders a burst timing in microseconds, the unit the design's
// measurements use, so numbers can be compared with them by eye.
func micros(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	if us > -10 && us < 10 {
		return strconv.FormatFloat(us, 'f', 1, 64) + " µs"
	}
	return groupThousands(int64(d/time.Microsecond)) + " µs"
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural picks the singular or plural noun for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// clean makes a string from the stream safe to print on a terminal. Names,
// paths and evidence come from the target's responses and the spec, so they
// may hold control characters, including escape sequences that would
// rewrite the terminal, or bytes that are not UTF-8; those are shown as Go
// escapes. Everything printable, quotes included, is left as it is so that
// JSON and HTML evidence stays readable.
func clean(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func needsCleaning(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r != ' ' && !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// naturalLess orders user names the way people count: user2 before user10.
// Ties in numeric value (user01 and user1) fall back to byte order so the
// order stays total and reports stay byte-for-byte stable.
func naturalLess(a, b string) bool {
	if c := naturalCompare(a, b); c != 0 {
		return c < 0
	}
	return a < b
}

func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si := i
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			sj := j
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return cmp.Compare(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if ca != cb {
			return cmp.Compare(int(ca), int(cb))
		}
		i++
		j++
	}
	return cmp.Compare(len(a)-i, len(b)-j)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// padRight pads s with spaces to width runes.
func padRight(s string, width int) string {
	n := utf8.RuneCountInString(s)
	if n >= width {
		return s
	}
	return s + strings.Repeat(" ", width-n)
}
