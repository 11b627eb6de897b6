package incident

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseJSONLine(t *testing.T) {
	var e Entry
	line := `{"msec":"1215702600.123","request_time":"0.023","request_id":"ab12","connection":"7","connection_requests":"3",` +
		`"upstream_addr":"10.0.0.2:8080","remote_addr":"192.0.2.1","user":"alice","session":"s1","request":"GET /messages/4?x=1 HTTP/1.1",` +
		`"status":"200","body_bytes_sent":"512","owner":"bob","body_hash":"-","extra":{"a":[1,"}"]}}`
	require.NoError(t, ParseJSONLine([]byte(line), &e))
	assert.Equal(t, int64(1215702600123000), e.End)
	assert.Equal(t, int64(1215702600100000), e.Start)
	assert.Equal(t, int64(1000), e.Res, "three decimals: millisecond resolution")
	assert.Equal(t, "GET", string(e.Method))
	assert.Equal(t, "/messages/4", string(e.Path), "the query is not part of the resource")
	assert.Equal(t, "alice", string(e.User))
	assert.Equal(t, "bob", string(e.Owner))
	assert.Nil(t, e.BodyHash, "nginx writes - for an empty variable")
	assert.Equal(t, 200, e.Status)
	assert.Equal(t, int64(512), e.Bytes)
	assert.Equal(t, int64(3), e.ConnRequests)
	assert.Equal(t, "10.0.0.2:8080", string(e.Instance))
}

func TestParseJSONEscapes(t *testing.T) {
	var e Entry
	line := `{"msec":1215702600.000001,"user":"al\"ice\u00e9\ud83d\ude00","uri":"\/inbox","owner":"b\\o"}`
	require.NoError(t, ParseJSONLine([]byte(line), &e))
	assert.Equal(t, "al\"iceé😀", string(e.User))
	assert.Equal(t, "/inbox", string(e.Path))
	assert.Equal(t, `b\o`, string(e.Owner))
	assert.Equal(t, int64(1), e.Res, "six decimals: µs")
	for _, bad := range []string{``, `{`, `{"msec":}`, `{"msec":"1"`, `{"msec":"x"}`, `{"user":"a"}`, `[1]`, `{"msec":"1"} trailing`, `{"a":"\x"}`} {
		e.reset(1)
		assert.Error(t, ParseJSONLine([]byte(bad), &e), bad)
	}
}

func TestParseCombinedLine(t *testing.T) {
	var e Entry
	line := `192.0.2.7 - carol [10/Jul/2008:15:10:03 +0200] "GET /inbox?page=2 HTTP/1.1" 200 5120 "https://x/\"q" "Mozilla/5.0"`
	require.NoError(t, ParseCombinedLine([]byte(line), &e))
	want := time.Date(2008, 7, 10, 13, 10, 3, 0, time.UTC).UnixMicro()
	assert.Equal(t, want, e.Start)
	assert.Equal(t, want, e.End, "combined logs carry no duration")
	assert.Equal(t, int64(1_000_000), e.Res)
	assert.Equal(t, "carol", string(e.User))
	assert.Equal(t, "/inbox", string(e.Path))
	assert.Equal(t, 200, e.Status)
	assert.Equal(t, int64(5120), e.Bytes)
	e.reset(2)
	require.NoError(t, ParseCombinedLine([]byte(`::1 - - [01/Jan/2020:00:00:00 -0000] "POST /login HTTP/1.0" 303 -`), &e), "common log format")
	assert.Nil(t, e.User)
	for _, bad := range []string{`x`, `a b c [bad] "GET / HTTP/1.1" 200 1`, `a b c [10/Jul/2008:15:10:03 +0200] GET 200 1`, `a b c [10/Foo/2008:15:10:03 +0200] "GET /" 200 1`} {
		e.reset(1)
		assert.Error(t, ParseCombinedLine([]byte(bad), &e), bad)
	}
}

const harDoc = `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"pages":[],"entries":[
 {"startedDateTime":"2008-07-10T15:10:00.120Z","time":12.5,"request":{"method":"GET","url":"https://mail.example/inbox?a=1",
  "headers":[{"name":"X-User","value":"dave"}],"cookies":[{"name":"sid","value":"s9"}]},
  "response":{"status":200,"headers":[{"name":"x-data-owner","value":"erin"}],"content":{"size":40,"text":"hello"}},
  "serverIPAddress":"10.0.0.3","connection":"44"},
 {"startedDateTime":"2008-07-10T15:10:01Z","time":1,"request":{"method":"GET","url":"https://mail.example/profile","headers":[],"cookies":[]},
  "response":{"status":200,"headers":[],"content":{"size":0}}}
]}}`

