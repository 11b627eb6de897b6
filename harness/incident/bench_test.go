package incident

import (
	"bytes"
	"encoding/json"
	"testing"
)

var benchLine = []byte(`{"msec":"1215703812.345678","request_time":"0.008123","request_id":"9e3779b1","connection":"3405691582","connection_requests":"17","upstream_addr":"10.0.1.3:8080","remote_addr":"198.51.3.41","session":"5f2c9a1b7d3e4f60a1b2c3d4e5f60718","method":"GET","uri":"/messages/17","status":"200","bytes":"14213","owner":"u01234"}`)

// BenchmarkParseJSON is the hand-written scanner on a synthesized line.
func BenchmarkParseJSON(b *testing.B) {
	var e Entry
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		e.reset(1)
		if err := ParseJSONLine(benchLine, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJSONStdlib is the same line through encoding/json, the
// measurement behind the hand-written scanner.
func BenchmarkParseJSONStdlib(b *testing.B) {
	var v struct {
		Msec, RequestTime, RequestID, Connection, ConnectionRequests, UpstreamAddr string
		RemoteAddr, Session, Method, URI, Status, Bytes, Owner                     string
	}
	b.SetBytes(int64(len(benchLine)))
	for b.Loop() {
		if err := json.Unmarshal(benchLine, &v); err != nil {
			b.Fatal(err)
		}
	}
}

var benchCombined = []byte(`198.51.3.41 - u01234 [10/Jul/2008:15:30:12 +0000] "GET /messages/17 HTTP/1.1" 200 14213 "https://mail.example/inbox" "Mozilla/5.0 (X11; Linux x86_64)"`)

func BenchmarkParseCombined(b *testing.B) {
	var e Entry
	b.SetBytes(int64(len(benchCombined)))
	for b.Loop() {
		e.reset(1)
		if err := ParseCombinedLine(benchCombined, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeSynth is the whole analysis (scan, parse, model, windows)
// over the synthesized incident, in lines per second.
func BenchmarkAnalyzeSynth(b *testing.B) {
	o := DefaultSynth()
	var log, sess bytes.Buffer
	truth, err := Synthesize(o, SynthSinks{Log: &log, Sessions: &sess})
	if err != nil {
		b.Fatal(err)
	}
	m, err := ReadPairsCSV("s", &sess)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(log.Len()))
	b.ResetTimer()
	for b.Loop() {
		a, err := NewAnalyzer(synthAnalysis(o, m))
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Feed(Input{Name: "access.log", R: bytes.NewReader(log.Bytes())}); err != nil {
			b.Fatal(err)
		}
		a.Partial()
	}
	b.ReportMetric(float64(truth.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
