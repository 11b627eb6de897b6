package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVars(t *testing.T) {
	cases := map[string][]string{
		"":                                  nil,
		"/plain":                            nil,
		"/u/{{login}}":                      {"login"},
		"/u/{{ login }}/m/{{id}}/{{login}}": {"login", "id"},
		"{{a}}{{b-c}}{{_d1}}":               {"a", "b-c", "_d1"},
		"{{a}} then {{unterminated":         {"a"},
		`{"json": {"nested": 1}}`:           nil,
	}
	for in, want := range cases {
		assert.Equal(t, want, Vars(in), in)
	}
}

func TestExpand(t *testing.T) {
	vals := map[string]string{"login": "alice", "id": "42", "empty": ""}
	lookup := func(name string) (string, bool) {
		v, ok := vals[name]
		return v, ok
	}
	cases := map[string]string{
		"":                              "",
		"/inbox":                        "/inbox",
		"/u/{{login}}/m/{{ id }}":       "/u/alice/m/42",
		"{{login}}{{login}}":            "alicealice",
		"x{{empty}}y":                   "xy",
		"{{id}}}":                       "42}",
		`{"u":"{{login}}","n":{"a":1}}`: `{"u":"alice","n":{"a":1}}`,
	}
	for in, want := range cases {
		got, err := Expand(in, lookup)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}

	_, err := Expand("/m/{{id}}/{{msg_id}}/{{other}}", lookup)
	var missing *MissingVarError
	require.ErrorAs(t, err, &missing)
	assert.Equal(t, "msg_id", missing.Name, "names the first missing variable")
	assert.Contains(t, err.Error(), `"msg_id"`)

	for _, bad := range []string{"{{login", "{{}}", "{{ }}", "{{a b}}", "{{1x}}", "{{a.b}}"} {
		_, err := Expand(bad, lookup)
		assert.Error(t, err, bad)
		assert.NotErrorAs(t, err, &missing, bad)
	}
}

// Expand inserts values verbatim: a value that looks like a template is not
// expanded again, so a hostile extracted value cannot pull in another
// user's variables.
func TestExpandDoesNotRecurse(t *testing.T) {
	got, err := Expand("{{a}}", func(name string) (string, bool) {
		if name == "a" {
			return "{{b}}", true
		}
		return "B", true
	})
	require.NoError(t, err)
	assert.Equal(t, "{{b}}", got)
}

func TestSuggest(t *testing.T) {
	known := []string{"users", "base_url", "login", "requests", "password"}
	assert.Equal(t, "users", suggest("usres", known))
	assert.Equal(t, "base_url", suggest("baseurl", known))
	assert.Equal(t, "password", suggest("pasword", known))
	assert.Equal(t, "requests", suggest("Requests", known))
	assert.Empty(t, suggest("colour", known))
	assert.Empty(t, suggest("x", nil))
}
