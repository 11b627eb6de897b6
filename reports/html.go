package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

//go:embed templates/report.html
var htmlSource string

// htmlTemplate is parsed once; html/template escapes every value from the
// stream for the context it lands in, SVG attributes included, so evidence
// copied from a hostile response cannot run in the reader's browser.
var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// maxHTMLGroups is how many distinct leaks the HTML report details; a page
// is read by people, and the JSON report carries the rest.
const maxHTMLGroups = 200

// openHTMLGroups are shown open; the rest are folded.
const openHTMLGroups = 10

// Chart geometry, in SVG user units.
const (
	chartWidth  = 900
	chartLeft   = 56
	chartRight  = 12
	barsHeight  = 90
	leaksTop    = 112
	leaksHeight = 40
	spreadTall  = 120
)

type htmlPage struct {
	Title, Word, Sentence, Class string
	Env                          []htmlField
	Problems                     []string
	Exposed                      []string
	Matrix                       *htmlMatrix
	Timeline                     *htmlTimeline
	Spreads                      []htmlHistogram
	Groups                       []htmlGroup
	MoreGroups                   int
	Found, Distinct              int
	Commands                     *Commands
	Reproduction                 *reproView
}

type htmlField struct{ Name, Value, Title string }

type htmlMatrix struct {
	Viewers []string
	Rows    []htmlRow
	Legend  []string
	Note    string
}

type htmlRow struct {
	Owner string
	Cells []htmlCell
}

type htmlCell struct {
	Text, Title string
	Hit         bool
}

type htmlTimeline struct {
	Width, Height int
	Left, Right   int
	BarsBottom    int
	LeaksTop      int
	LeaksBottom   int
	Bars          []htmlRect
	Leaks         []htmlRect
	Marks         []htmlMark
	Ticks         []htmlTick
	MaxBursts     int
	MaxFindings   int
	BinWidth      string
}

type htmlRect struct {
	X, Y, W, H float64
	Title      string
}

type htmlMark struct {
	X, Y  float64
	Title string
	Ref   string
}

type htmlTick struct {
	X     float64
	Label string
}

type htmlHistogram struct {
	ID, Name      string
	Width, Height int
	Bars          []htmlRect
	Ticks         []htmlTick
	Summary       string
	Base          int
}

type htmlGroup struct {
	N                               int
	ID, Title, Request, Where, Mark string
	Evidence                        string
	Count                           int
	// Folded leaks past the first few are closed until clicked, so the
	// page stays readable when a run finds dozens.
	Folded bool
}

// HTML renders the summary as one self-contained page: verdict, the
// environment the run tested, the exposure matrix, a timeline of bursts and
// findings and the spread distribution as inline SVG, and every distinct
// leak with its redacted evidence. It loads nothing from the network and
// runs no script, so it can be archived as evidence and opened anywhere.
func HTML(w io.Writer, s Summary) error {
	word, sentence := headline(s)
	p := htmlPage{
		Word: word, Sentence: sentence, Class: map[harness.Verdict]string{harness.Leak: "leak", harness.Isolated: "isolated"}[s.Verdict],
		Problems: s.Problems, Exposed: exposureSentences(s), Found: s.Found, Distinct: len(s.Groups) + s.GroupsDropped,
	}
	if p.Class == "" {
		p.Class = "inconclusive"
	}
	spec := "crosstalk"
	if s.Header != nil {
		spec = clean(orDefault(s.Header.Spec, spec))
	}
	p.Title = "crosstalk " + word + ": " + spec
	p.Env = htmlEnv(s)
	p.Matrix = htmlMatrixOf(s)
	p.Timeline = htmlTimelineOf(s)
	if h := htmlHistogramOf("skew-chart", "Release skew", s.SkewHistogram, s.Bursts, s.ReleaseSkewP50, s.ReleaseSkewP90); h != nil {
		p.Spreads = append(p.Spreads, *h)
	}
	if h := htmlHistogramOf("arrival-chart", "Arrival spread at the target", s.SpreadHistogram, s.ArrivalBursts, s.ArrivalSpreadP50, s.ArrivalSpreadP90); h != nil {
		p.Spreads = append(p.Spreads, *h)
	}
	shown := s.Groups[:min(len(s.Groups), maxHTMLGroups)]
	for i, g := range shown {
		f := g.First
		p.Groups = append(p.Groups, htmlGroup{
			N: i + 1, ID: "finding-" + strconv.Itoa(i+1), Title: groupTitle(g), Request: requestText(f), Where: whereText(f),
			Mark: markerText(f), Evidence: clean(f.Excerpt), Count: g.Count, Folded: i >= openHTMLGroups,
		})
	}
	p.MoreGroups = len(s.Groups) - len(shown) + s.GroupsDropped
	if s.Verdict == harness.Leak {
		c := commandsFor(s)
		p.Commands = &c
	}
	if p.Reproduction = reproductionOf(s); p.Reproduction != nil && p.Commands != nil {
		// The stream is fuzz's or replay's: the plan is already minimal,
		// and its replay command is shown with it.
		p.Commands.Shrink = ""
	}
	return htmlTemplate.Execute(w, p)
}

