package spec

import (
	"fmt"
	"strings"
)

// A template is text with "{{name}}" references; spaces inside the braces are
// allowed ("{{ login }}"). There is no escape for a literal "{{": request
// bodies and paths do not need one, and any stray "{{" is far more likely a
// typo that Load should catch.

// ref is one "{{name}}" in a template.
type ref struct {
	name string
	// off is the byte offset of the opening braces.
	off int
}

// templateError is what scanTemplate reports; Load wraps it with the field.
type templateError struct{ msg string }

func (e *templateError) Error() string { return e.msg }

// scanTemplate lists the references in s, or says why s is malformed.
func scanTemplate(s string) ([]ref, error) {
	var refs []ref
	for off := 0; ; {
		i := strings.Index(s[off:], "{{")
		if i < 0 {
			return refs, nil
		}
		start := off + i
		j := strings.Index(s[start+2:], "}}")
		if j < 0 {
			return refs, &templateError{fmt.Sprintf("unterminated \"{{\" at offset %d (want {{name}})", start)}
		}
		inner := s[start+2 : start+2+j]
		name := strings.TrimSpace(inner)
		if name == "" {
			return refs, &templateError{fmt.Sprintf("empty variable name in %q", s[start:start+4+j])}
		}
		if !validVarName(name) {
			return refs, &templateError{fmt.Sprintf("%q is not a variable name (letters, digits, '_' and '-', starting with a letter or '_')", name)}
		}
		refs = append(refs, ref{name: name, off: start})
		off = start + 4 + j
	}
}

// validVarName accepts the names a template and an extract var may use.
func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '-' || r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

// Vars returns the variable names referenced in s, in order of first use and
// without repeats: Vars("/u/{{login}}/m/{{ id }}") is ["login", "id"]. It
// stops at the first malformed reference; [Load] has already rejected those
// in a spec's own templates.
func Vars(s string) []string {
	refs, _ := scanTemplate(s)
	var out []string
	seen := map[string]bool{}
	for _, r := range refs {
		if !seen[r.name] {
			seen[r.name] = true
			out = append(out, r.name)
		}
	}
	return out
}

// MissingVarError is the error [Expand] returns when lookup has no value for
// a variable. A harness tells it apart from a malformed template because a
// missing extracted value only means "not yet", not "never".
type MissingVarError struct {
	Name string
}

func (e *MissingVarError) Error() string {
	return fmt.Sprintf("variable %q has no value", e.Name)
}

// Expand replaces every "{{name}}" in s with lookup(name). It returns a
// [*MissingVarError] for the first name lookup does not know, and an error for
// a malformed template. Values are inserted as they are, without escaping:
// the spec author decides what the value means where it lands.
func Expand(s string, lookup func(name string) (string, bool)) (string, error) {
	refs, err := scanTemplate(s)
	if err != nil {
		return "", err
	}
	if len(refs) == 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, r := range refs {
		v, ok := lookup(r.name)
		if !ok {
			return "", &MissingVarError{Name: r.name}
		}
		b.WriteString(s[last:r.off])
		b.WriteString(v)
		last = r.off + 2
		last += strings.Index(s[last:], "}}") + 2
	}
	b.WriteString(s[last:])
	return b.String(), nil
}
