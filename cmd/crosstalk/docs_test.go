package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// The README's spec example must stay a spec the loader accepts.
func TestReadmeSpecExampleLoads(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)## A spec.*?```yaml\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README has a yaml block under '## A spec'")
	for n := 1; n <= 8; n++ {
		t.Setenv("WEBMAIL_PW_"+string(rune('0'+n)), "pw-user"+string(rune('0'+n)))
	}
	s, err := spec.Parse("README.md", m[1])
	require.NoError(t, err)
	require.Len(t, s.Resolved, 8)
	require.Equal(t, "pw-user3", s.Resolved[2].Password)
}
