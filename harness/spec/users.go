package spec

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// origin remembers where a resolved user came from, so that a problem found
// after resolution (a duplicate login, a missing password for basic login)
// is reported at the list item, the pattern or the CSV row that made it.
type origin struct {
	// at makes an error for a field of this user ("password_env").
	at func(sub, format string, args ...any) *Error
	// name is how other messages refer to this user.
	name string
}

func (c *checker) userErr(i int, sub, format string, args ...any) *Error {
	return c.origins[i].at(sub, format, args...)
}

func (c *checker) users() *Error {
	u := &c.s.Users
	var given []string
	if len(u.List) > 0 || c.given("users.list") {
		given = append(given, "list")
	}
	if u.Pattern != nil {
		given = append(given, "pattern")
	}
	if u.CSV != "" {
		given = append(given, "csv")
	}
	switch len(given) {
	case 0:
		return c.errf("users", "required: give the users as a list, a pattern or a csv file")
	case 1:
	default:
		return c.errf("users", "give only one of list, pattern and csv (found %s)", strings.Join(given, " and "))
	}
	c.s.Resolved = nil
	c.origins = nil
	var err *Error
	switch given[0] {
	case "list":
		err = c.listUsers()
	case "pattern":
		err = c.patternUsers()
	case "csv":
		err = c.csvUsers()
	}
	if err != nil {
		return err
	}
	if n := len(c.s.Resolved); n < 2 {
		plural := "s"
		if n == 1 {
			plural = ""
		}
		return c.errf("users."+given[0], "found %d user%s; checking isolation needs at least 2", n, plural)
	}
	return c.checkUserSet()
}

func (c *checker) add(u User, o origin) *Error {
	if len(c.s.Resolved) >= maxUsers {
		return o.at("", "more than %d users", maxUsers)
	}
	if err := resolveSecrets(&u, o); err != nil {
		return err
	}
	if u.N == 0 {
		u.N = len(c.s.Resolved) + 1
	}
	c.s.Resolved = append(c.s.Resolved, u)
	c.origins = append(c.origins, o)
	return nil
}

// resolveSecrets checks one user's own fields and reads its secrets from the
// environment.
func resolveSecrets(u *User, o origin) *Error {
	if strings.TrimSpace(u.Login) == "" {
		return o.at("login", "required: every user needs a login")
	}
	pairs := []struct {
		value *string
		env   string
		name  string
	}{{&u.Password, u.PasswordEnv, "password"}, {&u.Token, u.TokenEnv, "token"}}
	for _, p := range pairs {
		if p.env == "" {
			continue
		}
		if *p.value != "" {
			return o.at(p.name+"_env", "give %s or %s_env, not both", p.name, p.name)
		}
		v, ok := os.LookupEnv(p.env)
		if !ok {
			return o.at(p.name+"_env", "environment variable %s is not set", p.env)
		}
		if v == "" {
			return o.at(p.name+"_env", "environment variable %s is empty", p.env)
		}
		*p.value = v
	}
	for i, m := range u.Markers {
		if strings.TrimSpace(m) == "" {
			return o.at(fmt.Sprintf("markers[%d]", i), "a marker must not be empty")
		}
	}
	for _, k := range sortedKeys(u.Vars) {
		if err := checkUserVarName(k); err != "" {
			return o.at("vars."+k, "%s", err)
		}
	}
	return nil
}

func checkUserVarName(k string) string {
	switch {
	case !validVarName(k):
		return fmt.Sprintf("%q is not a variable name (letters, digits, '_' and '-', starting with a letter or '_')", k)
	case slices.Contains(builtinVars, k) || k == canaryVar:
		return fmt.Sprintf("%q is a built-in variable; pick another name", k)
	}
	return ""
}

