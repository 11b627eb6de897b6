package spec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The decoder walks goccy/go-yaml's syntax tree alongside the Go types rather
// than handing the tree to the library's reflection decoder. Walking it here
// lets every error carry the field path as the spec author wrote it
// ("requests[2].weight") instead of a Go type name, lets unknown fields come
// with a suggestion, and records where each field sits so that checks made
// after decoding can still point at a line.

// position is a 1-based place in a file.
type position struct{ line, col int }

// maxAliases bounds alias expansion. Decoding is driven by the spec types, so
// expansion cannot nest without limit, but a list of thousands of aliases to
// a large mapping would still cost time for no reason a real spec has.
const maxAliases = 10000

type decoder struct {
	file    string
	anchors map[string]ast.Node
	aliases int
	// pos maps a field path to where its key (or list item) starts.
	pos map[string]position
	// set holds the field paths given a non-null value, so that "weight: 0"
	// can be told apart from a weight left out.
	set map[string]bool
}

// parseYAML parses data and decodes its single document into s, recording
// field positions.
func parseYAML(file string, data []byte, s *Spec) (d *decoder, err error) {
	d = &decoder{file: file, anchors: map[string]ast.Node{}, pos: map[string]position{}, set: map[string]bool{}}
	if e := checkBounds(file, data); e != nil {
		return nil, e
	}
	f, err := parseBytes(file, data)
	if err != nil {
		return nil, err
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, d.errAt(doc.Body.GetToken(), "", "a spec is a single YAML document; remove the second one")
		}
		body = doc.Body
	}
	if body == nil {
		return nil, &Error{File: file, Msg: "the spec is empty"}
	}
	ast.Walk(anchorCollector(d.anchors), body)
	p := nodePos(body)
	d.pos[""] = p
	rv := reflect.ValueOf(s).Elem()
	n, derr := d.resolve(body, "")
	if derr != nil {
		return nil, derr
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		return nil, d.errAt(n.GetToken(), "", "a spec is a mapping of fields (name, base_url, users, login, requests, ...), not %s", describe(n))
	}
	if derr := d.decode(n, rv, ""); derr != nil {
		return nil, derr
	}
	return d, nil
}

