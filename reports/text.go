package reports

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crosstalk/crosstalk/harness"
)

// Caps keep a report readable when a run finds thousands of leaks; the JSON
// report carries everything for whoever needs the rest.
const (
	maxGroups        = 20
	maxColumns       = 20
	maxRows          = 50
	maxLoginFailures = 10
	maxExcerptRunes  = 240
	// Viewer names longer than this turn matrix columns into numbers with a
	// key, since twenty e-mail addresses side by side do not fit a terminal.
	maxColumnLabel = 10
)

// Text renders the summary for a terminal: the verdict, who was exposed,
// the exposure matrix, the findings and the burst timing, in that order.
func Text(w io.Writer, s Summary) error {
	var b strings.Builder
	textVerdict(&b, s)
	textCounts(&b, s)
	textMatrix(&b, s)
	textFindings(&b, s)
	textReproduction(&b, s)
	textTiming(&b, s)
	textCoverage(&b, s)
	_, err := io.WriteString(w, b.String())
	return err
}

// headline returns the verdict word and the sentence after it, shared by
// every report so they all state the result the same way.
func headline(s Summary) (word, sentence string) {
	figures := " (" + runFigures(s) + ")"
	switch s.Verdict {
	case harness.Leak:
		if n := len(s.Viewers); n > 0 {
			return "LEAK", fmt.Sprintf("%d %s", n, plural(n, "user saw another user's data", "users saw other users' data")) + figures
		}
		return "LEAK", clean(orDefault(s.Reason, "a response carried another user's data")) + figures
	case harness.Isolated:
		return "ISOLATED", "no user saw another user's data" + figures
	default:
		return "INCONCLUSIVE", clean(orDefault(s.Reason, "the run cannot vouch for isolation")) + figures
	}
}

func runFigures(s Summary) string {
	n := s.findingCount()
	bursts := s.Bursts
	if s.Outcome == nil {
		return fmt.Sprintf("%d %s in %d %s so far", n, plural(n, "finding", "findings"), bursts, plural(bursts, "burst", "bursts"))
	}
	o := s.Outcome
	// Calibration bursts have no burst records, but their findings count.
	bursts = max(bursts, o.Bursts)
	inBursts := fmt.Sprintf("%d %s", bursts, plural(bursts, "burst", "bursts"))
	if c := o.CalibrationBursts; c > 0 {
		inBursts = fmt.Sprintf("%d + %d calibration %s", bursts, c, plural(bursts+c, "burst", "bursts"))
	}
	figures := fmt.Sprintf("%d %s in %s, %d %s, %d %s, %s",
		n, plural(n, "finding", "findings"), inBursts,
		o.Requests, plural(o.Requests, "request", "requests"),
		o.Errors, plural(o.Errors, "error", "errors"),
		humanDuration(o.Elapsed))
	if c := o.Coverage; c != nil && c.Responses > 0 {
		figures += ", coverage " + coveragePercent(c.Share())
	}
	return figures
}

