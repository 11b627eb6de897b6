package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

// goldenFormats maps each golden file extension to the reporter it checks.
var goldenFormats = map[string]Reporter{
	".txt":  Text,
	".md":   Markdown,
	".xml":  JUnit,
	".json": JSON,
}

// TestGolden renders every testdata stream in every format and compares the
// result byte for byte with the stored file, so any change to a report's
// wording or layout shows up in review as a golden-file diff.
func TestGolden(t *testing.T) {
	streams, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, streams, "no testdata streams")
	for _, stream := range streams {
		base := strings.TrimSuffix(stream, ".jsonl")
		t.Run(filepath.Base(base), func(t *testing.T) {
			f, err := os.Open(stream)
			require.NoError(t, err)
			defer f.Close()
			recs, err := ReadAll(f)
			require.NoError(t, err)
			s := Summarize(recs)
			for ext, report := range goldenFormats {
				t.Run(strings.TrimPrefix(ext, "."), func(t *testing.T) {
					var got bytes.Buffer
					require.NoError(t, report(&got, s))
					golden := base + ext
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
