package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The JSON paths an extract accepts are a small, predictable subset of
// JSONPath: "$" followed by steps, each one of
//
//	.name      a member (letters, digits, '_', '-' and '$')
//	['name']   a member with any characters ("\'" and "\\" escape)
//	["name"]   the same with double quotes
//	[N]        element N of an array, from 0
//	[*] or .*  every element of an array, or every member value of an object
//
// Filters, slices, recursive descent and negative indexes are left out: a
// spec needs to say "the ids in this list", and a richer language would only
// make a typo harder to spot.

type stepKind int

const (
	stepMember stepKind = iota
	stepIndex
	stepAll
)

type pathStep struct {
	kind  stepKind
	name  string
	index int
}

// parseJSONPath compiles path into steps, or says what is wrong with it.
func parseJSONPath(path string) ([]pathStep, error) {
	if !strings.HasPrefix(path, "$") {
		return nil, fmt.Errorf("JSON path %q must start with \"$\"", path)
	}
	var steps []pathStep
	i := 1
	bad := func(format string, args ...any) error {
		return fmt.Errorf("JSON path %q at offset %d: %s", path, i, fmt.Sprintf(format, args...))
	}
	for i < len(path) {
		switch path[i] {
		case '.':
			i++
			if i < len(path) && path[i] == '*' {
				steps = append(steps, pathStep{kind: stepAll})
				i++
				continue
			}
			start := i
			for i < len(path) && isMemberChar(path[i]) {
				i++
			}
			if i == start {
				if i < len(path) && path[i] == '.' {
					return nil, bad("recursive descent (\"..\") is not supported")
				}
				return nil, bad("want a member name after \".\"")
			}
			steps = append(steps, pathStep{kind: stepMember, name: path[start:i]})
		case '[':
			i++
			if i >= len(path) {
				return nil, bad("unterminated \"[\"")
			}
			switch c := path[i]; {
			case c == '*':
				i++
				steps = append(steps, pathStep{kind: stepAll})
			case c == '\'' || c == '"':
				name, n, err := quotedMember(path[i:])
				if err != nil {
					return nil, bad("%v", err)
				}
				i += n
				steps = append(steps, pathStep{kind: stepMember, name: name})
			case c >= '0' && c <= '9':
				start := i
				for i < len(path) && path[i] >= '0' && path[i] <= '9' {
					i++
				}
				n, err := strconv.Atoi(path[start:i])
				if err != nil || n > math.MaxInt32 {
					return nil, bad("index %s is too large", path[start:i])
				}
				steps = append(steps, pathStep{kind: stepIndex, index: n})
			default:
				return nil, bad("want an index, '*' or a quoted name inside \"[]\" (filters, slices and negative indexes are not supported)")
			}
			if i >= len(path) || path[i] != ']' {
				return nil, bad("want \"]\"")
			}
			i++
		default:
			return nil, bad("unexpected %q; want \".\" or \"[\"", path[i])
		}
	}
	return steps, nil
}

func isMemberChar(c byte) bool {
	return c == '_' || c == '-' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// quotedMember reads a quoted name at the start of s and returns it with the
// number of bytes it took.
func quotedMember(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case q:
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return "", 0, errors.New("unterminated quoted name")
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, errors.New("unterminated quoted name")
}

// ExtractJSON returns the scalar values at path in the JSON document body.
// The path is "$" followed by steps: ".name", "['name']" or "[\"name\"]" for
// a member, "[N]" for an array element from 0, and "[*]" or ".*" for every
// element or member value (members in sorted key order).
//
// Values are rendered as text: strings as they are, booleans as "true" or
// "false", and numbers as written, except that an integral number written
// with a fraction or an exponent (7.0, 1e3) becomes "7" or "1000", so that an
// id renders the same however the server spelled it. Nulls, objects and
// arrays at the end of the path are skipped, and a path that matches nothing
// gives no values and no error. An error means the path is outside this
// subset or the body is not JSON.
func ExtractJSON(path string, body []byte) ([]string, error) {
	steps, err := parseJSONPath(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("response body is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("response body is not JSON: data after the first value")
	}
	cur := []any{doc}
	for _, st := range steps {
		var next []any
		for _, v := range cur {
			switch st.kind {
			case stepMember:
				if m, ok := v.(map[string]any); ok {
					if x, ok := m[st.name]; ok {
						next = append(next, x)
					}
				}
			case stepIndex:
				if a, ok := v.([]any); ok && st.index < len(a) {
					next = append(next, a[st.index])
				}
			case stepAll:
				switch c := v.(type) {
				case []any:
					next = append(next, c...)
				case map[string]any:
					keys := make([]string, 0, len(c))
					for k := range c {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					for _, k := range keys {
						next = append(next, c[k])
					}
				}
			}
		}
		cur = next
	}
	var out []string
	for _, v := range cur {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case bool:
			out = append(out, strconv.FormatBool(x))
		case json.Number:
			out = append(out, renderNumber(string(x)))
		}
	}
	return out, nil
}

// renderNumber writes an integral JSON number without fraction or exponent.
// Numbers too large to print exactly from a float64 keep their original
// spelling rather than gaining made-up digits.
func renderNumber(s string) string {
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<53 {
		return s
	}
	if f == 0 {
		return "0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// regexpCache keeps compiled extract patterns. A spec has a handful; the cap
// keeps a caller that passes ever new patterns from growing it for ever.
var regexpCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

const regexpCacheMax = 256

func compileCached(pattern string) (*regexp.Regexp, error) {
	regexpCache.Lock()
	re, ok := regexpCache.m[pattern]
	regexpCache.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	regexpCache.Lock()
	if regexpCache.m == nil {
		regexpCache.m = map[string]*regexp.Regexp{}
	}
	if len(regexpCache.m) < regexpCacheMax {
		regexpCache.m[pattern] = re
	}
	regexpCache.Unlock()
	return re, nil
}

// ExtractRegexp returns a value for every match of pattern in body: the
// first capture group when the pattern has one, else the whole match. An
// error means the pattern does not compile.
func ExtractRegexp(pattern string, body []byte) ([]string, error) {
	re, err := compileCached(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range re.FindAllSubmatch(body, -1) {
		if len(m) > 1 {
			out = append(out, string(m[1]))
		} else {
			out = append(out, string(m[0]))
		}
	}
	return out, nil
}