// coveragePercent shows a share as a percentage that never rounds up to
// 100%: "100%" is only ever every response.
func coveragePercent(x float64) string {
	p := 100 * x
	if p > 99 && p < 100 {
		return strconv.FormatFloat(math.Floor(p*10)/10, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(math.Floor(p), 'f', 0, 64) + "%"
}

// coverageLines describe the coverage request by request, shared by the
// text, JUnit and markdown reports: the baseline's users with their own data
// in it, then the responses of bursts that carried it.
func coverageLines(c *harness.Coverage) (rows [][]string) {
	for _, r := range c.Requests {
		base := fmt.Sprintf("%d of %d users", r.BaselineSeen, r.BaselineUsers)
		if r.Blind {
			base += " (blind)"
		}
		rows = append(rows, []string{clean(r.Request), base, fmt.Sprintf("%d of %d", r.Seen, r.Responses),
			strconv.Itoa(r.Lost), strconv.Itoa(r.Cut)})
	}
	return rows
}

func textCoverage(b *strings.Builder, s Summary) {
	c := s.Coverage
	if c == nil {
		return
	}
	fmt.Fprintf(b, "\nCoverage (responses that carried their viewer's own data)\n")
	if c.Responses > 0 || s.Outcome != nil && s.Outcome.Coverage != nil {
		fmt.Fprintf(b, "  %s of %d responses (%d seen, %d lost, %d cut at max_body); Isolated needs more than %s\n",
			coveragePercent(c.Share()), c.Responses, c.Seen, c.Lost, c.Cut, coveragePercent(c.Min))
	}
	rows := append([][]string{{"request", "baseline", "seen", "lost", "cut"}}, coverageLines(c)...)
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			line.WriteString("  " + padRight(cell, widths[i]))
		}
		fmt.Fprintf(b, "%s\n", strings.TrimRight(line.String(), " "))
	}
	if blind := c.Blind(); len(blind) > 0 {
		fmt.Fprintf(b, "  blind: %s: no user's own data showed in the baseline, so a leak there could not be told from a page of nobody's data\n",
			clean(strings.Join(blind, ", ")))
	}
	if o := s.Outcome; o != nil {
		for _, u := range o.Unlearned {
			fmt.Fprintf(b, "  unlearned %s's marker %q: shared data, %s for %s\n", clean(u.Owner), clean(u.Value), clean(u.Why), clean(u.Viewer))
		}
	}
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func textVerdict(b *strings.Builder, s Summary) {
	word, sentence := headline(s)
	fmt.Fprintf(b, "%s: %s\n", word, sentence)
	if h := s.Header; h != nil {
		fmt.Fprintf(b, "  target: %s\n", clean(orDefault(h.BaseURL, "(not recorded)")))
		spec := clean(orDefault(h.Spec, "(unnamed)"))
		if h.SpecFile != "" {
			spec += " (" + clean(h.SpecFile) + ")"
		}
		fmt.Fprintf(b, "  spec:   %s\n", spec)
		sync := clean(orDefault(h.Sync, "(not recorded)"))
		sync += fmt.Sprintf(", %d %s", len(h.Users), plural(len(h.Users), "user", "users"))
		if h.BurstSize > 0 {
			sync += fmt.Sprintf(", bursts of %d", h.BurstSize)
		}
		fmt.Fprintf(b, "  sync:   %s\n", sync)
		if h.SyncReason != "" {
			fmt.Fprintf(b, "          %s\n", clean(h.SyncReason))
		}
		if h.Sessions != "" {
			fmt.Fprintf(b, "  sessions: %s\n", clean(sessionsPhrase(h.Sessions, h.Reset)))
		}
	}
	if o := s.Outcome; o != nil {
		if p := persistencePhrase(o); p != "" {
			fmt.Fprintf(b, "  leak:   %s\n", clean(p))
		}
		if o.CutShort {
			b.WriteString("  cut short: the run stopped before its budget was spent\n")
		}
		if n := len(o.LoginFailures); n > 0 {
			fmt.Fprintf(b, "  login failures (%d):\n", n)
			for _, f := range o.LoginFailures[:min(n, maxLoginFailures)] {
				fmt.Fprintf(b, "    - %s\n", clean(f))
			}
			if n > maxLoginFailures {
				fmt.Fprintf(b, "    ... and %d more\n", n-maxLoginFailures)
			}
		}
	}
	if h := s.Header; h != nil {
		for _, w := range h.Warnings {
			fmt.Fprintf(b, "  warning: %s\n", clean(w))
		}
	}
	if o := s.Outcome; o != nil && o.Sequential > 0 {
		fmt.Fprintf(b, "  sequential baseline: %d %s without any concurrency (burst 0)\n", o.Sequential, plural(o.Sequential, "leak", "leaks"))
	}
	for _, p := range s.Problems {
		fmt.Fprintf(b, "  warning: %s\n", p)
	}
}

// exposureSentences states the counts the way an incident report does: how
// many people had each kind of data exposed, then how many saw what was not
// theirs.
func exposureSentences(s Summary) []string {
	if s.Found == 0 {
		return nil
	}
	var out []string
	for _, k := range s.Kinds {
		out = append(out, fmt.Sprintf("%d %s %s.", k.Owners, plural(k.Owners, "user", "users"), kindPhrase(k.Data)))
	}
	if len(s.Kinds) > 1 {
		n := len(s.Owners)
		out = append(out, fmt.Sprintf("%d %s in all had data seen by others.", n, plural(n, "user", "users")))
	}
	n := len(s.Viewers)
	out = append(out, fmt.Sprintf("%d %s data that was not theirs.", n, plural(n, "user saw", "users saw")))
	return out
}

func kindPhrase(data string) string {
	switch data {
	case "mail":
		return "had mail content seen by others"
	case "attachment":
		return "had attachments downloaded by others"
	case "profile":
		return "had their profile seen by others"
	case "":
		return "had data seen by others"
	default:
		return "had " + clean(data) + " data seen by others"
	}
}

func textCounts(b *strings.Builder, s Summary) {
	lines := exposureSentences(s)
	if len(lines) == 0 {
		return
	}
	b.WriteString("\nWho was exposed\n")
	for _, l := range lines {
		fmt.Fprintf(b, "  %s\n", l)
	}
}

// kindLetters gives each data kind a one-letter code for the matrix: the
// first letter of its name, or the next unused letter of it when two kinds
// share an initial, so codes stay unique and still hint at the name.
func kindLetters(kinds []KindExposure) map[string]string {
	used := map[rune]bool{'.': true}
	letters := make(map[string]string, len(kinds))
	for _, k := range kinds {
		var pick rune
		for _, r := range strings.ToLower(k.Data) {
			if (unicode.IsLetter(r) || unicode.IsDigit(r)) && r < utf8.RuneSelf && !used[r] {
				pick = r
				break
			}
		}
		if pick == 0 {
			for r := 'a'; r <= 'z'; r++ {
				if !used[r] {
					pick = r
					break
				}
			}
		}
		if pick == 0 {
			letters[k.Data] = "?"
			continue
		}
		used[pick] = true
		letters[k.Data] = string(pick)
	}
	return letters
}

func kindName(data string) string {
	if data == "" {
		return "unnamed"
	}
	return clean(data)
}

// matrix is the exposure matrix cut down to what fits on screen.
type matrix struct {
	owners, viewers []string
	cells           map[[2]string]string // owner, viewer → kind letters
	letters         map[string]string
	hiddenOwners    int
	hiddenViewers   int
}

func buildMatrix(s Summary) matrix {
	m := matrix{cells: map[[2]string]string{}, letters: kindLetters(s.Kinds)}
	ownerReach := map[string]int{}
	viewerReach := map[string]int{}
	for _, e := range s.Exposure {
		var cell strings.Builder
		for _, d := range e.Data {
			cell.WriteString(m.letters[d])
		}
		m.cells[[2]string{e.Owner, e.Viewer}] = cell.String()
		ownerReach[e.Owner]++
		viewerReach[e.Viewer]++
	}
	m.owners = mostExposed(s.Owners, ownerReach, maxRows)
	m.viewers = mostExposed(s.Viewers, viewerReach, maxColumns)
	m.hiddenOwners = len(s.Owners) - len(m.owners)
	m.hiddenViewers = len(s.Viewers) - len(m.viewers)
	return m
}

// mostExposed keeps the limit users with the most counterparts, so a capped
// matrix still shows where the leak is widest, then restores natural order.
func mostExposed(users []string, reach map[string]int, limit int) []string {
	if len(users) <= limit {
		return users
	}
	ranked := slices.Clone(users)
	slices.SortStableFunc(ranked, func(a, b string) int { return cmp.Compare(reach[b], reach[a]) })
	ranked = ranked[:limit]
	slices.SortFunc(ranked, compareNatural)
	return ranked
}

func (m matrix) cell(owner, viewer string) string {
	if c := m.cells[[2]string{owner, viewer}]; c != "" {
		return c
	}
	return "."
}

// columnLabels are the viewer names when they are short, or 1..N when they
// are not (numbered is true and the caller prints a key).
func (m matrix) columnLabels() (labels []string, numbered bool) {
	for _, v := range m.viewers {
		if utf8.RuneCountInString(clean(v)) > maxColumnLabel {
			numbered = true
		}
	}
	for i, v := range m.viewers {
		if numbered {
			labels = append(labels, strconv.Itoa(i+1))
		} else {
			labels = append(labels, clean(v))
		}
	}
	return labels, numbered
}

func textMatrix(b *strings.Builder, s Summary) {
	if len(s.Exposure) == 0 {
		return
	}
	m := buildMatrix(s)
	labels, numbered := m.columnLabels()
	b.WriteString("\nExposure matrix (rows: whose data was seen; columns: who saw it)\n")

	rowWidth := len("owner")
	rowNames := make([]string, len(m.owners))
	for i, o := range m.owners {
		rowNames[i] = truncate(clean(o), 32)
		rowWidth = max(rowWidth, utf8.RuneCountInString(rowNames[i]))
	}
	widths := make([]int, len(labels))
	for j, v := range m.viewers {
		widths[j] = utf8.RuneCountInString(labels[j])
		for _, o := range m.owners {
			widths[j] = max(widths[j], len(m.cell(o, v)))
		}
	}
	var row strings.Builder
	emit := func() {
		fmt.Fprintf(b, "  %s\n", strings.TrimRight(row.String(), " "))
		row.Reset()
	}
	row.WriteString(padRight("", rowWidth))
	for j, l := range labels {
		row.WriteString("  " + padRight(l, widths[j]))
	}
	emit()
	for i, o := range m.owners {
		row.WriteString(padRight(rowNames[i], rowWidth))
		for j, v := range m.viewers {
			row.WriteString("  " + padRight(m.cell(o, v), widths[j]))
		}
		emit()
	}
	var legend []string
	for _, k := range s.Kinds {
		legend = append(legend, m.letters[k.Data]+" = "+kindName(k.Data))
	}
	legend = append(legend, ". = nothing seen")
	fmt.Fprintf(b, "  %s\n", strings.Join(legend, ", "))
	if numbered {
		for j, v := range m.viewers {
			fmt.Fprintf(b, "  %*d = %s\n", len(strconv.Itoa(len(m.viewers))), j+1, clean(v))
		}
	}
	if m.hiddenOwners > 0 || m.hiddenViewers > 0 {
		fmt.Fprintf(b, "  (showing %d of %d owners and %d of %d viewers, those with the most exposure)\n",
			len(m.owners), len(s.Owners), len(m.viewers), len(s.Viewers))
	}
}

func textFindings(b *strings.Builder, s Summary) {
	if len(s.Groups) == 0 {
		return
	}
	n := s.Found
	fmt.Fprintf(b, "\nFindings (%d %s, %d distinct)\n", n, plural(n, "finding", "findings"), len(s.Groups))
	shown := s.Groups[:min(len(s.Groups), maxGroups)]
	width := len(strconv.Itoa(len(shown)))
	indent := strings.Repeat(" ", width+4)
	for i, g := range shown {
		f := g.First
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "  %*d. %s\n", width, i+1, groupTitle(g))
		fmt.Fprintf(b, "%srequest:  %s\n", indent, requestText(f))
		fmt.Fprintf(b, "%sfound in: %s\n", indent, whereText(f))
		fmt.Fprintf(b, "%smarker:   %s\n", indent, markerText(f))
		fmt.Fprintf(b, "%sevidence: %s\n", indent, clean(truncate(f.Excerpt, maxExcerptRunes)))
		if f.Confirmed != "" {
			fmt.Fprintf(b, "%sconfirmed: %s\n", indent, clean(f.Confirmed))
		}
	}
	if rest := len(s.Groups) - len(shown); rest > 0 {
		fmt.Fprintf(b, "\n  ... and %d more\n", rest)
	}
}

