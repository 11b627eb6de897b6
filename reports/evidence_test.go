package reports

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvidenceIsOwnerOnlyAndReplacesSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep me"), 0o644))
	for _, write := range []func(string) error{
		func(p string) error { return WriteEvidence(p, []byte("evidence")) },
		func(p string) error {
			f, err := CreateEvidence(p)
			if err != nil {
				return err
			}
			_, err = f.WriteString("evidence")
			return errorsJoin(err, f.Close())
		},
	} {
		p := filepath.Join(dir, "out")
		_ = os.Remove(p)
		require.NoError(t, os.Symlink(victim, p))
		require.NoError(t, write(p))
		st, err := os.Lstat(p)
		require.NoError(t, err)
		assert.True(t, st.Mode().IsRegular())
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, "evidence", string(b))
		b, err = os.ReadFile(victim)
		require.NoError(t, err)
		assert.Equal(t, "keep me", string(b))
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary files left behind")
	require.Error(t, WriteEvidence(dir, []byte("x")), "a directory is not replaced")
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// A stream is read back only with the values a run can write.
func TestDecodeRejectsImpossibleValues(t *testing.T) {
	for name, line := range map[string]string{
		"verdict":         `{"v":1,"type":"verdict","verdict":{"verdict":"pwned","requests":1}}`,
		"negative count":  `{"v":1,"type":"verdict","verdict":{"verdict":"leak","requests":-5}}`,
		"negative burst":  `{"v":1,"type":"burst","burst":{"burst":1,"findings":-1}}`,
		"negative header": `{"v":1,"type":"header","header":{"spec":"s","burst_size":-2}}`,
	} {
		_, err := ReadAll(strings.NewReader(line + "\n"))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "line 1", name)
	}
	recs, err := ReadAll(strings.NewReader(`{"v":1,"type":"verdict","verdict":{"verdict":"isolated","requests":3}}` + "\n"))
	require.NoError(t, err)
	assert.Len(t, recs, 1)
}