func (c *checker) listUsers() *Error {
	for i, u := range c.s.Users.List {
		f := fmt.Sprintf("users.list[%d]", i)
		o := origin{name: f, at: func(sub, format string, args ...any) *Error {
			return c.errf(join(f, sub), format, args...)
		}}
		// Copy the slices and maps so that Resolved never aliases what the
		// author wrote in Users.
		u.Markers = slices.Clone(u.Markers)
		u.Vars = cloneMap(u.Vars)
		if err := c.add(u, o); err != nil {
			return err
		}
	}
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (c *checker) patternUsers() *Error {
	p := c.s.Users.Pattern
	const f = "users.pattern"
	switch {
	case p.Count < 0 || p.Count > maxUsers:
		return c.errf(f+".count", "%d: count must be between 2 and %d", p.Count, maxUsers)
	case p.Start < 0:
		return c.errf(f+".start", "%d: start must not be negative", p.Start)
	case p.Start == 0 && !c.given(f+".start"):
		p.Start = 1
	}
	if p.Login == "" {
		return c.errf(f+".login", "required: a login with {{n}} in it, such as \"user{{n}}\"")
	}
	if !slices.Contains(Vars(p.Login), "n") {
		return c.errf(f+".login", "%q must contain {{n}}, or every user would have the same login", p.Login)
	}
	onlyN := func(field, text string) *Error {
		refs, err := scanTemplate(text)
		if err != nil {
			return c.errf(field, "%v", err)
		}
		for _, r := range refs {
			if r.name != "n" {
				return c.errf(field, "unknown variable %q (pattern fields may use only {{n}})", r.name)
			}
		}
		return nil
	}
	texts := map[string]string{"login": p.Login, "password": p.Password, "password_env": p.PasswordEnv, "email": p.Email}
	for i, m := range p.Markers {
		texts[fmt.Sprintf("markers[%d]", i)] = m
	}
	for k, v := range p.Vars {
		texts["vars."+k] = v
	}
	for _, k := range sortedKeys(texts) {
		if err := onlyN(f+"."+k, texts[k]); err != nil {
			return err
		}
	}
	for i := range p.Count {
		n := strconv.Itoa(p.Start + i)
		x := func(s string) string {
			out, _ := Expand(s, func(string) (string, bool) { return n, true })
			return out
		}
		u := User{Login: x(p.Login), Password: x(p.Password), PasswordEnv: x(p.PasswordEnv), Email: x(p.Email), N: p.Start + i}
		for _, m := range p.Markers {
			u.Markers = append(u.Markers, x(m))
		}
		if p.Vars != nil {
			u.Vars = make(map[string]string, len(p.Vars))
			for k, v := range p.Vars {
				u.Vars[k] = x(v)
			}
		}
		o := origin{name: "pattern user " + n, at: func(sub, format string, args ...any) *Error {
			return c.errf(join(f, sub), "user %s: %s", n, fmt.Sprintf(format, args...))
		}}
		if err := c.add(u, o); err != nil {
			return err
		}
	}
	return nil
}

// csvColumns are the User fields a CSV header may name; "vars.NAME" columns
// fill Vars as well.
var csvColumns = []string{"login", "password", "password_env", "token", "token_env", "email", "markers"}

func (c *checker) csvUsers() *Error {
	rel := c.s.Users.CSV
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(c.s.File), rel)
	}
	fh, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return c.errf("users.csv", "cannot read %s: %v", path, err)
	}
	defer fh.Close()
	// Excel and other spreadsheets write UTF-8 with a byte order mark,
	// which would otherwise become part of the first column's name.
	br := bufio.NewReader(fh)
	if bom, _ := br.Peek(3); string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	r := csv.NewReader(br)
	r.TrimLeadingSpace = true
	r.Comment = '#'
	csvErr := func(line, col int, field, format string, args ...any) *Error {
		return &Error{File: path, Line: line, Column: col, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	readErr := func(err error) *Error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			msg := pe.Err.Error()
			if errors.Is(pe.Err, csv.ErrFieldCount) {
				msg = "this row has a different number of cells than the header"
			}
			return csvErr(pe.Line, pe.Column, "users.csv", "%s", msg)
		}
		return c.errf("users.csv", "cannot read %s: %v", path, err)
	}
	header, err := r.Read()
	if err == io.EOF {
		return c.errf("users.csv", "%s is empty; it needs a header row and a row per user", path)
	}
	if err != nil {
		return readErr(err)
	}
	hline, _ := r.FieldPos(0)
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		_, col := r.FieldPos(i)
		switch {
		case slices.Contains(csvColumns, h):
		case strings.HasPrefix(h, "vars."):
			if msg := checkUserVarName(h[len("vars."):]); msg != "" {
				return csvErr(hline, col, "users.csv", "column %q: %s", h, msg)
			}
		default:
			return csvErr(hline, col, "users.csv", "unknown column %q%s", h, didYouMean(h, append(slices.Clone(csvColumns), "vars.NAME")))
		}
		if slices.Contains(cols[:i], h) {
			return csvErr(hline, col, "users.csv", "column %q appears twice", h)
		}
		cols[i] = h
	}
	if !slices.Contains(cols, "login") {
		return csvErr(hline, 1, "users.csv", "the header row must name a login column (columns: %s, vars.NAME)", strings.Join(csvColumns, ", "))
	}
	for row := 0; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readErr(err)
		}
		line, _ := r.FieldPos(0)
		field := fmt.Sprintf("users.csv[%d]", row)
		colOf := map[string]int{}
		var u User
		for i, v := range rec {
			_, col := r.FieldPos(i)
			colOf[cols[i]] = col
			v = strings.TrimSpace(v)
			switch name := cols[i]; name {
			case "login":
				u.Login = v
			case "password":
				u.Password = v
			case "password_env":
				u.PasswordEnv = v
			case "token":
				u.Token = v
			case "token_env":
				u.TokenEnv = v
			case "email":
				u.Email = v
			case "markers":
				if v != "" {
					for _, m := range strings.Split(v, "|") {
						u.Markers = append(u.Markers, strings.TrimSpace(m))
					}
				}
			default:
				if u.Vars == nil {
					u.Vars = map[string]string{}
				}
				u.Vars[name[len("vars."):]] = v
			}
		}
		o := origin{name: fmt.Sprintf("%s line %d", path, line), at: func(sub, format string, args ...any) *Error {
			col := colOf[strings.SplitN(strings.SplitN(sub, "[", 2)[0], ".", 2)[0]]
			if strings.HasPrefix(sub, "vars.") {
				col = colOf[sub]
			}
			return csvErr(line, col, join(field, sub), format, args...)
		}}
		if err := c.add(u, o); err != nil {
			return err
		}
	}
}

