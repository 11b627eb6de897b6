package harness_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filePairs type-checks the package in dir (test files left out) and
// returns every pair of its files that use each other's names. A file uses a
// name of another when an identifier in it resolves, through go/types, to
// an object of the package declared in that other file: a function, type,
// variable or constant, and also a method or a struct field. The pairs are
// sorted, each as "a.go↔b.go".
func filePairs(t *testing.T, dir string) []string {
	t.Helper()
	uses := map[[2]string]bool{}
	for _, e := range fileEdges(t, dir) {
		uses[e] = true
	}
	var pairs []string
	for k := range uses {
		if k[0] < k[1] && uses[[2]string{k[1], k[0]}] {
			pairs = append(pairs, k[0]+"↔"+k[1])
		}
	}
	sort.Strings(pairs)
	return pairs
}

// fileEdges lists, sorted, every (a, b) such that file a uses a name
// declared in file b, as filePairs counts them.
func fileEdges(t *testing.T, dir string) [][2]string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
		require.NoError(t, err)
		files = append(files, f)
	}
	require.NotEmpty(t, files)
	exports := exportData(t, dir)
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		p, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(p)
	})}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	pkg, err := conf.Check(files[0].Name.Name, fset, files, info)
	require.NoError(t, err)

	uses := map[[2]string]bool{}
	note := func(at token.Pos, obj types.Object) {
		if obj == nil || obj.Pkg() != pkg || !obj.Pos().IsValid() {
			return
		}
		from := filepath.Base(fset.Position(at).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from != to {
			uses[[2]string{from, to}] = true
		}
	}
	for id, obj := range info.Uses {
		note(id.Pos(), obj)
	}
	for sel, s := range info.Selections {
		// Promoted fields and methods: the selector names the object
		// itself, which Uses already holds; embedded steps are the
		// declarations passed through.
		note(sel.Pos(), s.Obj())
	}
	var edges [][2]string
	for k := range uses {
		edges = append(edges, k)
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i][0] != edges[j][0] {
			return edges[i][0] < edges[j][0]
		}
		return edges[i][1] < edges[j][1]
	})
	return edges
}

// exportData maps every package the package in dir imports, directly or
// not, to its compiled export data, which go list builds or finds in the
// build cache.
func exportData(t *testing.T, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}", ".")
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err)
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, export, ok := strings.Cut(sc.Text(), " "); ok && export != "" {
			m[path] = export
		}
	}
	return m
}

// Each file of harness/ is one stage of the pipeline, and stages only call
// downstream: no two files use each other's names. A pair that does is two
// files that can only be read together, which is what the layout is for
// avoiding. The package doc's map names the files.
func TestNoTwoFilesUseEachOthersNames(t *testing.T) {
	pairs := filePairs(t, ".")
	require.Empty(t, pairs, "files of harness/ that use each other's names: %d pairs", len(pairs))
	// Nor do longer rings: the files can be read in one order.
	assert.Empty(t, fileCycle(fileEdges(t, ".")), "files of harness/ that use each other's names in a ring")
}

// fileCycle returns one ring of files that use each other's names, a → b →
// … → a, or nil when there is none.
func fileCycle(edges [][2]string) []string {
	next := map[string][]string{}
	for _, e := range edges {
		next[e[0]] = append(next[e[0]], e[1])
	}
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var path []string
	var ring []string
	var visit func(string) bool
	visit = func(f string) bool {
		state[f] = open
		path = append(path, f)
		for _, g := range next[f] {
			switch state[g] {
			case open:
				i := slices.Index(path, g)
				ring = append(slices.Clone(path[i:]), g)
				return true
			case unseen:
				if visit(g) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		state[f] = done
		return false
	}
	files := slices.Sorted(maps.Keys(next))
	for _, f := range files {
		if state[f] == unseen && visit(f) {
			return ring
		}
	}
	return nil
}
