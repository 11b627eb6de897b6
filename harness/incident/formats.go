package incident

import (
	"bytes"
	"errors"
	"strconv"
)

// Format names an access-log format.
type Format string

// The formats an access log may be in. A line-oriented log may mix JSON and
// combined lines; each line is told apart by its first byte.
const (
	FormatJSON     Format = "json"
	FormatCombined Format = "combined"
	FormatHAR      Format = "har"
)

// Entry is one request of an access log, as parsed. Its byte fields point
// into the line (or into the entry's own scratch space when a JSON string
// had escapes) and are valid only until the next line is parsed: the
// analysis copies what it keeps, which is what keeps memory bounded by users
// rather than by lines.
type Entry struct {
	Line   int64
	Format Format
	// Start and End are Unix microseconds. The JSON format's msec is the time
	// of the log write, so Start is End minus request_time; a format without a
	// duration has Start == End.
	Start, End int64
	// Res is the clock resolution of Start, in microseconds: 1 for µs
	// timestamps, 1000 for nginx's $msec, 1,000,000 for combined logs.
	Res int64

	Instance, Conn, RequestID, Client []byte
	User, Session, Method, Path       []byte
	Owner, BodyHash                   []byte
	ConnRequests                      int64
	Status                            int
	Bytes                             int64

	scratch []byte
}

func (e *Entry) reset(line int64) {
	s := e.scratch[:0]
	*e = Entry{Line: line, scratch: s}
}

// errSyntax and friends are the reasons a line is malformed; they are short
// because they are printed once per line number.
var (
	errJSONSyntax  = errors.New("not a JSON object")
	errNoTime      = errors.New("no time field (msec, time or timestamp)")
	errBadTime     = errors.New("time field is not a number of seconds")
	errBadCombined = errors.New("not a combined or common log line")
	errBadDate     = errors.New("bad [dd/Mon/yyyy:hh:mm:ss zone] date")
)

// ParseJSONLine parses one line of the JSON access-log format (the nginx
// log_format with escape=json that the README recommends, or crosstalk
// serve -access-log). Unknown fields are ignored; values may be strings or
// bare numbers, since nginx's escape=json quotes everything.
//
// The scanner is hand-written rather than encoding/json into a struct:
// on the 250-byte lines of the synthesized incident it parses a line in about
// a fifth of the time json.Unmarshal takes (BenchmarkParseJSON vs
// BenchmarkParseJSONStdlib), and allocates nothing.
func ParseJSONLine(line []byte, e *Entry) error {
	if cap(e.scratch) < len(line) {
		e.scratch = make([]byte, 0, len(line)+64)
	}
	e.Format = FormatJSON
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return errJSONSyntax
	}
	i++
	var msec, reqTime, ts []byte
	var haveMsec, haveTS bool
	var reqLine []byte
	for {
		i = skipSpace(line, i)
		if i >= len(line) {
			return errJSONSyntax
		}
		if line[i] == '}' {
			i++
			break
		}
		if line[i] != '"' {
			return errJSONSyntax
		}
		key, n, err := e.jsonString(line, i)
		if err != nil {
			return err
		}
		i = skipSpace(line, n)
		if i >= len(line) || line[i] != ':' {
			return errJSONSyntax
		}
		i = skipSpace(line, i+1)
		if i >= len(line) {
			return errJSONSyntax
		}
		var val []byte
		if line[i] == '"' {
			val, i, err = e.jsonString(line, i)
		} else {
			val, i, err = jsonOther(line, i)
		}
		if err != nil {
			return err
		}
		switch string(key) {
		case "msec":
			msec, haveMsec = val, true
		case "time", "timestamp", "ts":
			ts, haveTS = val, true
		case "request_time", "duration":
			reqTime = val
		case "request_id", "id":
			e.RequestID = val
		case "connection", "conn":
			e.Conn = val
		case "connection_requests":
			e.ConnRequests, _ = strconv.ParseInt(string(val), 10, 64)
		case "upstream_addr", "instance":
			e.Instance = val
		case "remote_addr", "client":
			e.Client = val
		case "user", "remote_user":
			if !isDash(val) {
				e.User = val
			}
		case "session":
			if !isDash(val) {
				e.Session = val
			}
		case "method", "request_method":
			e.Method = val
		case "uri", "request_uri", "path":
			e.Path = val
		case "request":
			reqLine = val
		case "status":
			e.Status = atoiSmall(val)
		case "bytes", "body_bytes_sent", "bytes_sent":
			e.Bytes, _ = strconv.ParseInt(string(val), 10, 64)
		case "owner", "data_owner":
			if !isDash(val) {
				e.Owner = val
			}
		case "body_hash", "hash":
			if !isDash(val) {
				e.BodyHash = val
			}
		}
		i = skipSpace(line, i)
		if i < len(line) && line[i] == ',' {
			i++
			continue
		}
		if i < len(line) && line[i] == '}' {
			i++
			break
		}
		return errJSONSyntax
	}
	if skipSpace(line, i) != len(line) {
		return errJSONSyntax
	}
	if e.Path == nil && reqLine != nil {
		e.Method, e.Path = splitRequestLine(reqLine)
	}
	if q := bytes.IndexByte(e.Path, '?'); q >= 0 {
		e.Path = e.Path[:q]
	}
	switch {
	case haveMsec:
		end, res, ok := parseSeconds(msec)
		if !ok {
			return errBadTime
		}
		e.End, e.Res = end, res
	case haveTS:
		end, res, ok := parseSeconds(ts)
		if !ok {
			return errBadTime
		}
		e.End, e.Res = end, res
	default:
		return errNoTime
	}
	e.Start = e.End
	if reqTime != nil {
		d, res, ok := parseSeconds(reqTime)
		if ok && d >= 0 {
			e.Start = e.End - d
			if res > e.Res {
				e.Res = res
			}
		}
	}
	return nil
}