func textReproduction(b *strings.Builder, s Summary) {
	v := reproductionOf(s)
	if v == nil {
		return
	}
	fmt.Fprintf(b, "\n%s: %s\n", v.Title, v.Shape)
	for _, bu := range v.Bursts {
		fmt.Fprintf(b, "  burst %d: %s\n", bu.N, strings.Join(bu.Steps, ", "))
	}
	fmt.Fprintf(b, "  %s\n", v.Rate)
	if v.Kind != "" {
		fmt.Fprintf(b, "  the leak is %s\n", v.Kind)
	}
	if v.Command != "" {
		fmt.Fprintf(b, "  replay it: %s\n", v.Command)
	}
}

func groupTitle(g FindingGroup) string {
	f := g.First
	when := fmt.Sprintf("once, in burst %d step %d", f.Burst, f.Step)
	if g.Count > 1 {
		when = fmt.Sprintf("%d times, first in burst %d step %d", g.Count, f.Burst, f.Step)
	}
	return fmt.Sprintf("%s saw %s's %s, %s", clean(f.Viewer), clean(f.Owner), kindNoun(f.Data), when)
}

func kindNoun(data string) string {
	if data == "" {
		return "data"
	}
	return clean(data)
}

func requestText(f harness.Finding) string {
	t := clean(orDefault(f.Request, "(unnamed)")) + ": " + clean(f.Method) + " " + clean(f.Path)
	if f.Conn != "" {
		t += " (conn " + clean(f.Conn) + ")"
	}
	return t
}

