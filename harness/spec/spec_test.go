package spec

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/bad from the current errors")

// testEnv sets the variables the testdata specs read, and makes sure the
// one they expect to be missing really is.
func testEnv(t *testing.T) {
	t.Helper()
	for k, v := range map[string]string{
		"CROSSTALK_SPEC_TEST_PW":     "pw-from-env",
		"CROSSTALK_SPEC_TEST_PW_0":   "pw0",
		"CROSSTALK_SPEC_TEST_PW_1":   "pw1",
		"CROSSTALK_SPEC_TEST_PW_2":   "pw2",
		"CROSSTALK_SPEC_TEST_TOKEN":  "tok-from-env",
		"CROSSTALK_SPEC_TEST_SET_PW": "set",
		"PW_ALICE":                   "alice-pw",
	} {
		t.Setenv(k, v)
	}
	t.Setenv("CROSSTALK_SPEC_TEST_UNSET_PW", "")
	require.NoError(t, os.Unsetenv("CROSSTALK_SPEC_TEST_UNSET_PW"))
}

func badSpecs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, g := range []string{"testdata/bad/*.yaml", "testdata/bad/*.json"} {
		m, err := filepath.Glob(g)
		require.NoError(t, err)
		files = append(files, m...)
	}
	return files
}

func TestBadSpecsGolden(t *testing.T) {
	testEnv(t)
	files := badSpecs(t)
	require.GreaterOrEqual(t, len(files), 15)
	seen := map[string]string{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			s, err := Load(file)
			require.Error(t, err)
			assert.Nil(t, s)
			var se *Error
			require.ErrorAs(t, err, &se)
			// Every error names a file and, apart from an empty file, a line.
			assert.NotEmpty(t, se.File)
			if !strings.HasSuffix(file, "empty.yaml") {
				assert.Positive(t, se.Line, "error has no line: %v", err)
				assert.Positive(t, se.Column, "error has no column: %v", err)
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, filepath.Ext(file)) + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden file")
			assert.Equal(t, string(want), got)
			if prev, dup := seen[got]; dup {
				t.Errorf("%s gives the same error as %s; each bad spec should test something else", file, prev)
			}
			seen[got] = file
		})
	}
}

// TestErrorNamesField checks the golden errors carry the field the spec
// author has to fix, and a "file:line:col:" prefix.
func TestErrorNamesField(t *testing.T) {
	testEnv(t)
	cases := map[string]string{
		"unknown_field.yaml":        "usres",
		"wrong_type.yaml":           "requests[0].weight",
		"missing_env.yaml":          "users.list[1].password_env",
		"unknown_var.yaml":          "requests[1].path",
		"bad_regexp.yaml":           "requests[0].extract[0].regexp",
		"bad_jsonpath.yaml":         "requests[0].extract[0].json",
		"weight_zero.yaml":          "requests[0].weight",
		"unknown_login_type.yaml":   "login.type",
		"duplicate_login.yaml":      "users.list[2].login",
		"timeout_negative.yaml":     "limits.timeout",
		"csv_missing_env.yaml":      "users.csv[1].password_env",
		"unknown_nested_field.yaml": "requests[0].wieght",
	}
	prefix := regexp.MustCompile(`^[^:]+:\d+:\d+: `)
	for file, field := range cases {
		_, err := Load(filepath.Join("testdata/bad", file))
		var se *Error
		require.ErrorAs(t, err, &se, file)
		assert.Equal(t, field, se.Field, file)
		assert.Regexp(t, prefix, err.Error(), file)
		assert.Contains(t, err.Error(), ": "+field+": ", file)
	}
}

