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

// The stream of fuzz or replay ends with a reproduction: the page shows
// the minimal plan, burst by burst, its rate and the command that replays
// it, as the text and markdown reports do.
func TestReportsShowTheReproduction(t *testing.T) {
	s := schemaCases(t)["fuzzed"]
	page := render(t, HTML, s)
	for _, want := range []string{`id="reproduction"`, `id="plan"`, `<td>carol profile; erin profile</td>`, `id="replay"`,
		"crosstalk replay -plan testdata/crosstalk/webmail-lastlogin-63.json", "reproduced in 2 of 5 runs (40%, 95% interval 12%–77%)", "shrunk from 37 steps"} {
		assert.Contains(t, page, want)
	}
	for name, r := range map[string]Reporter{"text": Text, "markdown": Markdown} {
		out := render(t, r, s)
		assert.Contains(t, out, "Minimal reproduction", name)
		assert.Contains(t, out, "carol profile", name)
		assert.Contains(t, out, "crosstalk replay -plan", name)
	}
	assert.Contains(t, render(t, JSON, s), `"reproduction": {`)
	assert.NotContains(t, render(t, HTML, schemaCases(t)["leak"]), `id="reproduction"`, "a run's stream has none")
}
