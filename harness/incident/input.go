package incident

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line parsed. A longer one is counted as malformed
// and skipped to its newline without being held in memory, so a 100 MB line
// costs a buffer of this size and nothing more.
const MaxLine = 1 << 20

// BadLine is a line that could not be parsed.
type BadLine struct {
	File   string `json:"file"`
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// Input is one log to read.
type Input struct {
	Name string
	R    io.Reader
	// Format forces a format; "" detects it: HAR by its first bytes,
	// otherwise each line by its first byte ('{' is JSON, anything else
	// combined).
	Format Format
}

// scan reads an input, transparently gunzipping it, and hands every line's
// entry to fn; err is set for a line that did not parse.
func scan(in Input, hf HARFields, fn func(e *Entry, err error) error) error {
	br := bufio.NewReaderSize(in.R, 256<<10)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", in.Name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	format := in.Format
	if format == "" && sniffHAR(br) {
		format = FormatHAR
	}
	if format == FormatHAR {
		return readHAR(br, hf, fn)
	}
	return scanLines(br, format, fn)
}

// sniffHAR says whether the stream opens a JSON object whose first key is
// "log": a JSON-lines log opens with a flat object of other keys.
func sniffHAR(br *bufio.Reader) bool {
	head, _ := br.Peek(512)
	i := skipSpace(head, 0)
	if i >= len(head) || head[i] != '{' {
		return false
	}
	i = skipSpace(head, i+1)
	return bytes.HasPrefix(head[i:], []byte(`"log"`))
}

var errTooLong = fmt.Errorf("longer than %d bytes", MaxLine)

func scanLines(br *bufio.Reader, format Format, fn func(e *Entry, err error) error) error {
	var e Entry
	var long []byte
	var n int64
	for {
		chunk, err := br.ReadSlice('\n')
		line := chunk
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], chunk...)
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = br.ReadSlice('\n')
				if !tooLong {
					if len(long)+len(chunk) > MaxLine {
						tooLong = true
						long = long[:0]
					} else {
						long = append(long, chunk...)
					}
				}
			}
			line = long
		}
		if len(line) == 0 && !tooLong {
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		n++
		e.reset(n)
		switch {
		case tooLong:
			if cerr := fn(&e, errTooLong); cerr != nil {
				return cerr
			}
		default:
			// By hand: TrimRight builds its set of bytes on every call.
			for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
				line = line[:len(line)-1]
			}
			if len(bytes.TrimSpace(line)) == 0 {
				break
			}
			var perr error
			f := format
			if f == "" {
				if line[skipSpace(line, 0)] == '{' {
					f = FormatJSON
				} else {
					f = FormatCombined
				}
			}
			if f == FormatJSON {
				perr = ParseJSONLine(line, &e)
			} else {
				perr = ParseCombinedLine(line, &e)
			}
			if perr != nil && err == io.EOF {
				perr = fmt.Errorf("truncated last line: %w", perr)
			}
			if cerr := fn(&e, perr); cerr != nil {
				return cerr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
