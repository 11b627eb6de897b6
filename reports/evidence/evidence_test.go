package evidence

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvidenceIsOwnerOnlyAndReplacesSymlinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("keep me"), 0o644))
	for _, write := range []func(string) error{
		func(p string) error { return Write(p, []byte("evidence")) },
		func(p string) error {
			f, err := Create(p)
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
	require.Error(t, Write(dir, []byte("x")), "a directory is not replaced")
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
