package incident

import (
	"time"
)

// Timeline is the incident by minute.
type Timeline struct {
	FirstLeak time.Time   `json:"first_leak,omitzero"`
	LastLeak  time.Time   `json:"last_leak,omitzero"`
	Minutes   []MinuteRow `json:"minutes"`
	Reference []Milestone `json:"reference_2008"`
	Marks     []Milestone `json:"marks"`
	Omitted   int         `json:"omitted_minutes,omitempty"`
	Location  string      `json:"location"`
	zone      *time.Location
}

// MinuteRow is one minute of the log.
type MinuteRow struct {
	Minute   time.Time `json:"minute"`
	Requests int64     `json:"requests"`
	Direct   int64     `json:"direct"`
	Bound    int64     `json:"bound"`
}

// Milestone is a moment of an incident.
type Milestone struct {
	What string    `json:"what"`
	At   time.Time `json:"at,omitzero"`
	// AfterDeploy is the time since the deploy, for the 2008 reference
	// where only the wall-clock times are published.
	AfterDeploy time.Duration `json:"after_deploy_ns"`
	Clock       string        `json:"clock,omitempty"`
}

// maxTimelineMinutes bounds the per-minute table of a report; a longer log
// keeps the minutes around the leaks.
const maxTimelineMinutes = 24 * 60

// Reference2008 is the published timeline of the July 2008 incident, in
// local time: the release, the first user report, the start of blocking and
// the end of it.
func Reference2008() []Milestone {
	return []Milestone{
		{What: "deploy of \"show my last login\"", AfterDeploy: 0, Clock: "15:10"},
		{What: "first user report", AfterDeploy: 15 * time.Minute, Clock: "15:25"},
		{What: "blocking starts", AfterDeploy: 45 * time.Minute, Clock: "15:55"},
		{What: "fully blocked", AfterDeploy: 60 * time.Minute, Clock: "16:10"},
	}
}

func buildTimeline(p *Partial, r *Report, firstLeak, lastLeak int64, loc *time.Location) Timeline {
	if loc == nil {
		loc = time.UTC
	}
	t := Timeline{Reference: Reference2008(), Location: loc.String(), zone: loc}
	if lastLeak >= firstLeak {
		t.FirstLeak = usTime(firstLeak * 60_000_000)
		t.LastLeak = usTime((lastLeak + 1) * 60_000_000)
	}
	var lo, hi int64 = 1 << 62, -1 << 62
	for m := range p.Minutes {
		lo, hi = min(lo, m), max(hi, m)
	}
	if hi < lo {
		return t
	}
	if hi-lo+1 > maxTimelineMinutes {
		if lastLeak >= firstLeak {
			lo = max(lo, firstLeak-60)
			hi = min(hi, max(lastLeak+60, lo+maxTimelineMinutes-1))
			hi = min(hi, lo+maxTimelineMinutes-1)
		} else {
			hi = lo + maxTimelineMinutes - 1
		}
	}
	total := 0
	for m := range p.Minutes {
		total++
		_ = m
	}
	for m := lo; m <= hi; m++ {
		row := MinuteRow{Minute: usTime(m * 60_000_000).In(loc)}
		if c := p.Minutes[m]; c != nil {
			row.Requests, row.Direct, row.Bound = c.Requests, c.Direct, c.Bound
		}
		t.Minutes = append(t.Minutes, row)
	}
	shown := 0
	for m := range p.Minutes {
		if m >= lo && m <= hi {
			shown++
		}
	}
	t.Omitted = total - shown
	if !r.Deploy.IsZero() {
		t.Marks = append(t.Marks, Milestone{What: "deploy (-deploy)", At: r.Deploy})
		for i := range t.Reference {
			ref := &t.Reference[i]
			ref.At = r.Deploy.Add(ref.AfterDeploy)
		}
	}
	if !t.FirstLeak.IsZero() {
		m := Milestone{What: "first leak (minute)", At: t.FirstLeak}
		if !r.Deploy.IsZero() {
			m.AfterDeploy = t.FirstLeak.Sub(r.Deploy)
		}
		t.Marks = append(t.Marks, m)
		m = Milestone{What: "last leak (end of minute)", At: t.LastLeak}
		if !r.Deploy.IsZero() {
			m.AfterDeploy = t.LastLeak.Sub(r.Deploy)
		}
		t.Marks = append(t.Marks, m)
	}
	if !r.Window.From.IsZero() {
		t.Marks = append(t.Marks, Milestone{What: "incident window from (" + r.Window.Source + ")", At: r.Window.From})
	}
	if !r.Window.Until.IsZero() {
		t.Marks = append(t.Marks, Milestone{What: "incident window until", At: r.Window.Until})
	}
	for i := range t.Marks {
		t.Marks[i].At = t.Marks[i].At.In(loc)
	}
	for i := range t.Reference {
		if !t.Reference[i].At.IsZero() {
			t.Reference[i].At = t.Reference[i].At.In(loc)
		}
	}
	return t
}