func isDash(b []byte) bool { return len(b) == 0 || (len(b) == 1 && b[0] == '-') }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// jsonString reads the string starting at b[i] == '"'. Without escapes it
// returns a slice of b; with them it unescapes into the entry's scratch
// space, which was sized to the line: unescaping never lengthens a string,
// so earlier slices of it stay valid.
func (e *Entry) jsonString(b []byte, i int) ([]byte, int, error) {
	i++
	// One pass for the closing quote and any backslash: the values of an
	// access log are short, and a byte loop beats two IndexByte calls on
	// them (BenchmarkParseJSON, three runs side by side on a loaded
	// machine: 330, 325 and 372 ns a line with the calls; 286, 296 and 330
	// with the loop).
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			// Raw control characters are let through: nginx escapes them,
			// and a log that does not is still worth reading.
			return b[i:j], j + 1, nil
		case '\\':
			return e.jsonEscaped(b, i)
		}
	}
	return nil, 0, errJSONSyntax
}

func (e *Entry) jsonEscaped(b []byte, start int) ([]byte, int, error) {
	out0 := len(e.scratch)
	out := e.scratch
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			e.scratch = out
			return out[out0:], i + 1, nil
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, 0, errJSONSyntax
		}
		i++
		switch b[i] {
		case '"', '\\', '/':
			out = append(out, b[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(b) {
				return nil, 0, errJSONSyntax
			}
			r, ok := hex4(b[i+1 : i+5])
			if !ok {
				return nil, 0, errJSONSyntax
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				if lo, ok := hex4(b[i+3 : i+7]); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			out = appendRune(out, r)
		default:
			return nil, 0, errJSONSyntax
		}
		i++
	}
	return nil, 0, errJSONSyntax
}

// appendRune writes r as UTF-8 without growing past the scratch space's
// capacity: a lone surrogate becomes U+FFFD, three bytes for six.
func appendRune(out []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(out, byte(r))
	case r < 0x800:
		return append(out, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r >= 0xD800 && r < 0xE000:
		return append(out, 0xEF, 0xBF, 0xBD)
	case r < 0x10000:
		return append(out, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	default:
		return append(out, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// jsonOther reads a number, true, false, null, or skips a nested object or
// array (which no field of ours uses) with strings inside taken into account.
func jsonOther(b []byte, i int) ([]byte, int, error) {
	start := i
	if b[i] == '{' || b[i] == '[' {
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return b[start : i+1], i + 1, nil
				}
			case '"':
				i++
				for i < len(b) && b[i] != '"' {
					if b[i] == '\\' {
						i++
					}
					i++
				}
			}
			i++
		}
		return nil, 0, errJSONSyntax
	}
	for i < len(b) {
		c := b[i]
		if c == ',' || c == '}' || c == ' ' || c == '\t' || c == ']' || c == '\r' || c == '\n' {
			break
		}
		i++
	}
	if i == start {
		return nil, 0, errJSONSyntax
	}
	v := b[start:i]
	if string(v) == "null" {
		v = nil
	}
	return v, i, nil
}

// parseSeconds reads decimal seconds ("1215702600.123456") as microseconds,
// and the resolution its number of decimals gives.
func parseSeconds(b []byte) (us, res int64, ok bool) {
	if len(b) == 0 || len(b) > 30 {
		return 0, 0, false
	}
	neg := false
	if b[0] == '-' {
		neg = true
		b = b[1:]
	}
	var sec int64
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		c := b[i]
		if c < '0' || c > '9' || sec > 1e12 {
			return 0, 0, false
		}
		sec = sec*10 + int64(c-'0')
	}
	if i == 0 {
		return 0, 0, false
	}
	frac, digits := int64(0), 0
	if i < len(b) {
		i++
		if i == len(b) {
			return 0, 0, false
		}
		for ; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, 0, false
			}
			if digits < 6 {
				frac = frac*10 + int64(c-'0')
				digits++
			}
		}
	}
	res = 1_000_000
	for d := digits; d < 6; d++ {
		frac *= 10
	}
	for d := 0; d < digits; d++ {
		res /= 10
	}
	us = sec*1_000_000 + frac
	if neg {
		us = -us
	}
	return us, res, true
}