func TestReadHAR(t *testing.T) {
	var got []Entry
	err := scan(Input{Name: "x.har", R: strings.NewReader(harDoc)}, HARFields{UserHeader: "X-User", OwnerHeader: "X-Data-Owner", SessionCookie: "sid"},
		func(e *Entry, err error) error {
			require.NoError(t, err)
			c := *e
			c.User, c.Owner, c.Path = bytes.Clone(e.User), bytes.Clone(e.Owner), bytes.Clone(e.Path)
			got = append(got, c)
			return nil
		})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, FormatHAR, got[0].Format)
	assert.Equal(t, "dave", string(got[0].User))
	assert.Equal(t, "erin", string(got[0].Owner))
	assert.Equal(t, "/inbox", string(got[0].Path))
	assert.Equal(t, int64(12500), got[0].End-got[0].Start)
	assert.Equal(t, int64(2), got[1].Line, "an entry's number stands for its line")
}

// scanAll scans data and returns each line's number with its error or user.
func scanAll(t *testing.T, data []byte) (ok []string, bad []string) {
	t.Helper()
	err := scan(Input{Name: "t", R: bytes.NewReader(data)}, HARFields{}, func(e *Entry, err error) error {
		if err != nil {
			bad = append(bad, strconv.FormatInt(e.Line, 10)+":"+err.Error())
			return nil
		}
		if e.Format != "" {
			ok = append(ok, strconv.FormatInt(e.Line, 10)+":"+string(e.User))
		}
		return nil
	})
	require.NoError(t, err)
	return ok, bad
}

func jsonLine(user string, msec string) string {
	return `{"msec":"` + msec + `","request_time":"0.001","upstream_addr":"i1","user":"` + user + `","uri":"/profile","status":"200"}`
}

func TestScanBadInputKeepsNeighbours(t *testing.T) {
	huge := strings.Repeat("x", 100<<20)
	var b strings.Builder
	b.WriteString(jsonLine("a", "1215702600.5") + "\n")
	b.WriteString(`10.0.0.1 - b [10/Jul/2008:15:10:03 +0000] "GET /inbox HTTP/1.1" 200 1 "-" "-"` + "\r\n") // mixed format, CRLF
	b.WriteString(jsonLine("c", "1215702500.5") + "\n")                                                     // the clock steps back
	b.WriteString("{\"msec\":\"1215702600.6\",\"user\":\"d\xff\xfe\",\"uri\":\"/profile\"}\n")              // not UTF-8
	b.WriteString(huge + "\n")                                                                              // 100 MB
	b.WriteString("\n")                                                                                     // blank
	b.WriteString("garbage\n")
	b.WriteString(jsonLine("e", "1215702601.0") + "\n")
	b.WriteString(`{"msec":"1215702601.1","user":"f"`) // truncated last line
	ok, bad := scanAll(t, []byte(b.String()))
	assert.Equal(t, []string{"1:a", "2:b", "3:c", "4:d\xff\xfe", "8:e"}, ok)
	require.Len(t, bad, 3)
	assert.Contains(t, bad[0], "5:longer than")
	assert.Contains(t, bad[1], "7:")
	assert.Contains(t, bad[2], "9:truncated last line")

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(jsonLine("g", "1215702600.5") + "\n" + jsonLine("h", "1215702600.6") + "\n"))
	require.NoError(t, zw.Close())
	ok, bad = scanAll(t, gz.Bytes())
	assert.Equal(t, []string{"1:g", "2:h"}, ok, "gzip is read transparently")
	assert.Empty(t, bad)

	ok, bad = scanAll(t, nil)
	assert.Empty(t, ok, "an empty file has no lines")
	assert.Empty(t, bad)
}

func TestTooManyMalformedLinesGivesUp(t *testing.T) {
	var b strings.Builder
	for range 150 {
		b.WriteString("not a log line\n")
	}
	a, err := NewAnalyzer(Options{})
	require.NoError(t, err)
	err = a.Feed(Input{Name: "junk.log", R: strings.NewReader(b.String())})
	require.ErrorIs(t, err, ErrTooManyBad)
	assert.Contains(t, err.Error(), "junk.log line 1")

	// Below the threshold the analysis goes on and lists the lines.
	b.Reset()
	for i := range 2000 {
		if i%500 == 7 {
			b.WriteString("oops\n")
			continue
		}
		b.WriteString(jsonLine("u", "1215702600.5") + "\n")
	}
	a, err = NewAnalyzer(Options{})
	require.NoError(t, err)
	require.NoError(t, a.Feed(Input{Name: "ok.log", R: strings.NewReader(b.String())}))
	p := a.Partial()
	require.Len(t, p.Bad, 4)
	assert.Equal(t, int64(8), p.Bad[0].Line)
	assert.Equal(t, int64(1996), p.Parsed)
}
