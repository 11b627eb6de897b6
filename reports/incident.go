package reports

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness/incident"
)

// The incident report is rendered here, beside the run reports, so that
// every renderer of crosstalk (the HTML report too) can show it from the
// same [incident.Report].

// IncidentJSON writes the incident report as indented JSON, its pairs one
// at a time.
func IncidentJSON(w io.Writer, r *incident.Report) error {
	return r.WriteJSON(w)
}

// maxIncidentPairs bounds the pairs listed in markdown; the JSON and the
// per-user CSV have them all.
const maxIncidentPairs = 50

// IncidentMarkdown renders the incident report as GitHub-flavoured
// Markdown: the counts with what each rests on, the exposure matrix, the
// classification, the flags, the timeline beside 2008's, the evidence
// lines and the caveats.
func IncidentMarkdown(w io.Writer, r *incident.Report) error {
	var b strings.Builder
	in := r.Inputs
	b.WriteString("# Incident report\n\n")
	fmt.Fprintf(&b, "%s lines read from %d file(s), %s analysed, %s malformed; %d users, %d instances, clock resolution %s",
		groupThousands(in.Lines), len(in.Files), groupThousands(in.Parsed), groupThousands(in.Bad), in.Users, in.Instances, in.Resolution)
	if !in.First.IsZero() {
		fmt.Fprintf(&b, "; %s to %s", in.First.Format(time.RFC3339), in.Last.Format(time.RFC3339))
	}
	b.WriteString(".\n\n")
	if r.ModelText != "" {
		fmt.Fprintf(&b, "Leak model: %s.\n\n", mdEscape(r.ModelText))
	}

	b.WriteString("## Counts\n\n| statement | rests on |\n|---|---|\n")
	for _, s := range r.Statements {
		ev := string(s.Evidence)
		if s.Exact {
			ev = "direct evidence (" + ev + ")"
		}
		if ev == "direct evidence ()" {
			ev = "direct evidence"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(s.Text), mdEscape(ev))
	}

	b.WriteString("\n## Exposure matrix\n\n| data | owners (direct) | viewers (direct) | responses (direct) | owners (at most) | viewers (at most) |\n|---|---|---|---|---|---|\n")
	for _, k := range r.Matrix {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d |\n", mdEscape(k.Kind), k.DirectOwners, k.DirectViewers, k.DirectCount, k.BoundOwners, k.BoundViewers)
	}
	if r.Model != nil {
		fmt.Fprintf(&b, "\n%d viewer → owner pairs are possible under the model.\n", r.BoundPairs)
	}

	b.WriteString("\n## Classification\n\n")
	if !r.Window.From.IsZero() {
		fmt.Fprintf(&b, "Incident window %s to %s (%s).\n\n", r.Window.From.Format(time.RFC3339), r.Window.Until.Format(time.RFC3339), mdEscape(r.Window.Source))
	}
	b.WriteString("| category | users | meaning |\n|---|---|---|\n")
	for _, c := range []struct{ cat, meaning string }{
		{incident.CatOwner, "their data was served to another user (direct evidence)"},
		{incident.CatViewer, "they were served another's data; their own was not shown to anyone"},
		{incident.CatPossible, "the model allows that their data was seen; unproven"},
		{incident.CatUnaffected, "connected in the window, neither"},
		{incident.CatNotConnected, "no request in the window"},
	} {
		fmt.Fprintf(&b, "| %s | %d | %s |\n", c.cat, r.Categories[c.cat], c.meaning)
	}

	b.WriteString("\n## Flags\n\n")
	fmt.Fprintf(&b, "- sessions used from more than one client address: %d\n", len(r.TwoAddresses))
	for i, s := range r.TwoAddresses {
		if i == 10 {
			fmt.Fprintf(&b, "  - … and %d more\n", len(r.TwoAddresses)-10)
			break
		}
		fmt.Fprintf(&b, "  - %s (session %s): %s\n", mdEscape(s.User), mdEscape(s.Session), mdEscape(strings.Join(s.Addrs, ", ")))
	}
	fmt.Fprintf(&b, "- users who received another's data with no concurrent request to explain it (persistent): %d\n", len(r.Persistent))
	for i, u := range r.Persistent {
		if i == 10 {
			fmt.Fprintf(&b, "  - … and %d more\n", len(r.Persistent)-10)
			break
		}
		fmt.Fprintf(&b, "  - %s: %d of %d such responses\n", mdEscape(u.User), u.Unexplained, u.Viewed)
	}

	incidentTimeline(&b, r)

	fmt.Fprintf(&b, "\n## Direct evidence\n\n%d viewer → owner pairs, each with its first evidence line.\n\n", r.Direct.Len())
	if r.Direct.Len() > 0 {
		b.WriteString("| viewer | owner | data | responses | evidence | first line |\n|---|---|---|---|---|---|\n")
		for i := range r.Direct.Len() {
			p := r.Direct.At(i)
			if i == maxIncidentPairs {
				fmt.Fprintf(&b, "\n… and %d more pairs (see the JSON report).\n", r.Direct.Len()-maxIncidentPairs)
				break
			}
			refs := make([]string, len(p.Refs))
			for j, ref := range p.Refs {
				refs[j] = fmt.Sprintf("%s:%d", ref.File, ref.Line)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s |\n", mdEscape(p.Viewer), mdEscape(p.Owner), mdEscape(p.Kind), p.Count, p.Evidence, mdEscape(strings.Join(refs, " ")))
		}
	}
	if len(in.BadLines) > 0 {
		b.WriteString("\n## Malformed lines\n\n")
		for _, bl := range in.BadLines {
			fmt.Fprintf(&b, "- %s:%d: %s\n", mdEscape(bl.File), bl.Line, mdEscape(bl.Reason))
		}
		if int64(len(in.BadLines)) < in.Bad {
			fmt.Fprintf(&b, "- … %d in all\n", in.Bad)
		}
	}
	if t := r.Truth; t != nil {
		b.WriteString("\n## Against the ground truth\n\n")
		fmt.Fprintf(&b, "Direct evidence equals the truth: **%v** (%d pairs found, %d true; %d missing, %d extra, %d with other counts).\n\n",
			t.DirectEqual, t.DirectPairs, t.TruthPairs, t.MissingPairs, t.ExtraPairs, t.CountMismatch)
		fmt.Fprintf(&b, "The model alone allows every true pair: **%v** (%d true pairs outside it).\n\n", t.ModelCovers, t.PairsOutsideModel)
		b.WriteString("| data | true owners | direct | model alone | bound | slack | bound covers every true owner |\n|---|---|---|---|---|---|---|\n")
		for _, k := range t.Kinds {
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %+d | %v |\n", mdEscape(k.Kind), k.Truth, k.Direct, k.Model, k.Bound, k.Slack, k.Covered)
		}
	}
	if len(r.Caveats) > 0 {
		b.WriteString("\n## What this log cannot tell\n\n")
		for _, c := range r.Caveats {
			fmt.Fprintf(&b, "- %s\n", mdEscape(c))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxMinuteRows keeps the markdown timeline readable: beyond it only the
// minutes with leaks are listed.
const maxMinuteRows = 120

func incidentTimeline(b *strings.Builder, r *incident.Report) {
	t := r.Timeline
	fmt.Fprintf(b, "\n## Timeline\n\n| this log (%s) | | 2008 (local time) | |\n|---|---|---|---|\n", mdEscape(t.Location))
	n := max(len(t.Marks), len(t.Reference))
	for i := range n {
		var a1, a2, c1, c2 string
		if i < len(t.Marks) {
			a1, a2 = mdEscape(t.Marks[i].What), t.Marks[i].At.Format("15:04:05")
			if t.Marks[i].AfterDeploy != 0 {
				a2 += fmt.Sprintf(" (deploy %+v)", t.Marks[i].AfterDeploy.Round(time.Second))
			}
		}
		if i < len(t.Reference) {
			c1 = mdEscape(t.Reference[i].What)
			c2 = t.Reference[i].Clock + fmt.Sprintf(" (deploy +%v)", t.Reference[i].AfterDeploy)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", a1, a2, c1, c2)
	}
	if len(t.Minutes) == 0 {
		return
	}
	fmt.Fprintf(b, "\n| minute (%s) | requests | leaks (direct) | possible (bound) |\n|---|---|---|---|\n", mdEscape(t.Location))
	onlyLeaks := len(t.Minutes) > maxMinuteRows
	for _, m := range t.Minutes {
		if onlyLeaks && m.Direct == 0 && m.Bound == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %d | %d |\n", m.Minute.Format("2006-01-02 15:04"), groupThousands(m.Requests), m.Direct, m.Bound)
	}
	if onlyLeaks {
		b.WriteString("\nMinutes without leaks are left out; the JSON report has every minute.\n")
	}
}
