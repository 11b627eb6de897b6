package spec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxSpecBytes bounds a spec file. Real specs are a few KiB; the YAML parser
// takes gigabytes for some inputs of a few hundred KiB, so the bounds are
// checked before it runs.
const MaxSpecBytes = 1 << 20

// MaxSpecDepth bounds how deeply a spec's mappings and lists nest. A real
// spec nests about 5 deep.
const MaxSpecDepth = 64

// LoadContext is [Load] that stops with ctx: it checks ctx between reading,
// parsing and validating, each of which the size and depth bounds keep
// short. The error wraps ctx.Err() when it stopped for that.
func LoadContext(ctx context.Context, path string) (*Spec, error) {
	data, err := readSpec(path)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: loading stopped: %w", path, err)
	}
	s := &Spec{}
	d, err := parseYAML(path, data, s)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: loading stopped: %w", path, err)
	}
	s.File = path
	s.pos, s.set = d.pos, d.set
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// readSpec reads at most MaxSpecBytes+1 bytes of path, so that a huge file
// is refused without being read.
func readSpec(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, readErr(path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, readErr(path, err)
	}
	if len(data) > MaxSpecBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the spec is larger than %d KiB; a spec describes a target in a few KiB (put users in a csv file)", MaxSpecBytes>>10)}
	}
	return data, nil
}

func readErr(path string, err error) error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = "cannot read the spec: " + pe.Err.Error()
	}
	return &Error{File: path, Msg: msg}
}

// checkBounds refuses, before parsing, a spec larger than MaxSpecBytes or
// nested deeper than MaxSpecDepth, naming the line where the limit is
// crossed. Depth counts flow brackets ("[", "{") outside quoted scalars and
// comments, block indentation levels, and "- " items that open a list on
// the same line; it is an upper bound of what the parser would build.
func checkBounds(file string, data []byte) *Error {
	if len(data) > MaxSpecBytes {
		return &Error{File: file, Msg: fmt.Sprintf("the spec is larger than %d KiB; a spec describes a target in a few KiB (put users in a csv file)", MaxSpecBytes>>10)}
	}
	tooDeep := func(line, col int) *Error {
		return &Error{File: file, Line: line, Column: col,
			Msg: fmt.Sprintf("nested more than %d levels deep; a spec needs fewer than 10", MaxSpecDepth)}
	}
	var indents []int // block indentation levels open
	flow := 0
	line, col := 1, 0
	var quote byte
	start := true // at the start of a line, before its indentation ends
	indent := 0
	prev := byte('\n')
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		if c == '\n' {
			line, col, start, indent, prev = line+1, 0, true, 0, c
			if quote == '\'' || quote == '"' {
				continue // quoted scalars may span lines
			}
			continue
		}
		if quote != 0 {
			switch {
			case quote == '"' && c == '\\':
				i++
				col++
			case c == quote:
				if quote == '\'' && i+1 < len(data) && data[i+1] == '\'' {
					i++ // '' inside single quotes
					col++
				} else {
					quote = 0
				}
			}
			prev = c
			continue
		}
		if start {
			if c == ' ' {
				indent++
				prev = c
				continue
			}
			start = false
			if c != '#' && c != '\r' && flow == 0 {
				for len(indents) > 0 && indents[len(indents)-1] >= indent {
					indents = indents[:len(indents)-1]
				}
				indents = append(indents, indent)
			}
		}
		switch c {
		case '#':
			if prev == ' ' || prev == '\t' || prev == '\n' || col == 1 {
				for i+1 < len(data) && data[i+1] != '\n' {
					i++
				}
				continue
			}
		case '"', '\'':
			if prev == ' ' || prev == '\t' || prev == '\n' || prev == '[' || prev == '{' || prev == ',' || prev == ':' || col == 1 {
				quote = c
			}
		case '[', '{':
			flow++
		case ']', '}':
			if flow > 0 {
				flow--
			}
		case '-':
			// "- - x": each dash opens a list one level deeper.
			if flow == 0 && (i+1 >= len(data) || data[i+1] == ' ') && (prev == ' ' || prev == '\n' || col == 1) {
				indents = append(indents, indent+col)
			}
		}
		if flow+len(indents) > MaxSpecDepth {
			return tooDeep(line, col)
		}
		prev = c
	}
	return nil
}
