package incident

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// maxMappingRows bounds a mapping file: the analysis keeps it in memory.
const maxMappingRows = 10_000_000

// ReadPairsCSV reads a two-column CSV (key, value), the form of both the
// session → user "ID mapping" and the resource → owner table. A header row
// is recognised by its first cell naming the column ("session", "resource",
// "key") and skipped.
func ReadPairsCSV(name string, r io.Reader) (map[string]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	out := map[string]string{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("%s:%d: want two columns (key,value), got %d", name, line, len(rec))
		}
		k, v := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		if line == 1 {
			switch strings.ToLower(k) {
			case "session", "session_id", "resource", "path", "key", "id":
				continue
			}
		}
		if k == "" || v == "" {
			return nil, fmt.Errorf("%s:%d: empty key or value", name, line)
		}
		if len(out) >= maxMappingRows {
			return nil, fmt.Errorf("%s:%d: more than %d rows", name, line, maxMappingRows)
		}
		out[k] = v
	}
}

// Ownership says who owns a resource (a request path): from a table, from a
// rule (a path regexp whose first group is looked up in the table, or is the
// owner itself when there is no table), or both.
type Ownership struct {
	Table map[string]string
	Rule  *regexp.Regexp
}

// ParseOwnerRule compiles -owner-rule, which must have a capture group.
func ParseOwnerRule(s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("owner rule: %w", err)
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("owner rule %q: needs a (group) that captures the owner or the key to look up", s)
	}
	return re, nil
}

// Owner returns the owner of path, or "".
func (o *Ownership) Owner(path string) string {
	if o == nil {
		return ""
	}
	if o.Rule != nil {
		m := o.Rule.FindStringSubmatch(path)
		if m == nil {
			return ""
		}
		if o.Table == nil {
			return m[1]
		}
		return o.Table[m[1]]
	}
	return o.Table[path]
}