// parseBytes runs the goccy/go-yaml parser. The parser is third-party code
// fed with whatever the user wrote; should it ever panic, that must become an
// error for the user and not a crash of the whole run.
func parseBytes(file string, data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, &Error{File: file, Msg: fmt.Sprintf("cannot parse the spec: %v", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		return nil, syntaxError(file, perr)
	}
	return f, nil
}

// syntaxError turns a parser error into an [*Error], keeping the position and
// dropping the source excerpt the library appends, which would make the
// message span several lines.
func syntaxError(file string, err error) *Error {
	type tokenError interface {
		GetToken() *token.Token
		GetMessage() string
	}
	e := &Error{File: file, Msg: err.Error()}
	if te, ok := err.(tokenError); ok {
		e.Msg = te.GetMessage()
		if tk := te.GetToken(); tk != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	e.Msg = "syntax error: " + firstLine(e.Msg)
	return e
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

type anchorCollector map[string]ast.Node

func (a anchorCollector) Visit(n ast.Node) ast.Visitor {
	if an, ok := n.(*ast.AnchorNode); ok && an.Name != nil {
		if name, ok := scalarText(an.Name); ok {
			a[name] = an.Value
		}
	}
	return a
}

func (d *decoder) errAt(tk *token.Token, field, format string, args ...any) *Error {
	e := &Error{File: d.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if tk != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	return e
}

func tokenPos(tk *token.Token) position {
	if tk == nil {
		return position{}
	}
	return position{tk.Position.Line, tk.Position.Column}
}

// nodePos is where a node visibly starts: for a block mapping the library's
// token is the first ':' but a reader looks for the first key.
func nodePos(n ast.Node) position {
	switch v := n.(type) {
	case nil:
		return position{}
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 && v.Values[0] != nil && v.Values[0].Key != nil {
			return tokenPos(v.Values[0].Key.GetToken())
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return tokenPos(v.Key.GetToken())
		}
	}
	return tokenPos(n.GetToken())
}

// resolve looks through tags, anchors and aliases to the node that holds the
// value.
func (d *decoder) resolve(n ast.Node, field string) (ast.Node, *Error) {
	for range 100 {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		case *ast.AliasNode:
			d.aliases++
			if d.aliases > maxAliases {
				return nil, d.errAt(v.GetToken(), field, "too many aliases (more than %d)", maxAliases)
			}
			name := ""
			if v.Value != nil {
				name, _ = scalarText(v.Value)
			}
			target, ok := d.anchors[name]
			if !ok {
				return nil, d.errAt(v.GetToken(), field, "alias *%s names no anchor", name)
			}
			n = target
		default:
			return n, nil
		}
	}
	return nil, d.errAt(n.GetToken(), field, "aliases refer to each other in a loop")
}

// scalarText is the text of a scalar node as the author wrote it, so that a
// login of 007 stays "007" and is not turned into 7.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.NullNode:
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// describe names what a node holds, for "want X, got Y" messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", v.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.BoolNode:
		return fmt.Sprintf("the boolean %v", v.Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + n.GetToken().Value
	}
	return "a " + strings.ToLower(n.Type().String())
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

type pair struct {
	name  string
	key   *token.Token
	value ast.Node
}

// pairs lists the entries of a mapping, with "<<" merge keys expanded.
// Entries written out win over merged ones, and among merged mappings the
// first one listed wins, as YAML specifies.
func (d *decoder) pairs(n ast.Node, field string, depth int) ([]pair, *Error) {
	if depth > 10 {
		return nil, d.errAt(n.GetToken(), field, "merge keys nest too deeply")
	}
	var mvs []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		mvs = v.Values
	case *ast.MappingValueNode:
		mvs = []*ast.MappingValueNode{v}
	case *ast.NullNode:
		return nil, nil
	default:
		return nil, d.errAt(n.GetToken(), field, "want a mapping of fields, got %s", describe(n))
	}
	var own, merged []pair
	seen := map[string]bool{}
	for _, mv := range mvs {
		if mv == nil || mv.Key == nil {
			continue
		}
		if mv.Key.IsMergeKey() {
			m, err := d.mergeSources(mv.Value, field, depth)
			if err != nil {
				return nil, err
			}
			merged = append(merged, m...)
			continue
		}
		k, err := d.resolve(mv.Key, field)
		if err != nil {
			return nil, err
		}
		name, ok := scalarText(k)
		if !ok {
			return nil, d.errAt(mv.Key.GetToken(), field, "a field name must be plain text, not %s", describe(k))
		}
		if seen[name] {
			return nil, d.errAt(mv.Key.GetToken(), join(field, name), "given twice")
		}
		seen[name] = true
		own = append(own, pair{name: name, key: mv.Key.GetToken(), value: mv.Value})
	}
	for _, p := range merged {
		if !seen[p.name] {
			seen[p.name] = true
			own = append(own, p)
		}
	}
	return own, nil
}

func (d *decoder) mergeSources(v ast.Node, field string, depth int) ([]pair, *Error) {
	src, err := d.resolve(v, field)
	if err != nil {
		return nil, err
	}
	if seq, ok := src.(*ast.SequenceNode); ok {
		var out []pair
		for _, item := range seq.Values {
			it, err := d.resolve(item, field)
			if err != nil {
				return nil, err
			}
			ps, err := d.pairs(it, field, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	}
	return d.pairs(src, field, depth+1)
}

var durationType = reflect.TypeFor[time.Duration]()

// decode stores node n into v, whose path is field.
func (d *decoder) decode(n ast.Node, v reflect.Value, field string) *Error {
	n, err := d.resolve(n, field)
	if err != nil {
		return err
	}
	if n == nil {
		return nil
	}
	if _, isNull := n.(*ast.NullNode); !isNull {
		d.set[field] = true
	}
	t := v.Type()
	if t == durationType {
		return d.decodeDuration(n, v, field)
	}
	switch t.Kind() {
	case reflect.Pointer:
		if _, ok := n.(*ast.NullNode); ok {
			v.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := d.decode(n, p.Elem(), field); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, v, field)
	case reflect.Slice:
		return d.decodeSlice(n, v, field)
	case reflect.Map:
		return d.decodeMap(n, v, field)
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			return d.errAt(n.GetToken(), field, "want text, got %s", describe(n))
		}
		v.SetString(s)
		return nil
	case reflect.Int, reflect.Int64:
		return d.decodeInt(n, v, field)
	case reflect.Float64:
		switch x := n.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
			f, perr := strconv.ParseFloat(strings.ReplaceAll(x.GetToken().Value, "_", ""), 64)
			if perr != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return d.errAt(x.GetToken(), field, "want a number, got %s", describe(n))
			}
			v.SetFloat(f)
			return nil
		case *ast.NullNode:
			return nil
		}
		return d.errAt(n.GetToken(), field, "want a number, got %s", describe(n))
	case reflect.Bool:
		switch x := n.(type) {
		case *ast.BoolNode:
			v.SetBool(x.Value)
			return nil
		case *ast.NullNode:
			return nil
		}
		return d.errAt(n.GetToken(), field, "want true or false, got %s", describe(n))
	}
	// Only reachable if a field of an unsupported type is added to the spec
	// types; failing loudly beats silently ignoring the value.
	return d.errAt(n.GetToken(), field, "cannot decode into %s", t)
}

func (d *decoder) decodeInt(n ast.Node, v reflect.Value, field string) *Error {
	switch x := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.IntegerNode:
		var i int64
		switch iv := x.Value.(type) {
		case int64:
			i = iv
		case uint64:
			if iv > math.MaxInt64 {
				return d.errAt(x.GetToken(), field, "%s is too large", x.GetToken().Value)
			}
			i = int64(iv)
		default:
			return d.errAt(x.GetToken(), field, "want a whole number, got %s", describe(n))
		}
		if v.OverflowInt(i) {
			return d.errAt(x.GetToken(), field, "%s is too large", x.GetToken().Value)
		}
		v.SetInt(i)
		return nil
	}
	return d.errAt(n.GetToken(), field, "want a whole number, got %s", describe(n))
}

