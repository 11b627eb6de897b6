package reports

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGitHubAnnotationsCappedAndEscaped(t *testing.T) {
	s := schemaCases(t)["hostile"]
	require.Greater(t, len(s.Groups), maxAnnotations)
	path := filepath.Join(t.TempDir(), "summary.md")
	require.NoError(t, os.WriteFile(path, []byte("earlier step\n"), 0o600))
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": path}
	var out strings.Builder
	require.NoError(t, githubReport(&out, s, func(k string) string { return env[k] }))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, maxAnnotations, "GitHub shows at most 10 error annotations per step, and nothing else goes to stdout in Actions")
	// A command is "::error props::message"; after escaping, no property
	// holds ":" or ",", and no line holds a raw CR or another command.
	cmd := regexp.MustCompile(`^::error file=[^:,]*,title=[^:,]*::[^\r]*$`)
	for _, l := range lines {
		assert.Regexp(t, cmd, l)
		msg := l[strings.Index(l[2:], "::")+4:]
		assert.NotContains(t, msg, "\n")
		assert.NotContains(t, msg, "%0A::error", "a newline in evidence cannot start a second command")
	}
	assert.Contains(t, lines[maxAnnotations-1], "more distinct leaks", "the last annotation says how many were left out")
	assert.Contains(t, lines[0], "%250A", "a literal %0A in the data is escaped, not taken as a newline")

	md, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(md), "earlier step\n## 🔴 LEAK"), "the summary is appended, not overwritten")
}

func TestGitHubOutsideActions(t *testing.T) {
	s := schemaCases(t)["isolated"]
	var out strings.Builder
	require.NoError(t, githubReport(&out, s, func(string) string { return "" }))
	assert.True(t, strings.HasPrefix(out.String(), "::notice "), out.String())
	assert.Contains(t, out.String(), "## 🟢 ISOLATED", "without Actions the summary goes to stdout")
}

func TestEscapes(t *testing.T) {
	assert.Equal(t, "a%25b%0D%0Ac:d,e", escapeData("a%b\r\nc:d,e"))
	assert.Equal(t, "a%25b%0D%0Ac%3Ad%2Ce", escapeProperty("a%b\r\nc:d,e"))
}