func htmlEnv(s Summary) []htmlField {
	var env []htmlField
	add := func(name, value string) { env = append(env, htmlField{Name: name, Value: value}) }
	h, o := s.Header, s.Outcome
	if h == nil {
		add("stream", "no header record: what was tested is not known")
	} else {
		add("crosstalk version", clean(orDefault(h.Version, "(not recorded)")))
		add("target", clean(orDefault(h.BaseURL, "(not recorded)")))
		spec := clean(orDefault(h.Spec, "(unnamed)"))
		if h.SpecFile != "" {
			spec += " (" + clean(h.SpecFile) + ")"
		}
		add("spec", spec)
		add("spec hash", clean(orDefault(h.SpecHash, "(not recorded)")))
		if !h.Started.IsZero() {
			add("started", h.Started.UTC().Format(time.RFC3339Nano))
			if o != nil && len(s.Headers) <= 1 {
				add("ended", h.Started.Add(o.Elapsed).UTC().Format(time.RFC3339Nano))
			}
		}
		load := fmt.Sprintf("%d %s", len(h.Users), plural(len(h.Users), "user", "users"))
		if h.BurstSize > 0 {
			load += fmt.Sprintf(", bursts of %d", h.BurstSize)
		}
		var budget []string
		if h.Duration > 0 {
			budget = append(budget, humanDuration(h.Duration))
		}
		if h.MaxRequests > 0 {
			budget = append(budget, fmt.Sprintf("%d requests", h.MaxRequests))
		}
		if len(budget) > 0 {
			load += ", budget " + budget[0]
			if len(budget) > 1 {
				load += " or " + budget[1]
			}
		}
		add("load asked", load)
		sync := clean(orDefault(h.Sync, "(not recorded)"))
		if h.SyncReason != "" {
			sync += ": " + clean(h.SyncReason)
		}
		add("sync", sync)
	}
	if len(s.Headers) > 1 {
		add("merged", fmt.Sprintf("%d streams; the fields above are the first one's", len(s.Headers)))
	}
	if o != nil {
		ran := fmt.Sprintf("%d %s, %d %s, %d %s in %s",
			max(s.Bursts, o.Bursts), plural(max(s.Bursts, o.Bursts), "burst", "bursts"),
			o.Requests, plural(o.Requests, "request", "requests"), o.Errors, plural(o.Errors, "error", "errors"), humanDuration(o.Elapsed))
		if o.Elapsed > 0 {
			ran += fmt.Sprintf(" (%.0f requests/s)", float64(o.Requests)/o.Elapsed.Seconds())
		}
		if o.CutShort {
			ran += "; cut short before its budget was spent"
		}
		add("load ran", ran)
		if n := len(o.LoginFailures); n > 0 {
			lf := clean(o.LoginFailures[0])
			if n > 1 {
				lf += fmt.Sprintf(" (and %d more)", n-1)
			}
			add("login failures", lf)
		}
	} else {
		add("load ran", fmt.Sprintf("%d %s so far; the stream has no verdict record", s.Bursts, plural(s.Bursts, "burst", "bursts")))
	}
	if s.Bursts > 0 {
		t := fmt.Sprintf("release skew p50 %s, p90 %s", micros(s.ReleaseSkewP50), micros(s.ReleaseSkewP90))
		if s.Header != nil && s.Header.Sync == "h2" {
			t += " (h2: one write releases the whole burst)"
		}
		if s.ArrivalBursts > 0 {
			t += fmt.Sprintf("; arrival spread p50 %s, p90 %s", micros(s.ArrivalSpreadP50), micros(s.ArrivalSpreadP90))
		}
		add("burst timing", t)
	}
	return env
}

func htmlMatrixOf(s Summary) *htmlMatrix {
	if len(s.Exposure) == 0 {
		return nil
	}
	m := buildMatrix(s)
	hm := &htmlMatrix{}
	for _, v := range m.viewers {
		hm.Viewers = append(hm.Viewers, clean(v))
	}
	counts := map[[2]string]int{}
	for _, e := range s.Exposure {
		counts[[2]string{e.Owner, e.Viewer}] = e.Findings
	}
	for _, o := range m.owners {
		row := htmlRow{Owner: clean(o)}
		for _, v := range m.viewers {
			c := htmlCell{Text: m.cell(o, v)}
			if n := counts[[2]string{o, v}]; n > 0 {
				c.Hit = true
				c.Title = fmt.Sprintf("%s saw %s's data %d %s", clean(v), clean(o), n, plural(n, "time", "times"))
			}
			row.Cells = append(row.Cells, c)
		}
		hm.Rows = append(hm.Rows, row)
	}
	for _, k := range s.Kinds {
		hm.Legend = append(hm.Legend, m.letters[k.Data]+" = "+kindName(k.Data))
	}
	hm.Legend = append(hm.Legend, ". = nothing seen")
	if m.hiddenOwners > 0 || m.hiddenViewers > 0 {
		hm.Note = fmt.Sprintf("Showing %d of %d owners and %d of %d viewers, those with the most exposure.",
			len(m.owners), len(s.Owners), len(m.viewers), len(s.Viewers))
	}
	return hm
}

