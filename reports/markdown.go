package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/crosstalk/crosstalk/harness"
)

// Markdown renders the summary as GitHub-flavoured Markdown, for
// $GITHUB_STEP_SUMMARY and pull-request comments. It holds the same sections
// as [Text], with tables in place of aligned columns.
func Markdown(w io.Writer, s Summary) error {
	var b strings.Builder
	mdVerdict(&b, s)
	mdCounts(&b, s)
	mdMatrix(&b, s)
	mdFindings(&b, s)
	mdReproduction(&b, s)
	mdTiming(&b, s)
	mdCoverage(&b, s)
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape neutralises the characters that would let text from the stream
// turn into markup: emphasis, links, raw HTML, code spans, math and table
// cell breaks. Text is cleaned of control characters first and kept on one
// line, because a newline would end a table row.
func mdEscape(s string) string {
	s = clean(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|~&$", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdCode shows a value in monospace. A <code> element is used instead of
// backticks because backslash escapes do not work inside code spans, and
// values may contain backticks.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "<code>" + mdEscape(s) + "</code>"
}

func mdVerdict(b *strings.Builder, s Summary) {
	word, sentence := headline(s)
	icon := map[harness.Verdict]string{harness.Leak: "🔴", harness.Isolated: "🟢"}[s.Verdict]
	if icon == "" {
		icon = "🟡"
	}
	fmt.Fprintf(b, "## %s %s: %s\n\n", icon, word, mdEscape(sentence))
	if h := s.Header; h != nil {
		b.WriteString("| | |\n|---|---|\n")
		fmt.Fprintf(b, "| target | %s |\n", mdCode(h.BaseURL))
		spec := mdEscape(orDefault(h.Spec, "(unnamed)"))
		if h.SpecFile != "" {
			spec += " (" + mdCode(h.SpecFile) + ")"
		}
		fmt.Fprintf(b, "| spec | %s |\n", spec)
		sync := mdEscape(orDefault(h.Sync, "(not recorded)")) + fmt.Sprintf(", %d %s", len(h.Users), plural(len(h.Users), "user", "users"))
		if h.BurstSize > 0 {
			sync += fmt.Sprintf(", bursts of %d", h.BurstSize)
		}
		fmt.Fprintf(b, "| sync | %s |\n", sync)
		if h.Sessions != "" {
			fmt.Fprintf(b, "| sessions | %s |\n", mdEscape(sessionsPhrase(h.Sessions, h.Reset)))
		}
		if o := s.Outcome; o != nil {
			if p := persistencePhrase(o); p != "" {
				fmt.Fprintf(b, "| leak | %s |\n", mdEscape(p))
			}
		}
		if o := s.Outcome; o != nil && o.CutShort {
			b.WriteString("| cut short | the run stopped before its budget was spent |\n")
		}
		b.WriteString("\n")
	}
	if o := s.Outcome; o != nil && len(o.LoginFailures) > 0 {
		fmt.Fprintf(b, "**Login failures (%d):**\n\n", len(o.LoginFailures))
		for _, f := range o.LoginFailures[:min(len(o.LoginFailures), maxLoginFailures)] {
			fmt.Fprintf(b, "- %s\n", mdEscape(f))
		}
		if n := len(o.LoginFailures) - maxLoginFailures; n > 0 {
			fmt.Fprintf(b, "- … and %d more\n", n)
		}
		b.WriteString("\n")
	}
	if h := s.Header; h != nil {
		for _, w := range h.Warnings {
			fmt.Fprintf(b, "> **Warning:** %s\n\n", mdEscape(w))
		}
	}
	for _, p := range s.Problems {
		fmt.Fprintf(b, "> **Warning:** %s\n\n", mdEscape(p))
	}
}

func mdCounts(b *strings.Builder, s Summary) {
	lines := exposureSentences(s)
	if len(lines) == 0 {
		return
	}
	b.WriteString("### Who was exposed\n\n")
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", mdEscape(l))
	}
	b.WriteString("\n")
}

func mdMatrix(b *strings.Builder, s Summary) {
	if len(s.Exposure) == 0 {
		return
	}
	m := buildMatrix(s)
	b.WriteString("### Exposure matrix\n\nRows: whose data was seen; columns: who saw it.\n\n")
	b.WriteString("| owner ↓ viewer → |")
	for _, v := range m.viewers {
		fmt.Fprintf(b, " %s |", mdEscape(v))
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat(":-:|", len(m.viewers)))
	b.WriteString("\n")
	for _, o := range m.owners {
		fmt.Fprintf(b, "| %s |", mdEscape(o))
		for _, v := range m.viewers {
			fmt.Fprintf(b, " %s |", mdEscape(m.cell(o, v)))
		}
		b.WriteString("\n")
	}
	var legend []string
	for _, k := range s.Kinds {
		legend = append(legend, "**"+m.letters[k.Data]+"** "+mdEscape(kindName(k.Data)))
	}
	legend = append(legend, "**.** nothing seen")
	fmt.Fprintf(b, "\n%s\n", strings.Join(legend, " · "))
	if m.hiddenOwners > 0 || m.hiddenViewers > 0 {
		fmt.Fprintf(b, "\nShowing %d of %d owners and %d of %d viewers, those with the most exposure.\n",
			len(m.owners), len(s.Owners), len(m.viewers), len(s.Viewers))
	}
	b.WriteString("\n")
}

func mdFindings(b *strings.Builder, s Summary) {
	if len(s.Groups) == 0 {
		return
	}
	n := s.Found
	fmt.Fprintf(b, "### Findings (%d %s, %d distinct)\n\n", n, plural(n, "finding", "findings"), len(s.Groups))
	b.WriteString("| # | viewer | owner | data | times | first seen | request | found in | marker | evidence |\n")
	b.WriteString("|--:|---|---|---|--:|---|---|---|---|---|\n")
	shown := s.Groups[:min(len(s.Groups), maxGroups)]
	for i, g := range shown {
		f := g.First
		req := mdEscape(orDefault(f.Request, "(unnamed)")) + " " + mdCode(f.Method+" "+f.Path)
		where := mdEscape(orDefault(f.Where, "(not recorded)"))
		if f.Encoding != "" {
			where += " via " + mdCode(f.Encoding)
		}
		marker := mdEscape(orDefault(string(f.Kind), "marker")) + " " + mdCode(truncate(f.Marker, maxExcerptRunes))
		if f.Label != "" {
			marker += " (" + mdEscape(f.Label) + ")"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %d | burst %d step %d | %s | %s | %s | %s |\n",
			i+1, mdEscape(f.Viewer), mdEscape(f.Owner), mdEscape(kindNoun(f.Data)), g.Count, f.Burst, f.Step,
			req, where, marker, mdCode(truncate(f.Excerpt, maxExcerptRunes)))
	}
	if rest := len(s.Groups) - len(shown); rest > 0 {
		fmt.Fprintf(b, "\n… and %d more\n", rest)
	}
	b.WriteString("\n")
}

func mdReproduction(b *strings.Builder, s Summary) {
	v := reproductionOf(s)
	if v == nil {
		return
	}
	fmt.Fprintf(b, "### %s\n\n%s; %s.", v.Title, mdEscape(v.Shape), mdEscape(v.Rate))
	if v.Kind != "" {
		fmt.Fprintf(b, " The leak is %s.", mdEscape(v.Kind))
	}
	b.WriteString("\n\n| burst | steps, released together |\n|--:|---|\n")
	for _, bu := range v.Bursts {
		cells := make([]string, len(bu.Steps))
		for j, st := range bu.Steps {
			cells[j] = mdEscape(st)
		}
		fmt.Fprintf(b, "| %d | %s |\n", bu.N, strings.Join(cells, "; "))
	}
	if v.Command != "" {
		// An indented code block: nothing in a command can close it.
		fmt.Fprintf(b, "\nReplay it:\n\n    %s\n", v.Command)
	}
	b.WriteString("\n")
}

func mdTiming(b *strings.Builder, s Summary) {
	b.WriteString("### Burst timing\n\n")
	if s.Bursts == 0 {
		b.WriteString("No burst records.\n")
		return
	}
	b.WriteString("| | bursts | p50 | p90 |\n|---|--:|--:|--:|\n")
	fmt.Fprintf(b, "| release skew | %d | %s | %s |\n", s.Bursts, micros(s.ReleaseSkewP50), micros(s.ReleaseSkewP90))
	if s.ArrivalBursts > 0 {
		fmt.Fprintf(b, "| arrival spread | %d | %s | %s |\n", s.ArrivalBursts, micros(s.ArrivalSpreadP50), micros(s.ArrivalSpreadP90))
	}
}

func mdCoverage(b *strings.Builder, s Summary) {
	c := s.Coverage
	if c == nil {
		return
	}
	b.WriteString("\n### Coverage\n\n")
	if c.Responses > 0 || s.Outcome != nil && s.Outcome.Coverage != nil {
		fmt.Fprintf(b, "%s of %d responses carried their viewer's own data (%d lost, %d cut at max\\_body); Isolated needs more than %s.\n\n",
			coveragePercent(c.Share()), c.Responses, c.Lost, c.Cut, coveragePercent(c.Min))
	}
	b.WriteString("| request | baseline | seen | lost | cut |\n|---|---|--:|--:|--:|\n")
	for _, r := range coverageLines(c) {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", mdEscape(r[0]), mdEscape(r[1]), r[2], r[3], r[4])
	}
	if blind := c.Blind(); len(blind) > 0 {
		fmt.Fprintf(b, "\n**Blind:** %s: no user's own data showed in the baseline, so a leak there could not be told from a page of nobody's data.\n",
			mdEscape(strings.Join(blind, ", ")))
	}
}
