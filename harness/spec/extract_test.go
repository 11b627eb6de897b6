package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inbox = `{
  "user": {"id": 7, "name": "alice", "tags": ["a", "b"], "odd key": "x", "it's": "q"},
  "messages": [
    {"id": 101, "subject": "hi", "read": true, "size": 1.5},
    {"id": 1e3, "subject": "re: hi", "read": false, "size": 7.0},
    {"id": "m-3", "subject": null, "read": false, "size": -0.0}
  ],
  "total": 12345678901234567890,
  "empty": []
}`

func TestExtractJSON(t *testing.T) {
	cases := []struct {
		path string
		want []string
	}{
		{"$.user.id", []string{"7"}},
		{"$.user.name", []string{"alice"}},
		{"$.user.tags[*]", []string{"a", "b"}},
		{"$.user.tags[1]", []string{"b"}},
		{"$.user.tags[2]", nil},
		{"$['user']['odd key']", []string{"x"}},
		{`$["user"]["odd key"]`, []string{"x"}},
		{`$.user['it\'s']`, []string{"q"}},
		{"$.messages[*].id", []string{"101", "1000", "m-3"}},
		{"$.messages[0].read", []string{"true"}},
		{"$.messages[*].subject", []string{"hi", "re: hi"}},
		{"$.messages[*].size", []string{"1.5", "7", "0"}},
		{"$.total", []string{"12345678901234567890"}},
		{"$.user.*", []string{"7", "q", "alice", "x"}}, // sorted keys: id, it's, name, odd key
		{"$.user", nil},
		{"$.empty[*]", nil},
		{"$.missing.deeper", nil},
		{"$.user.id.x", nil},
		{"$.messages.id", nil},
		{"$", nil},
	}
	for _, c := range cases {
		got, err := ExtractJSON(c.path, []byte(inbox))
		require.NoError(t, err, c.path)
		assert.Equal(t, c.want, got, c.path)
	}
}

func TestExtractJSONScalarRoot(t *testing.T) {
	got, err := ExtractJSON("$", []byte(`"tok"`))
	require.NoError(t, err)
	assert.Equal(t, []string{"tok"}, got)
}

func TestExtractJSONErrors(t *testing.T) {
	for _, path := range []string{
		"", "user.id", "$.", "$..id", "$[", "$[-1]", "$[1:2]", "$[?(@.a)]", "$['x", "$[0", "$ .a",
		"$[99999999999999999999]", "$.a[", "$[*", `$["x\`,
	} {
		_, err := ExtractJSON(path, []byte(inbox))
		assert.Error(t, err, "path %q", path)
		_, perr := parseJSONPath(path)
		assert.Error(t, perr, "path %q", path)
	}
	for _, body := range []string{"", "{", "<html>", `{"a":1} trailing`, `{"a":1}{"b":2}`} {
		_, err := ExtractJSON("$.a", []byte(body))
		assert.Error(t, err, "body %q", body)
	}
}

func TestRenderNumber(t *testing.T) {
	cases := map[string]string{
		"42": "42", "-3": "-3", "1e3": "1000", "7.0": "7", "-0.0": "0", "2.5": "2.5",
		"1.5e-7": "1.5e-7", "1e300": "1e300", "12345678901234567890": "12345678901234567890",
	}
	for in, want := range cases {
		assert.Equal(t, want, renderNumber(in), in)
	}
}

func TestExtractRegexp(t *testing.T) {
	body := []byte(`<a href="/m/1">one</a> <a href="/m/22">two</a>`)
	got, err := ExtractRegexp(`href="/m/([0-9]+)"`, body)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "22"}, got)

	got, err = ExtractRegexp(`/m/[0-9]+`, body)
	require.NoError(t, err)
	assert.Equal(t, []string{"/m/1", "/m/22"}, got, "no group: the whole match")

	got, err = ExtractRegexp(`nomatch`, body)
	require.NoError(t, err)
	assert.Empty(t, got)

	_, err = ExtractRegexp(`(`, body)
	assert.Error(t, err)
}

func BenchmarkExtractJSON(b *testing.B) {
	body := []byte(inbox)
	for b.Loop() {
		if _, err := ExtractJSON("$.messages[*].id", body); err != nil {
			b.Fatal(err)
		}
	}
}
