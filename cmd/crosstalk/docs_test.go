package main

import (
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// The README's spec example must stay a spec the loader accepts.
func TestReadmeSpecExampleLoads(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)## A spec.*?```yaml\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README has a yaml block under '## A spec'")
	for n := 1; n <= 8; n++ {
		t.Setenv("WEBMAIL_PW_"+string(rune('0'+n)), "pw-user"+string(rune('0'+n)))
	}
	s, err := spec.Parse("README.md", m[1])
	require.NoError(t, err)
	require.Len(t, s.Resolved, 8)
	require.Equal(t, "pw-user3", s.Resolved[2].Password)
}

// The README's bug zoo table lists every variant, in the order of the table
// behind webmail.Bugs.
func TestReadmeBugZooListsEveryBug(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)## The bug zoo\n.*?\\| bug \\|[^\n]*\n\\|[-|]+\\|\n(.*?)\n\n").FindSubmatch(readme)
	require.NotNil(t, m, "README has a table under '## The bug zoo'")
	var got []string
	for _, row := range regexp.MustCompile("(?m)^\\| `([a-z]+)` \\|").FindAllSubmatch(m[1], -1) {
		got = append(got, string(row[1]))
	}
	var want []string
	for _, b := range webmail.Bugs() {
		want = append(want, string(b))
	}
	require.Equal(t, want, got)
}

// serve -h shows every variant with what it does.
func TestServeHelpListsEveryBug(t *testing.T) {
	r := crosstalk(t, "serve", "-h")
	require.Equal(t, 0, r.code)
	for _, b := range webmail.Bugs() {
		require.Regexp(t, `(?m)^  `+string(b)+` +`+regexp.QuoteMeta(b.Description())+`$`, r.stderr)
	}
	require.Contains(t, r.stderr, "Examples:")
}

// The README's example workflow must be YAML, and its crosstalk run must
// use only flags that run has.
func TestReadmeWorkflowRunsValidFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)A workflow that gates a pull request.*?```yaml\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README has the example workflow")
	var wf struct {
		Jobs map[string]struct {
			Steps []struct{ Run string }
		}
	}
	require.NoError(t, yaml.Unmarshal(m[1], &wf))
	var run string
	for _, s := range wf.Jobs["crosstalk"].Steps {
		if strings.HasPrefix(s.Run, "crosstalk run ") {
			run = s.Run
		}
	}
	require.NotEmpty(t, run, "the workflow runs crosstalk run")
	run = regexp.MustCompile(`\$\{\{[^}]*\}\}`).ReplaceAllString(run, "https://staging.example.test")
	args := strings.Fields(strings.TrimPrefix(run, "crosstalk run "))
	for i, a := range args {
		args[i] = strings.Trim(a, `"`)
	}
	for i, a := range args {
		if a == "-format" && i+1 < len(args) {
			_, err := reports.ByName(args[i+1])
			require.NoError(t, err, "the workflow's -format")
		}
	}
	// Parsing stops at -h: every flag before it must exist and take its
	// value, or run exits 2.
	var stderr strings.Builder
	e := &env{stdout: io.Discard, stderr: &stderr}
	require.Equal(t, 0, runRun(context.Background(), e, append(args, "-h")), stderr.String())
}