func TestSuggestions(t *testing.T) {
	testEnv(t)
	_, err := Load("testdata/bad/unknown_field.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `did you mean "users"?`)
	_, err = Load("testdata/bad/unknown_var.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `did you mean "msg_id"?`)
	_, err = Load("testdata/bad/unknown_field_no_match.yaml")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "did you mean")
	assert.Contains(t, err.Error(), "known: backend_header, base_url")
}

func TestLoadList(t *testing.T) {
	testEnv(t)
	s, err := Load("testdata/good/list.yaml")
	require.NoError(t, err)

	assert.Equal(t, "list", s.Name, "name defaults to the file name")
	assert.Equal(t, "testdata/good/list.yaml", s.File)
	assert.Equal(t, "http://127.0.0.1:8080", s.BaseURL, "trailing slash is dropped")
	assert.Equal(t, []string{"http://127.0.0.1:8081", "http://[::1]:8082"}, s.Instances, "instances are trimmed like base_url")
	assert.Equal(t, "POST", s.Login.Method)
	assert.Equal(t, SessionCookie, s.Login.Session)
	assert.True(t, s.LearnEnabled())
	assert.Equal(t, Limits{Timeout: DefaultTimeout, MaxBody: DefaultMaxBody, MaxErrorRate: DefaultMaxErrorRate, MinCoverage: DefaultMinCoverage}, s.Limits)

	require.Len(t, s.Seed, 1)
	assert.Equal(t, "POST", s.Seed[0].Method, "methods are upper-cased")
	require.Len(t, s.Requests, 2)
	inbox := s.Request("inbox")
	require.NotNil(t, inbox)
	assert.Equal(t, "GET", inbox.Method)
	assert.Equal(t, 1, inbox.Weight)
	assert.Equal(t, "inbox", inbox.Data)
	assert.Equal(t, ActionRead, inbox.Action)
	assert.Equal(t, []Extract{{Var: "msg_id", JSON: "$.messages[*].id"}}, inbox.Extract)
	open := s.Request("open")
	require.NotNil(t, open)
	assert.Equal(t, 3, open.Weight)
	assert.Equal(t, "mail", open.Data)

	require.Len(t, s.Resolved, 2)
	assert.Equal(t, User{
		Login: "alice", Password: "pw-from-env", PasswordEnv: "CROSSTALK_SPEC_TEST_PW",
		Email: "alice@example.test", Markers: []string{"alice-marker"}, Vars: map[string]string{"account": "1001"}, N: 1,
	}, s.Resolved[0])
	assert.Equal(t, "hunter2", s.Resolved[1].Password)
	assert.Empty(t, s.Users.List[0].Password, "the secret lands in Resolved only")
}

func TestLoadPattern(t *testing.T) {
	testEnv(t)
	s, err := Load("testdata/good/pattern.yaml")
	require.NoError(t, err)
	assert.Equal(t, "patterned", s.Name)
	assert.Equal(t, 0, s.Users.Pattern.Start, "an explicit start: 0 is kept")
	require.Len(t, s.Resolved, 3)
	for i, u := range s.Resolved {
		n := string(rune('0' + i))
		assert.Equal(t, "user"+n, u.Login)
		assert.Equal(t, "pw"+n, u.Password)
		assert.Equal(t, "user"+n+"@example.test", u.Email)
		assert.Equal(t, []string{"m-" + n, "static"}, u.Markers)
		assert.Equal(t, map[string]string{"id": "id" + n}, u.Vars)
	}
	assert.Equal(t, SessionToken, s.Login.Session)
	require.NotNil(t, s.Login.Token)
	assert.Equal(t, "token", s.Login.Token.Var, "token var defaults to token")
	assert.False(t, s.LearnEnabled())
	assert.Equal(t, 250*time.Millisecond, s.Limits.Timeout)
	assert.Equal(t, int64(1024), s.Limits.MaxBody)
	assert.Zero(t, s.Limits.MaxErrorRate, "an explicit 0 error rate is kept")
	assert.Equal(t, ActionLogout, s.Request("logout").Action)
}

func TestPatternStartDefault(t *testing.T) {
	s, err := Parse("p.yaml", []byte(`
base_url: http://127.0.0.1:1
users: {pattern: {count: 2, login: "u{{n}}"}}
login: {type: none}
requests: [{name: a, path: /}]
`))
	require.NoError(t, err)
	assert.Equal(t, 1, s.Users.Pattern.Start)
	assert.Equal(t, "u1", s.Resolved[0].Login)
	assert.Equal(t, "u2", s.Resolved[1].Login)
	assert.Equal(t, 1, s.Resolved[0].N, "{{n}} is the pattern's counter")
}

func TestLoadCSV(t *testing.T) {
	testEnv(t)
	s, err := Load("testdata/good/csv.yaml")
	require.NoError(t, err)
	require.Len(t, s.Resolved, 3)
	assert.Equal(t, User{Login: "alice", Token: "tok-alice", Email: "alice@example.test",
		Markers: []string{"a1", "a2"}, Vars: map[string]string{"tenant": "t1"}, N: 1}, s.Resolved[0])
	assert.Equal(t, "tok-from-env", s.Resolved[1].Token)
	assert.Empty(t, s.Resolved[1].Markers)
	assert.Equal(t, "carol", s.Resolved[2].Login)
	assert.Equal(t, "Authorization: Bearer {{token}}", s.Login.AuthHeader, "bearer auth header default")
	assert.Empty(t, s.Login.Method, "no login request, so no method default")
	assert.Equal(t, []Extract{{Var: "etag", Header: "ETag"}, {Var: "file", Regexp: `href="/files/([0-9]+)"`}},
		s.Request("files").Extract)
}

func TestLoadJSON(t *testing.T) {
	testEnv(t)
	s, err := Load("testdata/good/spec.json")
	require.NoError(t, err)
	assert.Equal(t, "from-json", s.Name)
	assert.Equal(t, "http://[::1]:8080", s.BaseURL)
	assert.Equal(t, LoginBasic, s.Login.Type)
	assert.Equal(t, 2, s.Request("inbox").Weight)
	assert.Equal(t, 2*time.Second, s.Limits.Timeout)
	assert.Equal(t, []string{"alice", "bob"}, []string{s.Resolved[0].Login, s.Resolved[1].Login})
}

// The format is told by content: JSON in a .yaml file and YAML in a .json
// file both load.
func TestFormatByContent(t *testing.T) {
	testEnv(t)
	data, err := os.ReadFile("testdata/good/spec.json")
	require.NoError(t, err)
	s, err := Parse("spec.yaml", data)
	require.NoError(t, err)
	assert.Equal(t, "from-json", s.Name)

	data, err = os.ReadFile("testdata/good/pattern.yaml")
	require.NoError(t, err)
	s, err = Parse("pattern.json", data)
	require.NoError(t, err)
	assert.Len(t, s.Resolved, 3)
}

// TestDocExample loads the example in the package documentation, so that
// the documentation cannot drift from the code.
func TestDocExample(t *testing.T) {
	testEnv(t)
	t.Setenv("RESET_TOKEN", "reset-secret")
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	var yaml []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, "// # Example"):
			in = true
		case in && strings.HasPrefix(line, "// # "):
			in = false
		case in && strings.HasPrefix(line, "//\t"):
			yaml = append(yaml, strings.TrimPrefix(line, "//\t"))
		}
	}
	require.NotEmpty(t, yaml)
	s, err := Parse("doc-example.yaml", []byte(strings.Join(yaml, "\n")))
	require.NoError(t, err)
	assert.Equal(t, "webmail", s.Name)
	assert.Equal(t, "alice-pw", s.Resolved[0].Password)
	assert.Len(t, s.Requests, 3)
	assert.Len(t, s.Seed, 1)
	require.Len(t, s.Reset, 1)
	assert.Equal(t, "reset-secret", s.Reset[0].Header["X-Reset-Token"])
	assert.Equal(t, SessionsFresh, s.Sessions)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-spec.yaml")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "testdata/no-such-spec.yaml", se.File)
	assert.Contains(t, se.Msg, "no such file")
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		err  Error
		want string
	}{
		{Error{File: "spec.yaml", Line: 12, Column: 5, Field: "users.list[1].password_env", Msg: "environment variable PW_BOB is not set"},
			"spec.yaml:12:5: users.list[1].password_env: environment variable PW_BOB is not set"},
		{Error{File: "spec.yaml", Line: 3, Column: 1, Msg: "syntax error: x"}, "spec.yaml:3:1: syntax error: x"},
		{Error{File: "u.csv", Line: 4, Field: "users.csv", Msg: "bad"}, "u.csv:4: users.csv: bad"},
		{Error{Field: "base_url", Msg: "required"}, "base_url: required"},
		{Error{File: "spec.yaml", Msg: "the spec is empty"}, "spec.yaml: the spec is empty"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.err.Error())
	}
}