func atoiSmall(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' || n > 1e6 {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// splitRequestLine splits "GET /path HTTP/1.1".
func splitRequestLine(r []byte) (method, path []byte) {
	sp := bytes.IndexByte(r, ' ')
	if sp < 0 {
		return nil, r
	}
	method, rest := r[:sp], r[sp+1:]
	if sp2 := bytes.LastIndexByte(rest, ' '); sp2 >= 0 && bytes.HasPrefix(rest[sp2+1:], []byte("HTTP/")) {
		rest = rest[:sp2]
	}
	return method, rest
}

var monthNum = map[string]int{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

// ParseCombinedLine parses one line of the nginx/Apache combined (or common)
// format:
//
//	host ident user [10/Jul/2008:15:10:00 +0200] "GET /inbox HTTP/1.1" 200 512 "referer" "agent"
//
// The format says nothing finer than the second, carries no duration and no
// instance, and its user field is whatever HTTP authentication gave: so a
// bound drawn from it is a bound at one-second resolution over one pooled
// instance. Hand-written like the JSON scanner, for the same reason.
func ParseCombinedLine(line []byte, e *Entry) error {
	e.Format = FormatCombined
	i := 0
	field := func() ([]byte, bool) {
		j := bytes.IndexByte(line[i:], ' ')
		if j <= 0 {
			return nil, false
		}
		f := line[i : i+j]
		i += j + 1
		return f, true
	}
	host, ok := field()
	if !ok {
		return errBadCombined
	}
	if _, ok = field(); !ok {
		return errBadCombined
	}
	user, ok := field()
	if !ok {
		return errBadCombined
	}
	if i >= len(line) || line[i] != '[' {
		return errBadCombined
	}
	j := bytes.IndexByte(line[i:], ']')
	if j < 0 {
		return errBadCombined
	}
	t, ok := parseCLFDate(line[i+1 : i+j])
	if !ok {
		return errBadDate
	}
	i += j + 1
	if i+2 > len(line) || line[i] != ' ' || line[i+1] != '"' {
		return errBadCombined
	}
	i += 2
	j = indexUnescapedQuote(line[i:])
	if j < 0 {
		return errBadCombined
	}
	e.Method, e.Path = splitRequestLine(line[i : i+j])
	i += j + 1
	if i < len(line) && line[i] == ' ' {
		i++
	}
	st, ok := field()
	if !ok {
		// common log format ending in the byte count
		st = nil
	}
	e.Status = atoiSmall(st)
	if e.Status == 0 {
		return errBadCombined
	}
	rest := line[i:]
	if k := bytes.IndexByte(rest, ' '); k >= 0 {
		rest = rest[:k]
	}
	e.Bytes, _ = strconv.ParseInt(string(rest), 10, 64)
	if q := bytes.IndexByte(e.Path, '?'); q >= 0 {
		e.Path = e.Path[:q]
	}
	e.Client = host
	if !isDash(user) {
		e.User = user
	}
	e.Start, e.End, e.Res = t, t, 1_000_000
	return nil
}

func indexUnescapedQuote(b []byte) int {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// parseCLFDate reads "10/Jul/2008:15:10:00 +0200" as Unix microseconds.
func parseCLFDate(b []byte) (int64, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	day, ok1 := num(b[0:2])
	mon, ok2 := monthNum[string(b[3:6])]
	year, ok3 := num(b[7:11])
	hh, ok4 := num(b[12:14])
	mm, ok5 := num(b[15:17])
	ss, ok6 := num(b[18:20])
	zh, ok7 := num(b[22:24])
	zm, ok8 := num(b[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || (b[21] != '+' && b[21] != '-') ||
		day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return 0, false
	}
	days := daysFromCivil(year, mon, day)
	secs := days*86400 + int64(hh*3600+mm*60+ss)
	off := int64(zh*3600 + zm*60)
	if b[21] == '+' {
		secs -= off
	} else {
		secs += off
	}
	return secs * 1_000_000, true
}

// daysFromCivil is the number of days since 1970-01-01 of a proleptic
// Gregorian date; time.Date costs more than the whole rest of a line.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
