package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and must
// return either a spec or an *Error.
func FuzzParse(f *testing.F) {
	for _, g := range []string{"testdata/good/*", "testdata/bad/*"} {
		files, err := filepath.Glob(g)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("base_url: http://127.0.0.1:1\nusers: {pattern: {count: 2, login: \"u{{n}}\"}}\nlogin: {type: none}\nrequests: [{name: a, path: /}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("users: {list: [&u {login: a}, *u, {<<: [*u, *u]}]}"))
	f.Add([]byte("{\"limits\": {\"timeout\": \"-1h\", \"max_error_rate\": .nan}}"))
	f.Add([]byte("--- !!map\n? [a]\n: b\n"))
	f.Add([]byte("a: [[[{b: '[[[', c: \"{{\\\"\"}]]] # [[[\n- - - x\n"))
	f.Add([]byte("name: 'it''s [ok]'\nusers:\n  - - [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if s != nil {
				t.Fatal("both a spec and an error")
			}
			_ = err.Error()
			return
		}
		if s == nil {
			t.Fatal("neither a spec nor an error")
		}
		if len(s.Resolved) < 2 || len(s.Requests) == 0 {
			t.Fatalf("accepted an invalid spec: %d users, %d requests", len(s.Resolved), len(s.Requests))
		}
		// A valid spec stays valid: Validate is idempotent.
		if err := s.Validate(); err != nil {
			t.Fatalf("revalidation failed: %v", err)
		}
	})
}
