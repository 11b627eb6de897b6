package main

import (
	"context"
	"io"
	"os"

	"github.com/crosstalk/crosstalk/reports"
)

const reportUsage = `
Usage: crosstalk report -in RESULTS.jsonl [-format NAME] [-o FILE]

Renders a result stream saved by "crosstalk run -o" (or "-in -" for stdin)
again, in any format. Every format reads the same stream.

Examples:
  crosstalk report -in results.jsonl
  crosstalk report -in results.jsonl -format junit -o junit.xml
  crosstalk report -in results.jsonl -format markdown >> "$GITHUB_STEP_SUMMARY"
  crosstalk run -target spec.yaml -o results.jsonl > /dev/null; crosstalk report -in - < results.jsonl

Exits 0 once rendered, 2 if the stream cannot be read.
`

func runReport(_ context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "report", reportUsage)
	var in, format, out string
	fs.StringVar(&in, "in", "", "result stream to read (JSON Lines; - for stdin) (required)")
	fs.StringVar(&format, "format", "text", "text, json, junit or markdown")
	fs.StringVar(&out, "o", "", "write here instead of stdout")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if in == "" {
		return usageErr(e, "report needs -in RESULTS.jsonl (see crosstalk report -h)")
	}
	render, err := reports.ByName(format)
	if err != nil {
		return usageErr(e, "%v", err)
	}
	var r io.Reader = os.Stdin
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return usageErr(e, "%v", err)
		}
		defer f.Close()
		r = f
	}
	records, err := reports.ReadAll(r)
	if err != nil {
		return usageErr(e, "%s: %v", in, err)
	}
	w := e.stdout
	if out != "" {
		f, err := reports.CreateEvidence(out)
		if err != nil {
			return usageErr(e, "%v", err)
		}
		defer f.Close()
		w = f
	}
	if err := render(w, reports.Summarize(records)); err != nil {
		return usageErr(e, "writing the report: %v", err)
	}
	return 0
}
