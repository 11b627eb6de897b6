package reports

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkReadAllSummarizeText(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "leak.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		recs, err := ReadAll(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if err := Text(io.Discard, Summarize(recs)); err != nil {
			b.Fatal(err)
		}
	}
}
