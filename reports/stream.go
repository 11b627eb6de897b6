package reports

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/crosstalk/crosstalk/harness"
)

// maxLineBytes bounds one line of the result stream. Findings carry evidence
// excerpts and exchanges carry paths, so lines can be long; the bound keeps a
// corrupt or hostile file from growing the read buffer without limit.
const maxLineBytes = 64 << 20

// Encoder writes records as JSON Lines, one [harness.Record] per line.
//
// It is safe for concurrent use: each record is written with a single Write,
// under a lock, so lines from different goroutines never interleave.
type Encoder struct {
	mu  sync.Mutex
	w   io.Writer
	buf bytes.Buffer
	enc *json.Encoder
}

// NewEncoder returns an [Encoder] writing to w.
func NewEncoder(w io.Writer) *Encoder {
	e := &Encoder{w: w}
	e.enc = json.NewEncoder(&e.buf)
	// Evidence excerpts are mostly HTML and JSON; escaping <, > and & would
	// make the stream much harder to grep for a marker.
	e.enc.SetEscapeHTML(false)
	return e
}

// Encode writes r as one line. A zero r.V is set to [harness.StreamVersion],
// so producers do not have to remember it.
func (e *Encoder) Encode(r harness.Record) error {
	if r.V == 0 {
		r.V = harness.StreamVersion
	}
	if r.Type == harness.RecordHeader && r.Header != nil && r.Header.Version == "" {
		// The header says which build wrote the stream, whoever made it.
		h := *r.Header
		h.Version = Version()
		r.Header = &h
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.buf.Reset()
	if err := e.enc.Encode(r); err != nil {
		return fmt.Errorf("encode %s record: %w", r.Type, err)
	}
	if _, err := e.w.Write(e.buf.Bytes()); err != nil {
		return fmt.Errorf("write %s record: %w", r.Type, err)
	}
	return nil
}

// Decoder reads records written by an [Encoder].
//
// Blank lines are skipped. Records of a type this build does not know are
// skipped too, so an older build can still render a newer stream of the same
// version. A record with a version newer than [harness.StreamVersion] is an
// error rather than a guess. Every error names the line it happened on.
//
// A malformed line does not stop the decoder: the next call to
// [Decoder.Decode] goes on with the following line. Read errors do stop it.
type Decoder struct {
	sc   *bufio.Scanner
	last *lastByte
	line int
	err  error // sticky: read errors and line-too-long
}

// NewDecoder returns a [Decoder] reading from r.
func NewDecoder(r io.Reader) *Decoder {
	d := &Decoder{}
	d.last = &lastByte{r: r}
	d.sc = bufio.NewScanner(d.last)
	d.sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	return d
}

// LineError is a line of the stream that is not a record this build reads.
// The decoder goes on past it.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// lastByte remembers the last byte read, so the decoder can tell a torn last
// line (a killed writer) from a malformed one in the middle.
type lastByte struct {
	r    io.Reader
	last byte
}

func (l *lastByte) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// Torn reports whether the stream ended in the middle of line n: the writer
// was killed before it finished the line. Only meaningful after Decode
// returned io.EOF.
func (d *Decoder) Torn(n int) bool {
	return n == d.line && d.last.last != '\n' && errors.Is(d.err, io.EOF)
}

// probe is read before the full record so that the version and type are
// checked before the payload: a newer stream may change a payload's shape,
// and that must surface as "too new", not as a confusing type error.
type probe struct {
	V    *int               `json:"v"`
	Type harness.RecordType `json:"type"`
}

// Decode returns the next record, or [io.EOF] after the last one.
func (d *Decoder) Decode() (harness.Record, error) {
	for {
		if d.err != nil {
			return harness.Record{}, d.err
		}
		if !d.sc.Scan() {
			if err := d.sc.Err(); err != nil {
				if errors.Is(err, bufio.ErrTooLong) {
					d.err = fmt.Errorf("line %d: longer than %d MiB", d.line+1, maxLineBytes>>20)
				} else {
					d.err = fmt.Errorf("after line %d: %w", d.line, err)
				}
			} else {
				d.err = io.EOF
			}
			return harness.Record{}, d.err
		}
		d.line++
		line := bytes.TrimSpace(d.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec, skip, err := parseLine(line)
		if err != nil {
			return harness.Record{}, &LineError{Line: d.line, Err: err}
		}
		if skip {
			continue
		}
		return rec, nil
	}
}

func parseLine(line []byte) (rec harness.Record, skip bool, err error) {
	var p probe
	if err := json.Unmarshal(line, &p); err != nil {
		return rec, false, fmt.Errorf("not a result record: %w", err)
	}
	if p.V == nil {
		return rec, false, errors.New(`not a result record: no "v" field`)
	}
	if *p.V > harness.StreamVersion {
		return rec, false, fmt.Errorf("stream version %d is newer than this build of crosstalk reads (version %d); upgrade crosstalk to read it",
			*p.V, harness.StreamVersion)
	}
	if *p.V < 1 {
		return rec, false, fmt.Errorf("invalid stream version %d", *p.V)
	}
	switch p.Type {
	case harness.RecordHeader, harness.RecordBurst, harness.RecordFinding,
		harness.RecordExchange, harness.RecordVerdict, harness.RecordReproduction:
	default:
		return rec, true, nil
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, false, fmt.Errorf("%s record: %w", p.Type, err)
	}
	// Reports dereference the payload that matches the type, so a record
	// without it is refused here rather than trusted later.
	var missing bool
	switch rec.Type {
	case harness.RecordHeader:
		missing = rec.Header == nil
	case harness.RecordBurst:
		missing = rec.Burst == nil
	case harness.RecordFinding:
		missing = rec.Finding == nil
	case harness.RecordExchange:
		missing = rec.Exchange == nil
	case harness.RecordVerdict:
		missing = rec.Outcome == nil
	case harness.RecordReproduction:
		missing = rec.Reproduction == nil
	}
	if missing {
		return rec, false, fmt.Errorf("%s record has no %q field", rec.Type, string(rec.Type))
	}
	if err := checkValues(rec); err != nil {
		return rec, false, fmt.Errorf("%s record: %w", rec.Type, err)
	}
	return rec, false, nil
}

// checkValues refuses what no run writes: a verdict that is not one of the
// three, and negative counts. Reports and exit codes would otherwise trust
// a hand-edited or damaged stream.
func checkValues(rec harness.Record) error {
	var counts map[string]int
	switch {
	case rec.Outcome != nil:
		v := rec.Outcome
		switch v.Verdict {
		case harness.Isolated, harness.Leak, harness.Inconclusive:
		default:
			return fmt.Errorf("verdict %q is not isolated, leak or inconclusive", v.Verdict)
		}
		counts = map[string]int{"requests": v.Requests, "errors": v.Errors, "bursts": v.Bursts, "findings": v.Findings,
			"elapsed_ns": int(v.Elapsed)}
	case rec.Burst != nil:
		counts = map[string]int{"burst": rec.Burst.Burst, "steps": rec.Burst.Steps, "errors": rec.Burst.Errors, "findings": rec.Burst.Findings}
	case rec.Header != nil:
		counts = map[string]int{"max_requests": rec.Header.MaxRequests, "burst_size": rec.Header.BurstSize, "duration_ns": int(rec.Header.Duration)}
	case rec.Reproduction != nil:
		r := rec.Reproduction
		if r.Reproduced > r.Runs {
			return fmt.Errorf("reproduced in %d of %d runs: more than it ran", r.Reproduced, r.Runs)
		}
		if !(r.Low >= 0 && r.Low <= r.High && r.High <= 1) {
			return fmt.Errorf("the interval %v–%v is not within 0–1", r.Low, r.High)
		}
		counts = map[string]int{"reproduced": r.Reproduced, "runs": r.Runs, "found_steps": r.FoundSteps}
	}
	for name, n := range counts {
		if n < 0 {
			return fmt.Errorf("%q is %d; a count cannot be negative", name, n)
		}
	}
	return nil
}

// ReadAll decodes every record from r. On error it returns the records read
// before the failing line along with the error, so a caller can still report
// on a damaged stream if it chooses to.
func ReadAll(r io.Reader) ([]harness.Record, error) {
	d := NewDecoder(r)
	var recs []harness.Record
	for {
		rec, err := d.Decode()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

// ReadInto decodes every record of r into a, going on past lines it cannot
// read: each is listed in the returned warnings (named after name, the
// input's label) and added to the summary's problems, so that a stream cut
// off by a killed run still gives its evidence. The error is non-nil only
// when r itself could not be read on; the records before it are in a.
func ReadInto(a *Aggregator, r io.Reader, name string) (records int, warnings []string, err error) {
	d := NewDecoder(r)
	var bad []*LineError
	for {
		rec, err := d.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le)
			continue
		}
		if err != nil {
			msg := fmt.Sprintf("%s: %v; the %d %s before it are reported", name, err, records, plural(records, "record", "records"))
			a.Problem(msg)
			return records, append(lineWarnings(d, bad, name), msg), err
		}
		a.Add(rec)
		records++
	}
	warnings = lineWarnings(d, bad, name)
	for _, w := range warnings {
		a.Problem(w)
	}
	return records, warnings, nil
}

// maxLineWarnings keeps a garbage file from burying the report in warnings.
const maxLineWarnings = 5

func lineWarnings(d *Decoder, bad []*LineError, name string) []string {
	var out []string
	for i, le := range bad {
		if i == maxLineWarnings {
			out = append(out, fmt.Sprintf("%s: %d more lines could not be read", name, len(bad)-i))
			break
		}
		if d.Torn(le.Line) {
			out = append(out, fmt.Sprintf("%s: line %d is torn (the writer stopped in the middle of it, as a killed run does); the records before it are reported", name, le.Line))
			continue
		}
		out = append(out, fmt.Sprintf("%s: line %d skipped: %v", name, le.Line, le.Err))
	}
	return out
}
