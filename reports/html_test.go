package reports

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHTMLSelfContained: the page loads nothing and runs nothing, whatever
// the stream holds, so it opens offline and evidence cannot execute.
func TestHTMLSelfContained(t *testing.T) {
	fetch := regexp.MustCompile(`(?i)<(script|link|img|iframe|object|embed)\b|\bsrc\s*=|url\(|@import`)
	for name, s := range schemaCases(t) {
		page := render(t, HTML, s)
		assert.NotRegexp(t, fetch, page, name)
		assert.NotContains(t, page, "<script>alert", name)
		assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>"), name)
	}
	leak := render(t, HTML, schemaCases(t)["leak"])
	for _, id := range []string{`id="verdict"`, `id="environment"`, `id="matrix"`, `id="timeline"`, `id="skew-chart"`, `class="evidence"`, `id="rerun"`} {
		assert.Contains(t, leak, id)
	}
	assert.Contains(t, leak, "v0.9.0", "the environment names the crosstalk version")
	assert.Contains(t, leak, "sha256:", "and the spec hash")
}