func whereText(f harness.Finding) string {
	t := clean(orDefault(f.Where, "(not recorded)"))
	if f.Encoding != "" {
		t += ", through " + clean(f.Encoding)
	}
	return t
}

func markerText(f harness.Finding) string {
	t := clean(orDefault(string(f.Kind), "marker")) + ` "` + clean(truncate(f.Marker, maxExcerptRunes)) + `"`
	if f.Label != "" {
		t += " (" + clean(f.Label) + ")"
	}
	return t
}

func textTiming(b *strings.Builder, s Summary) {
	if s.Bursts == 0 {
		b.WriteString("\nBurst timing: no burst records\n")
		return
	}
	fmt.Fprintf(b, "\nBurst timing (%d %s)\n", s.Bursts, plural(s.Bursts, "burst", "bursts"))
	fmt.Fprintf(b, "  release skew:   p50 %s, p90 %s", micros(s.ReleaseSkewP50), micros(s.ReleaseSkewP90))
	if s.Header != nil && s.Header.Sync == "h2" {
		// Zero by construction, which reads like a measuring fault without
		// this: the spread that matters is the arrival spread.
		b.WriteString(" (h2: one write releases the whole burst)")
	}
	b.WriteString("\n")
	if s.ArrivalBursts > 0 {
		fmt.Fprintf(b, "  arrival spread: p50 %s, p90 %s (%d %s reported arrival times)\n",
			micros(s.ArrivalSpreadP50), micros(s.ArrivalSpreadP90), s.ArrivalBursts, plural(s.ArrivalBursts, "burst", "bursts"))
	}
}

