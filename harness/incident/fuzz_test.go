package incident

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Every log parser has a fuzz test: none may panic, and what they return
// must hold together (a JSON line's start is never after its end unless the
// duration was negative, a parsed combined line has a status).

func FuzzParseJSONLine(f *testing.F) {
	f.Add([]byte(benchLine))
	f.Add([]byte(jsonLine("a", "1215702600.5")))
	f.Add([]byte(`{"msec":1215702600.000001,"user":"al\"ice\u00e9\ud83d\ude00","uri":"\/inbox","owner":"b\\o"}`))
	f.Add([]byte(`{"msec":"1","request":"GET /x HTTP/1.1","x":{"y":[1,{"z":"}"}]}}`))
	f.Add([]byte(`{"msec":"-1.5","request_time":"99999999999999999999"}`))
	f.Add([]byte(`{"a":"\ud800"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		orig := bytes.Clone(line)
		if err := ParseJSONLine(line, &e); err != nil {
			return
		}
		if !bytes.Equal(orig, line) {
			t.Fatal("the parser changed its input")
		}
		if e.Res <= 0 {
			t.Fatalf("resolution %d", e.Res)
		}
		if utf8.Valid(line) && !utf8.Valid(e.User) {
			t.Fatalf("valid input gave invalid user %q", e.User)
		}
	})
}

func FuzzParseCombinedLine(f *testing.F) {
	f.Add([]byte(benchCombined))
	f.Add([]byte(`::1 - - [01/Jan/2020:00:00:00 -0000] "POST /login HTTP/1.0" 303 -`))
	f.Add([]byte(`a b c [10/Jul/2008:15:10:03 +0200] "GET /\"x HTTP/1.1" 200 1 "-" "-"`))
	f.Add([]byte(`a b c [31/Dec/9999:23:59:60 +9959] "" 1 1`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Entry
		if err := ParseCombinedLine(line, &e); err != nil {
			return
		}
		if e.Status <= 0 || e.Start != e.End || e.Res != 1_000_000 {
			t.Fatalf("inconsistent entry %+v", e)
		}
	})
}

func FuzzReadHAR(f *testing.F) {
	f.Add(harDoc)
	f.Add(`{"log":{"entries":[]}}`)
	f.Add(`{"log":{"entries":[{"startedDateTime":"x"}]}}`)
	f.Add(`{"other":1,"log":{"pages":[{"a":1}],"entries":[{}, 5]}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		n := int64(0)
		_ = readHAR(strings.NewReader(doc), HARFields{UserHeader: "X-User", OwnerHeader: "X-Data-Owner", SessionCookie: "sid"},
			func(e *Entry, err error) error {
				n++
				if e.Line != n {
					t.Fatalf("entry %d numbered %d", n, e.Line)
				}
				return nil
			})
	})
}

// FuzzAnalyze runs whole inputs, any mix of formats and garbage, through
// the scanner and the analysis: nothing may panic, and every line is either
// analysed, blank, malformed or unattributed.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte(jsonLine("a", "1215702600.5") + "\n" + jsonLine("b", "1215702600.5001") + "\n"))
	f.Add([]byte(string(benchCombined) + "\n" + string(benchLine) + "\ngarbage\n\n"))
	f.Add([]byte(harDoc))
	f.Add([]byte("\x1f\x8b\x08\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := NewAnalyzer(Options{Model: &Model{Classes: []string{"."}, Window: time.Millisecond, Direction: EitherWay, Source: "fuzz"},
			MinBad: 1 << 40})
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Feed(Input{Name: "fuzz", R: bytes.NewReader(data)})
		p := a.Partial()
		r := Finalize(p, FinalOptions{})
		var b bytes.Buffer
		if err := WriteUsersCSV(&b, r); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzReadPairsCSV(f *testing.F) {
	f.Add("session,user\ns1,alice\ns2,bob\n")
	f.Add("a,b,c\n\"q\"\"x\",y\n")
	f.Add("k\n")
	f.Fuzz(func(t *testing.T, data string) {
		m, err := ReadPairsCSV("f.csv", strings.NewReader(data))
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || v == "" {
				t.Fatalf("empty key or value in %q", data)
			}
		}
	})
}

// FuzzReadPartial: a partial file from anywhere never panics the merge.
func FuzzReadPartial(f *testing.F) {
	a, err := NewAnalyzer(Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := a.Feed(Input{Name: "x", R: strings.NewReader(jsonLine("a", "1215702600.5") + "\n" + jsonLine("b", "1215702601") + "\n")}); err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	if err := WritePartial(&b, a.Partial()); err != nil {
		f.Fatal(err)
	}
	f.Add(b.String())
	f.Add(`{"version":1,"users":{"a":{"minutes":[5]}}}`)
	f.Add(`{"version":1,"direct":[{"viewer":"a","owner":"b","refs":[]}],"minutes":{"1":null}}`)
	f.Add(`{"version":2,"files":[{"name":"x","lines":2,"bad":0,"formats":{}}],"names":["a","b"],"direct":[[0,1,0,3,2,0,1]],"bound":[[0,1,0,2,1,0,1],[1,0,0,2,1,0,2]],"minutes":{}}`)
	f.Fuzz(func(t *testing.T, data string) {
		p, err := ReadPartial("p", strings.NewReader(data))
		if err != nil {
			return
		}
		m, err := Merge([]*Partial{p, p})
		if err != nil {
			return
		}
		Finalize(m, FinalOptions{})
	})
}