func codeSpec() *Spec {
	return &Spec{
		BaseURL: "http://127.0.0.1:8080",
		Users: Users{List: []User{
			{Login: "alice", Password: "a"},
			{Login: "bob", Password: "b"},
		}},
		Login:    Login{Type: LoginForm, Path: "/login", Form: map[string]string{"u": "{{login}}", "p": "{{password}}"}},
		Requests: []Request{{Name: "inbox", Path: "/inbox"}},
	}
}

func TestValidateCodeBuilt(t *testing.T) {
	s := codeSpec()
	require.NoError(t, s.Validate())
	assert.Equal(t, "spec", s.Name)
	assert.Equal(t, "POST", s.Login.Method)
	assert.Equal(t, 1, s.Requests[0].Weight, "weight 0 in code means the default")
	assert.Equal(t, DefaultTimeout, s.Limits.Timeout)
	require.Len(t, s.Resolved, 2)

	// Validate again after a change: Resolved is rebuilt, not appended to.
	s.Users.List = append(s.Users.List, User{Login: "carol", Password: "c"})
	require.NoError(t, s.Validate())
	assert.Len(t, s.Resolved, 3)

	s.Requests[0].Path = "/inbox/{{nope}}"
	err := s.Validate()
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, Error{Field: "requests[0].path", Msg: se.Msg}, *se, "no file, no line for a spec built in code")
	assert.Contains(t, se.Msg, `unknown variable "nope"`)
}

