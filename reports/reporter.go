package reports

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Reporter renders a [Summary] to w.
type Reporter func(w io.Writer, s Summary) error

var reporters = map[string]Reporter{
	"text":     Text,
	"json":     JSON,
	"junit":    JUnit,
	"markdown": Markdown,
}

// ByName returns the reporter for a -format flag value: "text", "json",
// "junit" or "markdown". The error for any other name lists the valid ones.
func ByName(name string) (Reporter, error) {
	if r, ok := reporters[strings.ToLower(strings.TrimSpace(name))]; ok {
		return r, nil
	}
	names := make([]string, 0, len(reporters))
	for n := range reporters {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("unknown report format %q: valid formats are %s", name, strings.Join(names, ", "))
}