func htmlTimelineOf(s Summary) *htmlTimeline {
	tl := s.Timeline
	if len(tl.Bins) == 0 || tl.Width <= 0 {
		return nil
	}
	t := &htmlTimeline{Width: chartWidth, Height: leaksTop + leaksHeight + 24, Left: chartLeft, Right: chartWidth - chartRight,
		BarsBottom: barsHeight, LeaksTop: leaksTop, LeaksBottom: leaksTop + leaksHeight, BinWidth: humanDuration(tl.Width)}
	for _, b := range tl.Bins {
		t.MaxBursts = max(t.MaxBursts, b.Bursts)
		t.MaxFindings = max(t.MaxFindings, b.Findings)
	}
	span := time.Duration(len(tl.Bins)) * tl.Width
	plot := float64(t.Right - t.Left)
	binW := plot / float64(len(tl.Bins))
	xOf := func(d time.Duration) float64 { return float64(t.Left) + plot*float64(d)/float64(span) }
	for i, b := range tl.Bins {
		from := time.Duration(i) * tl.Width
		label := fmt.Sprintf("%s–%s: %d %s, %d %s, %d %s", humanDuration(from), humanDuration(from+tl.Width),
			b.Bursts, plural(b.Bursts, "burst", "bursts"), b.Errors, plural(b.Errors, "error", "errors"), b.Findings, plural(b.Findings, "finding", "findings"))
		if b.Bursts > 0 && t.MaxBursts > 0 {
			h := float64(barsHeight-8) * float64(b.Bursts) / float64(t.MaxBursts)
			t.Bars = append(t.Bars, htmlRect{X: round1(xOf(from)), Y: round1(float64(barsHeight) - h), W: round1(max(binW-1, 1)), H: round1(h), Title: label})
		}
		if b.Findings > 0 && t.MaxFindings > 0 {
			h := float64(leaksHeight) * float64(b.Findings) / float64(t.MaxFindings)
			t.Leaks = append(t.Leaks, htmlRect{X: round1(xOf(from)), Y: round1(float64(leaksTop+leaksHeight) - h), W: round1(max(binW-1, 1)), H: round1(h), Title: label})
		}
	}
	for i, g := range s.Groups[:min(len(s.Groups), maxHTMLGroups)] {
		at := g.First.Sent
		if at.IsZero() {
			at = g.First.Done
		}
		if at.IsZero() {
			continue
		}
		off := min(max(at.Sub(tl.Start), 0), span)
		t.Marks = append(t.Marks, htmlMark{X: round1(xOf(off)), Y: float64(leaksTop - 6), Title: fmt.Sprintf("%d. %s (at %s)", i+1, groupTitle(g), humanDuration(off)), Ref: "#finding-" + strconv.Itoa(i+1)})
	}
	for i := 0; i <= 4; i++ {
		d := span * time.Duration(i) / 4
		t.Ticks = append(t.Ticks, htmlTick{X: round1(xOf(d)), Label: humanDuration(d)})
	}
	return t
}

func htmlHistogramOf(id, name string, buckets []Bucket, n int, p50, p90 time.Duration) *htmlHistogram {
	if len(buckets) == 0 {
		return nil
	}
	h := &htmlHistogram{ID: id, Name: name, Width: chartWidth / 2, Height: spreadTall + 30, Base: spreadTall,
		Summary: fmt.Sprintf("%d %s: p50 %s, p90 %s", n, plural(n, "burst", "bursts"), micros(p50), micros(p90))}
	most := 0
	for _, b := range buckets {
		most = max(most, b.Count)
	}
	plot := float64(h.Width - chartLeft - chartRight)
	w := plot / float64(len(buckets))
	for i, b := range buckets {
		x := float64(chartLeft) + w*float64(i)
		bh := float64(spreadTall-10) * float64(b.Count) / float64(max(most, 1))
		h.Bars = append(h.Bars, htmlRect{X: round1(x), Y: round1(float64(spreadTall) - bh), W: round1(max(w-2, 1)), H: round1(bh),
			Title: fmt.Sprintf("%s to %s: %d %s", micros(b.Low), micros(b.High), b.Count, plural(b.Count, "burst", "bursts"))})
		step := max(1, (len(buckets)+5)/6)
		if i%step == 0 {
			h.Ticks = append(h.Ticks, htmlTick{X: round1(x), Label: micros(b.Low)})
		}
	}
	return h
}

func round1(x float64) float64 {
	return float64(int64(x*10+0.5)) / 10
}
