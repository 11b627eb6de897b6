package reports

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

// goldenRender is the reporter a golden file of format name checks: the
// format's own, except where a format writes outside w. Golden files are
// named after the format (leak.junit, leak.markdown), so a new format in
// [Names] needs no entry here: its first run says to -update.
func goldenRender(t *testing.T, name string) Reporter {
	if name == "github" {
		return githubGolden
	}
	r, err := ByName(name)
	require.NoError(t, err)
	return r
}

// githubGolden renders the github format as GitHub Actions would run it,
// with the step summary in a temporary file, and shows both: the
// annotations written to stdout, then what was appended to the summary.
func githubGolden(w io.Writer, s Summary) error {
	dir, err := os.MkdirTemp("", "crosstalk-github")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "summary.md")
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": path}
	if err := githubReport(w, s, func(k string) string { return env[k] }); err != nil {
		return err
	}
	md, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "--- appended to $GITHUB_STEP_SUMMARY ---\n"); err != nil {
		return err
	}
	_, err = w.Write(md)
	return err
}

// goldenStreams returns each testdata stream's path without its extension.
func goldenStreams(t *testing.T) []string {
	t.Helper()
	streams, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, streams, "no testdata streams")
	for i, s := range streams {
		streams[i] = strings.TrimSuffix(s, ".jsonl")
	}
	return streams
}

func summarizeFile(t *testing.T, path string) Summary {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := ReadAll(f)
	require.NoError(t, err)
	return Summarize(recs)
}

// TestGolden renders every testdata stream in every format and compares the
// result byte for byte with the stored file, so any change to a report's
// wording or layout shows up in review as a golden-file diff.
func TestGolden(t *testing.T) {
	for _, base := range goldenStreams(t) {
		t.Run(filepath.Base(base), func(t *testing.T) {
			s := summarizeFile(t, base+".jsonl")
			for _, name := range Names() {
				t.Run(name, func(t *testing.T) {
					var got bytes.Buffer
					require.NoError(t, goldenRender(t, name)(&got, s))
					golden := base + "." + name
					if *update {
						require.NoError(t, os.WriteFile(golden, got.Bytes(), 0o644))
					}
					want, err := os.ReadFile(golden)
					require.NoError(t, err, "missing golden file; run go test ./reports -run TestGolden -update")
					require.Equal(t, string(want), got.String(), "output differs from %s; rerun with -update if the change is intended", golden)
				})
			}
		})
	}
}
