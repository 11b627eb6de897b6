package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/reports/evidence"
)

const reportUsage = `
Usage: crosstalk report -in RESULTS.jsonl [-in MORE.jsonl ...] [-format NAME] [-o FILE]

Renders result streams saved by "crosstalk run -o" again, in any format.
Every format reads the same stream, so this prints what "run -report" wrote.

-in - reads stdin. Several -in streams are merged into one report: counts
add up, the verdict is the worst of them (leak, then inconclusive, then
isolated), and the findings of all are listed together.

A stream cut off by a killed run (a CI timeout, an OOM kill) still renders:
its intact records are reported, and the torn line is named in a warning on
stderr and in the report.

Examples:
  crosstalk report -in results.jsonl
  crosstalk report -in results.jsonl -format html -o report.html
  crosstalk report -in results.jsonl -format junit -o junit.xml
  crosstalk report -in results.jsonl -format github     # in a GitHub Actions step
  crosstalk report -in shard1.jsonl -in shard2.jsonl -format markdown
  crosstalk run -target spec.yaml -o - | crosstalk report -in - -format sarif -o leaks.sarif

Exits 0 once rendered, 2 if no stream could be read.
`

// inputs collects repeated -in flags.
type inputs []string

func (in *inputs) String() string { return strings.Join(*in, ",") }
func (in *inputs) Set(v string) error {
	if v == "" {
		return errors.New("empty path")
	}
	*in = append(*in, v)
	return nil
}

func runReport(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "report", reportUsage)
	var ins inputs
	var format, out string
	fs.Var(&ins, "in", "result stream to read (JSON Lines; - for stdin); repeat to merge streams (required)")
	fs.StringVar(&format, "format", "text", reports.NameList())
	fs.StringVar(&out, "o", "", "write here instead of stdout")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if len(ins) == 0 {
		return usageErr(e, "report needs -in RESULTS.jsonl (see crosstalk report -h)")
	}
	render, err := reports.ByName(format)
	if err != nil {
		return usageErr(e, "-format: %v", err)
	}
	agg := reports.NewAggregator()
	read := 0
	stdin := false
	for _, in := range ins {
		var r io.Reader = os.Stdin
		name := "stdin"
		if in == "-" {
			if stdin {
				return usageErr(e, "-in - is given twice; stdin can be read once")
			}
			stdin = true
		} else {
			f, err := os.Open(in)
			if err != nil {
				return usageErr(e, "%v", err)
			}
			defer f.Close()
			r, name = f, in
		}
		n, _, err := reports.ReadInto(agg, r, name)
		if err != nil && n == 0 {
			return usageErr(e, "%s: %v", name, err)
		}
		read += n
	}
	if read == 0 {
		return usageErr(e, "%s: no result records", strings.Join(ins, ", "))
	}
	w := e.stdout
	var f *os.File
	if out != "" && out != "-" {
		f, err = evidence.Create(out)
		if err != nil {
			return usageErr(e, "%v", err)
		}
		w = f
	}
	sum := agg.Summary()
	// The report shows these too; stderr is where a CI log reader looks.
	for _, p := range sum.Problems {
		fmt.Fprintf(e.stderr, "crosstalk: warning: %s\n", p)
	}
	err = render(w, sum)
	if f != nil {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		return usageErr(e, "writing the report: %v", err)
	}
	return 0
}