func TestValidateAfterParseKeepsLines(t *testing.T) {
	s, err := Parse("x.yaml", []byte(`base_url: http://127.0.0.1:1
users: {list: [{login: a}, {login: b}]}
login: {type: none}
requests:
  - name: r
    path: /r
`))
	require.NoError(t, err)
	s.Requests[0].Path = "r"
	err = s.Validate()
	require.EqualError(t, err, `x.yaml:6:5: requests[0].path: "r" must start with "/" (it is joined to base_url)`)
}

func TestSecretsFromEnv(t *testing.T) {
	s := codeSpec()
	s.Users.List[0].Password = ""
	s.Users.List[0].PasswordEnv = "CROSSTALK_SPEC_TEST_SECRET"
	t.Setenv("CROSSTALK_SPEC_TEST_SECRET", "s3cret")
	require.NoError(t, s.Validate())
	assert.Equal(t, "s3cret", s.Resolved[0].Password)

	t.Setenv("CROSSTALK_SPEC_TEST_SECRET", "")
	err := s.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "users.list[0].password_env: environment variable CROSSTALK_SPEC_TEST_SECRET is empty")

	s.Users.List[0].Password = "also"
	t.Setenv("CROSSTALK_SPEC_TEST_SECRET", "x")
	err = s.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "give password or password_env, not both")
}

