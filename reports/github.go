package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/crosstalk/crosstalk/harness"
)

// maxAnnotations is GitHub's limit of error annotations per step; more are
// dropped by GitHub without a word, so the last one says how many are left.
const maxAnnotations = 10

// GitHub renders the summary for GitHub Actions. It writes up to ten
// "::error" workflow commands (one per distinct leak, or one for an
// inconclusive run) to w, and a Markdown summary: appended to the file
// $GITHUB_STEP_SUMMARY names when GITHUB_ACTIONS is "true", written to w
// after the annotations otherwise, so a local run shows what CI would get.
func GitHub(w io.Writer, s Summary) error {
	return githubReport(w, s, os.Getenv)
}

func githubReport(w io.Writer, s Summary, getenv func(string) string) error {
	var b strings.Builder
	for _, line := range annotations(s) {
		b.WriteString(line + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	var md bytes.Buffer
	if err := Markdown(&md, s); err != nil {
		return err
	}
	path := getenv("GITHUB_STEP_SUMMARY")
	if getenv("GITHUB_ACTIONS") != "true" || path == "" {
		_, err := w.Write(md.Bytes())
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("step summary: %w", err)
	}
	_, err = f.Write(md.Bytes())
	return errors.Join(err, f.Close())
}

// annotations are the workflow command lines, at most maxAnnotations.
func annotations(s Summary) []string {
	var file string
	if h := s.Header; h != nil && h.SpecFile != "" && !filepath.IsAbs(h.SpecFile) {
		// A relative spec path is a file of the checked-out repository,
		// so the annotation can point at it in the pull request.
		file = filepath.ToSlash(h.SpecFile)
	}
	cmd := func(kind, title, msg string) string {
		props := "title=" + escapeProperty(title)
		if file != "" {
			props = "file=" + escapeProperty(file) + "," + props
		}
		return "::" + kind + " " + props + "::" + escapeData(msg)
	}
	word, sentence := headline(s)
	switch s.Verdict {
	case harness.Isolated:
		return []string{cmd("notice", "crosstalk: "+word, sentence)}
	case harness.Leak:
	default:
		return []string{cmd("error", "crosstalk: "+word, sentence)}
	}
	var out []string
	rerun := commandsFor(s).Rerun
	for i, g := range s.Groups {
		if len(out) == maxAnnotations-1 && len(s.Groups) > maxAnnotations {
			rest := len(s.Groups) - i + s.GroupsDropped
			out = append(out, cmd("error", "crosstalk: "+word, fmt.Sprintf("%s\n... and %d more distinct leaks; the step summary lists them", sentence, rest)))
			break
		}
		f := g.First
		msg := fmt.Sprintf("%s\nrequest: %s\nfound in: %s\nmarker: %s\nevidence: %s\nreproduce: %s",
			groupTitle(g), requestText(f), whereText(f), markerText(f), clean(truncate(f.Excerpt, maxExcerptRunes)), rerun)
		out = append(out, cmd("error", fmt.Sprintf("crosstalk: %s saw %s's %s", clean(f.Viewer), clean(f.Owner), kindNoun(f.Data)), msg))
	}
	if len(out) == 0 {
		out = append(out, cmd("error", "crosstalk: "+word, sentence))
	}
	return out
}

// escapeData escapes a workflow command's message the way the runner
// unescapes it: "%" first, then CR and LF, so a newline in evidence cannot
// end the command and start another.
func escapeData(s string) string {
	s = strings.ReplaceAll(s, "%", "%25")
	s = strings.ReplaceAll(s, "\r", "%0D")
	return strings.ReplaceAll(s, "\n", "%0A")
}

// escapeProperty escapes a property value, where ":" and "," also end it.
func escapeProperty(s string) string {
	s = escapeData(s)
	s = strings.ReplaceAll(s, ":", "%3A")
	return strings.ReplaceAll(s, ",", "%2C")
}