// sessionsPhrase says how executions were kept apart: the header's
// sessions choice and reset.
func sessionsPhrase(sessions, reset string) string {
	p := sessions + " (every execution logs its users in again)"
	if sessions == "keep" {
		p = sessions + " (the setup's sessions serve every execution)"
	}
	if reset != "" {
		p += ", reset before each: " + reset
	}
	return p
}

// persistencePhrase says what kind of leak the outcome's control found,
// and "" when no control ran.
func persistencePhrase(o *harness.Outcome) string {
	if c := o.Control; o.Persistence == "" && c != nil && c.Lost > 0 {
		return fmt.Sprintf("of unknown kind: the control after the first finding could not see its users' own data (%d of %d reads did not carry it, though their baselines had), so it cannot tell a transient leak from a persistent one", c.Lost, c.Requests)
	}
	if o.Persistence == "" {
		return ""
	}
	if o.Persistence == harness.Persistent {
		p := "persistent: a control (each user's reads, one at a time) leaked too"
		if c := o.Control; c != nil && c.Finding != nil {
			p += fmt.Sprintf(" after burst %d: %s saw %s's %s through %s %s", c.AfterBurst, c.Finding.Viewer, c.Finding.Owner,
				c.Finding.Data, c.Finding.Method, c.Finding.Path)
		}
		return p + "; every later request of the affected users leaks until the target's state is reset"
	}
	return "transient: a control (each user's reads, one at a time) after the first finding was clean"
}
