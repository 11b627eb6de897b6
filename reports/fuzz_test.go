package reports

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the stream decoder and then to every
// report, since a saved stream is untrusted input: neither may panic, and
// whatever decodes must survive a second encode/decode unchanged.
func FuzzDecode(f *testing.F) {
	streams, _ := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	for _, path := range streams {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(bytes.Clone(sc.Bytes()))
		}
	}
	for _, seed := range []string{
		"",
		"\n\n",
		`{"v":1}`,
		`{"v":99,"type":"header"}`,
		`{"v":1,"type":"finding","finding":null}`,
		`{"v":1,"type":"finding","finding":{"viewer":"\u001b[2J","excerpt":"\xff\xfe"}}`,
		`{"v":1,"type":"burst","burst":{"release_skew_ns":-9223372036854775808,"arrival_spread_ns":9223372036854775807}}`,
		`{"v":1,"type":"verdict","verdict":{"verdict":"leak","elapsed_ns":-1,"login_failures":[""]}}`,
		`{"v":1,"type":"header","header":{"users":null,"markers":{"":-1}}}` + "\n" + `{"v":1,"type":"unknown"}`,
		`{"v":-1,"type":"header","header":{}}`,
		`{"v":1.5,"type":"header","header":{}}`,
		`[{"v":1}]`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		var n int
		for {
			rec, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				// Parse errors move on to the next line; a read error
				// repeats. Either way the loop must end, and a line can be
				// consumed at most once.
				if n++; n > len(data)+1 {
					t.Fatalf("decoder does not advance: %v", err)
				}
				continue
			}
			var first, second bytes.Buffer
			if err := NewEncoder(&first).Encode(rec); err != nil {
				t.Fatalf("re-encode decoded record: %v", err)
			}
			again, err := NewDecoder(bytes.NewReader(first.Bytes())).Decode()
			if err != nil {
				t.Fatalf("decode re-encoded record %q: %v", first.String(), err)
			}
			if err := NewEncoder(&second).Encode(again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first.Bytes(), second.Bytes()) {
				t.Fatalf("record changed over a round trip:\n%s\n%s", first.Bytes(), second.Bytes())
			}
		}

		recs, _ := ReadAll(bytes.NewReader(data))
		s := Summarize(recs)
		// ReadInto goes on past bad lines; it must keep every good one.
		a := NewAggregator()
		kept, _, _ := ReadInto(a, bytes.NewReader(data), "fuzz")
		if kept < len(recs) {
			t.Fatalf("ReadInto kept %d records, ReadAll %d", kept, len(recs))
		}
		if kept == len(recs) && a.Summary().Verdict != s.Verdict {
			t.Fatalf("ReadInto and Summarize disagree: %s, %s", a.Summary().Verdict, s.Verdict)
		}
		for _, f := range formats {
			name, r := f.name, f.render
			if err := r(io.Discard, s); err != nil {
				t.Fatalf("%s report: %v", name, err)
			}
		}
	})
}
