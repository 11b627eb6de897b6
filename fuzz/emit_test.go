package fuzz

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

// A target name with a line break (from a hand-edited plan file) stays
// inside the emitted test's comment instead of becoming code.
func TestEmitTestWithALineBreakInTheName(t *testing.T) {
	f := &File{Version: FileVersion, SpecName: "web\nfunc init() { panic(1) }\nmail", Sync: harness.SyncBarrier, Seed: 3,
		Plan: harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "a", Request: "r"}}}}}}
	src, err := EmitTest(f, EmitOptions{SpecPath: "spec.yaml"})
	require.NoError(t, err)
	file, err := parser.ParseFile(token.NewFileSet(), "x_test.go", src, parser.ParseComments)
	require.NoError(t, err, "%s", src)
	for _, d := range file.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			assert.NotEqual(t, "init", fd.Name.Name, "the name became code")
		}
	}
	assert.NotContains(t, string(src), "\nfunc init()", "the name became code:\n%s", src)
	assert.Contains(t, string(src), `"web\nfunc init() { panic(1) }\nmail"`)
}

func TestCheckTarget(t *testing.T) {
	f := &File{BaseURL: "http://127.0.0.2:8080"}
	err := f.CheckTarget("http://127.0.0.1:8080", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "http://127.0.0.2:8080")
	assert.Contains(t, err.Error(), "http://127.0.0.1:8080")
	assert.NoError(t, f.CheckTarget("http://127.0.0.1:8080", "http://127.0.0.1:9"), "-url decides")
	assert.NoError(t, f.CheckTarget("HTTP://127.0.0.2:8080/", ""), "the same place written differently")
	assert.NoError(t, (&File{}).CheckTarget("http://127.0.0.1:8080", ""), "a plan without a URL")
	assert.True(t, SameURL("http://h", "http://H:80/"))
	assert.True(t, SameURL("https://h:443/app", "https://h/app/"))
	assert.False(t, SameURL("http://h", "https://h"))
	assert.False(t, SameURL("http://h/a", "http://h/b"))
}

func TestPlanFileNeverCarriesAURLPassword(t *testing.T) {
	f := &File{Version: FileVersion, SpecName: "t", Sync: harness.SyncBarrier, BaseURL: "http://ops:hunter2@127.0.0.1:8080",
		Plan: harness.Plan{Bursts: []harness.Burst{{Steps: []harness.Step{{User: "a", Request: "r"}}}}}}
	b, err := f.Marshal()
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
	assert.Equal(t, "http://ops:hunter2@127.0.0.1:8080", f.BaseURL, "Marshal leaves the File as it was")
	g, err := ParseFile([]byte(`{"version":1,"target":"t","sync":"barrier","base_url":"http://ops:hunter2@127.0.0.1:8080","plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]}}`))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080", g.BaseURL)
}