// checkUserSet checks what involves several users: logins and emails must
// tell users apart, and every user must define the same vars, since a
// template that works for one user must work for all.
func (c *checker) checkUserSet() *Error {
	logins := map[string]int{}
	emails := map[string]int{}
	for i, u := range c.s.Resolved {
		if j, dup := logins[u.Login]; dup {
			return c.userErr(i, "login", "%q is also the login of %s", u.Login, c.origins[j].name)
		}
		logins[u.Login] = i
		if u.Email == "" {
			continue
		}
		// Mail systems treat the domain, and in practice the whole address,
		// case-insensitively.
		key := strings.ToLower(u.Email)
		if j, dup := emails[key]; dup {
			return c.userErr(i, "email", "%q is also the email of %s", u.Email, c.origins[j].name)
		}
		emails[key] = i
	}
	first := c.s.Resolved[0].Vars
	c.userVars = sortedKeys(first)
	for i, u := range c.s.Resolved[1:] {
		for _, k := range c.userVars {
			if _, ok := u.Vars[k]; !ok {
				return c.userErr(i+1, "vars", "missing %q, which %s defines; every user needs the same vars", k, c.origins[0].name)
			}
		}
		for _, k := range sortedKeys(u.Vars) {
			if _, ok := first[k]; !ok {
				return c.userErr(i+1, "vars."+k, "%s does not define %q; every user needs the same vars", c.origins[0].name, k)
			}
		}
	}
	return nil
}
