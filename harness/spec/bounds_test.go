package spec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tinySpec = "base_url: http://127.0.0.1:9000\nusers: {list: [{login: a}, {login: b}]}\nlogin: {type: none}\nrequests: [{name: x, path: /x}]\n"

func writeSpec(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// Inputs that cost the YAML parser seconds and gigabytes are refused before
// it runs, with the file and line.
func TestHugeAndDeepSpecsAreRefusedBeforeParsing(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"nested flow lists": {strings.Repeat("[", 100000), "nested more than 64 levels"},
		"nested flow maps":  {"a: " + strings.Repeat("{b: ", 60000), "nested more than 64 levels"},
		"nested blocks":     {blockNest(100), "nested more than 64 levels"},
		"nested dashes":     {"users:\n" + strings.Repeat("- ", 100) + "x\n", "nested more than 64 levels"},
		"too large":         {tinySpec + "# " + strings.Repeat("x", MaxSpecBytes) + "\n", "larger than 1024 KiB"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := writeSpec(t, c.body)
			start := time.Now()
			_, err := Load(p)
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Contains(t, se.Msg, c.want)
			assert.Equal(t, p, se.File)
			if name != "too large" {
				assert.Positive(t, se.Line, "the error names the line")
			}
			assert.Less(t, time.Since(start), 5*time.Second)
		})
	}
	// Brackets inside quoted strings and comments are not nesting.
	deepText := tinySpec + "name: '" + strings.Repeat("[", 200) + "'\n# " + strings.Repeat("{", 200) + "\n"
	_, err := Load(writeSpec(t, deepText))
	require.NoError(t, err)
}

func blockNest(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func TestLoadContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := LoadContext(ctx, writeSpec(t, tinySpec))
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	s, err := LoadContext(context.Background(), writeSpec(t, tinySpec))
	require.NoError(t, err)
	assert.Len(t, s.Resolved, 2)
}

// Spreadsheets write a UTF-8 byte order mark first.
func TestCSVWithByteOrderMark(t *testing.T) {
	testEnv(t)
	dir := t.TempDir()
	for _, f := range []string{"csv.yaml", "users.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata/good", f))
		require.NoError(t, err)
		if f == "users.csv" {
			b = append([]byte("\uFEFF"), b...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o600))
	}
	s, err := Load(filepath.Join(dir, "csv.yaml"))
	require.NoError(t, err)
	require.Len(t, s.Resolved, 3)
	assert.Equal(t, "alice", s.Resolved[0].Login)

	// Without the comment line, the BOM sits before the first column name.
	b, err := os.ReadFile(filepath.Join("testdata/good", "users.csv"))
	require.NoError(t, err)
	rows := strings.SplitN(string(b), "\n", 2)[1]
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), append([]byte("\uFEFF"), rows...), 0o600))
	s, err = Load(filepath.Join(dir, "csv.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "alice", s.Resolved[0].Login)
}

func TestBaseURLWithPasswordIsRefusedAndNotShown(t *testing.T) {
	_, err := Parse("s.yaml", []byte(strings.Replace(tinySpec, "http://127.0.0.1:9000", "http://ops:hunter2@127.0.0.1:9000", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "base_url")
	assert.NotContains(t, err.Error(), "hunter2")
	_, err = Parse("s.yaml", []byte(strings.Replace(tinySpec, "http://127.0.0.1:9000", "http://ops:hunter2@127.0.0.1:bad", 1)))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestNameWithLineBreakIsRefused(t *testing.T) {
	_, err := Parse("s.yaml", []byte(tinySpec+"name: \"web\\nmail\"\n"))
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "name", se.Field)
}

func TestRebase(t *testing.T) {
	s, err := Parse("s.yaml", []byte(strings.Replace(tinySpec, "login: {type: none}", "login: {type: form, path: /login, form: {u: \"{{login}}\"}}", 1)))
	require.NoError(t, err)
	require.NoError(t, s.Rebase("https://ops:hunter2@staging.example.test/app/?env=blue&x=1"))
	assert.Equal(t, "https://staging.example.test/app", s.BaseURL)
	assert.Equal(t, "/login?env=blue&x=1", s.Login.Path)
	assert.Equal(t, "/x?env=blue&x=1", s.Requests[0].Path)
	for _, bad := range []string{"ftp://h/", "http://ops:hunter2@h:bad", "/relative", "http://h/#frag", "http://h/?a={{login}}"} {
		err := s.Rebase(bad)
		require.Error(t, err, bad)
		assert.NotContains(t, err.Error(), "hunter2")
		assert.Contains(t, err.Error(), "-url")
	}
	assert.Equal(t, "/x?y=1&env=blue", addQuery("/x?y=1", "env=blue"))
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:p@h:1/x?q=a@b": "http://h:1/x?q=a@b",
		"http://tok@h":           "http://h",
		"http://h/a@b":           "http://h/a@b",
		"not a url":              "not a url",
		"http://u:p@h:bad":       "http://h:bad",
	} {
		assert.Equal(t, want, RedactURL(in), in)
	}
}