func (d *decoder) decodeDuration(n ast.Node, v reflect.Value, field string) *Error {
	switch x := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.StringNode:
		dur, err := time.ParseDuration(strings.TrimSpace(x.Value))
		if err != nil {
			return d.errAt(x.GetToken(), field, "%q is not a duration; write it with a unit, such as \"5s\" or \"250ms\"", x.Value)
		}
		v.SetInt(int64(dur))
		return nil
	case *ast.IntegerNode, *ast.FloatNode:
		return d.errAt(x.GetToken(), field, "%s has no unit; write a duration such as \"5s\" or \"250ms\"", x.GetToken().Value)
	}
	return d.errAt(n.GetToken(), field, "want a duration such as \"5s\", got %s", describe(n))
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, field string) *Error {
	ps, err := d.pairs(n, field, 0)
	if err != nil {
		return err
	}
	fields, names := structFields(v.Type())
	for _, p := range ps {
		sub := join(field, p.name)
		idx, ok := fields[p.name]
		if !ok {
			return d.errAt(p.key, sub, "unknown field%s", didYouMean(p.name, names))
		}
		d.pos[sub] = tokenPos(p.key)
		if err := d.decode(p.value, v.Field(idx), sub); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, field string) *Error {
	switch n.(type) {
	case *ast.NullNode:
		v.SetZero()
		return nil
	case *ast.SequenceNode:
	default:
		return d.errAt(n.GetToken(), field, "want a list, got %s", describe(n))
	}
	seq := n.(*ast.SequenceNode)
	out := reflect.MakeSlice(v.Type(), 0, len(seq.Values))
	for i, item := range seq.Values {
		sub := fmt.Sprintf("%s[%d]", field, i)
		if item == nil {
			return d.errAt(seq.GetToken(), sub, "empty list item")
		}
		d.pos[sub] = nodePos(item)
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.decode(item, elem, sub); err != nil {
			return err
		}
		out = reflect.Append(out, elem)
	}
	v.Set(out)
	return nil
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, field string) *Error {
	if v.Type().Key().Kind() != reflect.String {
		return d.errAt(n.GetToken(), field, "cannot decode into %s", v.Type())
	}
	ps, err := d.pairs(n, field, 0)
	if err != nil {
		return err
	}
	if _, null := n.(*ast.NullNode); null {
		v.SetZero()
		return nil
	}
	m := reflect.MakeMapWithSize(v.Type(), len(ps))
	for _, p := range ps {
		sub := join(field, p.name)
		d.pos[sub] = tokenPos(p.key)
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.decode(p.value, elem, sub); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(p.name).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
	return nil
}

// structFields maps the yaml names of t's fields to their indexes, and lists
// the names in declaration order for suggestions.
func structFields(t reflect.Type) (map[string]int, []string) {
	m := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
		names = append(names, name)
	}
	return m, names
}
