package reports

import (
	"fmt"
	"io"
	"strings"
)

// Reporter renders a [Summary] to w.
type Reporter func(w io.Writer, s Summary) error

// format is one report format. The list below is the only place a format is
// named: flag help, errors and the docs test read it through [Names].
type format struct {
	name, about string
	render      Reporter
}

var formats = []format{
	{"text", "for a terminal", Text},
	{"json", "one JSON document for other programs", JSON},
	{"junit", "JUnit XML, one test case per request, data kind and check", JUnit},
	{"markdown", "GitHub-flavoured Markdown", Markdown},
	{"html", "one self-contained HTML file with charts and evidence", HTML},
	{"github", "GitHub Actions: ::error annotations and a step summary", GitHub},
	{"sarif", "SARIF 2.1.0 for code scanning, one result per distinct leak", SARIF},
}

// Names lists the report formats in the order of the docs.
func Names() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return names
}

// NameList is [Names] joined for flag help: "text, json, ... or sarif".
func NameList() string {
	names := Names()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ByName returns the reporter for a -format flag value. The error for any
// other name lists the valid ones.
func ByName(name string) (Reporter, error) {
	want := strings.ToLower(strings.TrimSpace(name))
	for _, f := range formats {
		if f.name == want {
			return f.render, nil
		}
	}
	return nil, fmt.Errorf("unknown report format %q: valid formats are %s", name, strings.Join(Names(), ", "))
}