// TestRules covers rules that need no file of their own; each case breaks
// one thing in a valid spec and checks the field and message.
func TestRules(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Spec)
		field string
		msg   string
	}{
		{"json login needs body", func(s *Spec) { s.Login = Login{Type: LoginJSON, Path: "/l"} }, "login.body", "needs a body"},
		{"login path", func(s *Spec) { s.Login.Path = "" }, "login.path", "required"},
		{"session kind", func(s *Spec) { s.Login.Session = "cookies" }, "login.session", `did you mean "cookie"?`},
		{"token without session token", func(s *Spec) { s.Login.Token = &Extract{JSON: "$.t"} }, "login.token", "only used with session: token"},
		{"session token without extract", func(s *Spec) { s.Login.Session = SessionToken }, "login.token", "needs a token extract"},
		{"bearer auth header shape", func(s *Spec) {
			s.Login = Login{Type: LoginBearer, AuthHeader: "Bearer {{token}}"}
			s.Users.List[0].Token, s.Users.List[1].Token = "t1", "t2"
		}, "login.auth_header", `must be "Name: value"`},
		{"basic login colon", func(s *Spec) { s.Login = Login{Type: LoginBasic}; s.Users.List[0].Login = "a:b" }, "users.list[0].login", "HTTP Basic"},
		{"extract var name", func(s *Spec) { s.Requests[0].Extract = []Extract{{Var: "a b", JSON: "$.x"}} }, "requests[0].extract[0].var", "not a variable name"},
		{"extract without var", func(s *Spec) { s.Requests[0].Extract = []Extract{{JSON: "$.x"}} }, "requests[0].extract[0].var", "required"},
		{"extract header name", func(s *Spec) { s.Requests[0].Extract = []Extract{{Var: "v", Header: "X Y"}} }, "requests[0].extract[0].header", "not a valid header name"},
		{"extract clashes with user var", func(s *Spec) {
			s.Users.List[0].Vars = map[string]string{"id": "1"}
			s.Users.List[1].Vars = map[string]string{"id": "2"}
			s.Requests[0].Extract = []Extract{{Var: "id", JSON: "$.id"}}
		}, "requests[0].extract[0].var", "already a user variable"},
		{"token var in request", func(s *Spec) { s.Requests[0].Extract = []Extract{{Var: "token", JSON: "$.t"}} }, "requests[0].extract[0].var", "built-in"},
		{"user var builtin", func(s *Spec) { s.Users.List[0].Vars = map[string]string{"login": "x"} }, "users.list[0].vars.login", "built-in"},
		{"extra user var", func(s *Spec) { s.Users.List[1].Vars = map[string]string{"extra": "x"} }, "users.list[1].vars.extra", "does not define"},
		{"empty marker", func(s *Spec) { s.Users.List[1].Markers = []string{"ok", " "} }, "users.list[1].markers[1]", "must not be empty"},
		{"empty login", func(s *Spec) { s.Users.List[1].Login = "" }, "users.list[1].login", "required"},
		{"request name", func(s *Spec) { s.Requests[0].Name = "" }, "requests[0].name", "required"},
		{"request name spaces", func(s *Spec) { s.Requests[0].Name = "my inbox" }, "requests[0].name", "spaces"},
		{"path with space", func(s *Spec) { s.Requests[0].Path = "/a b" }, "requests[0].path", "percent-encode"},
		{"header name", func(s *Spec) { s.Requests[0].Headers = map[string]string{"Bad Name": "v"} }, "requests[0].headers.Bad Name", "not a valid header name"},
		{"header value newline", func(s *Spec) { s.Requests[0].Headers = map[string]string{"X": "a\r\nB: c"} }, "requests[0].headers.X", "line breaks"},
		{"body template", func(s *Spec) { s.Requests[0].Body = "{{ }}" }, "requests[0].body", "empty variable name"},
		{"login form template", func(s *Spec) { s.Login.Form["x"] = "{{msg}}" }, "login.form.x", `unknown variable "msg"`},
		{"max body", func(s *Spec) { s.Limits.MaxBody = -1 }, "limits.max_body", "more than zero"},
		{"pattern count", func(s *Spec) {
			s.Users = Users{Pattern: &Pattern{Count: maxUsers + 1, Login: "u{{n}}"}}
		}, "users.pattern.count", "between 2 and"},
		{"pattern one user", func(s *Spec) { s.Users = Users{Pattern: &Pattern{Count: 1, Login: "u{{n}}"}} }, "users.pattern", "found 1 user;"},
		{"base url fragment", func(s *Spec) { s.BaseURL = "http://h/#x" }, "base_url", "query or fragment"},
		{"base url host", func(s *Spec) { s.BaseURL = "http:///x" }, "base_url", "no host"},
		{"password used but missing", func(s *Spec) { s.Users.List[1].Password = "" }, "login.form.p", "users.list[1] has no password"},
		{"email used but missing", func(s *Spec) { s.Requests[0].Path = "/u/{{email}}" }, "requests[0].path", "users.list[0] has no email"},
		{"token without a token source", func(s *Spec) { s.Requests[0].Headers = map[string]string{"X": "{{token}}"} }, "requests[0].headers.X", "provides no token"},
		{"login type none with form", func(s *Spec) { s.Login.Type = LoginNone }, "login.path", "not used"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := codeSpec()
			c.edit(s)
			err := s.Validate()
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, c.field, se.Field)
			assert.Contains(t, se.Msg, c.msg)
		})
	}
}

func TestSessionTokenCustomVar(t *testing.T) {
	s := codeSpec()
	s.Login = Login{Type: LoginJSON, Path: "/l", Body: `{"u":"{{login}}"}`, Session: SessionToken,
		Token: &Extract{Var: "jwt", JSON: "$.jwt"}, AuthHeader: "X-Auth: {{ jwt }}"}
	s.Requests[0].Headers = map[string]string{"X-Echo": "{{jwt}}"}
	require.NoError(t, s.Validate())
}

func TestAliasesAndMerge(t *testing.T) {
	s, err := Parse("a.yaml", []byte(`
base_url: http://127.0.0.1:1
users:
  list:
    - &u {login: a, password: same}
    - {<<: *u, login: b}
login: {type: basic}
requests:
  - &r {name: r, path: /r, weight: 2}
  - {<<: *r, name: s}
`))
	require.NoError(t, err)
	assert.Equal(t, "same", s.Resolved[1].Password)
	assert.Equal(t, "b", s.Resolved[1].Login)
	assert.Equal(t, 2, s.Request("s").Weight)
	assert.Equal(t, "/r", s.Request("s").Path)
}

func TestScalarsKeepTheirSpelling(t *testing.T) {
	s, err := Parse("a.yaml", []byte(`
base_url: http://127.0.0.1:1
users:
  list:
    - {login: 007, password: 1e3}
    - {login: true, password: x}
login: {type: basic}
requests: [{name: r, path: /r}]
`))
	require.NoError(t, err)
	assert.Equal(t, "007", s.Resolved[0].Login)
	assert.Equal(t, "1e3", s.Resolved[0].Password)
	assert.Equal(t, "true", s.Resolved[1].Login)
}
