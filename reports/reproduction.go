package reports

import (
	"fmt"
	"math"
	"strings"

	"github.com/crosstalk/crosstalk/harness"
)

// reproView is a reproduction record as every report shows it: the plan's
// shape, each burst's steps, the rate with its interval, the leak's kind and
// the command that replays it. The reports share it so that they never
// disagree on what the minimal plan was or how often it leaked.
type reproView struct {
	// Title is "Minimal reproduction" for a plan fuzz shrank, "Replayed
	// plan" for one replay ran as it was.
	Title  string
	Shape  string
	Rate   string
	Kind   string
	Bursts []reproBurst
	// Command replays the plan; it is empty when the stream gave none.
	Command string
}

func reproductionOf(s Summary) *reproView {
	r := s.Reproduction
	if r == nil {
		return nil
	}
	steps, bursts, users := r.Steps()
	v := &reproView{Title: "Replayed plan", Command: clean(r.Command)}
	v.Shape = fmt.Sprintf("%s in %s with %s", count(steps, "step"), count(bursts, "burst"), count(users, "user"))
	if r.FoundSteps > 0 {
		v.Title = "Minimal reproduction"
		v.Shape += fmt.Sprintf(", shrunk from %s", count(r.FoundSteps, "step"))
	}
	v.Rate = fmt.Sprintf("reproduced in %d of %d runs", r.Reproduced, r.Runs)
	if r.Runs > 0 {
		v.Rate += fmt.Sprintf(" (%s, 95%% interval %s–%s)", ratePercent(float64(r.Reproduced)/float64(r.Runs)),
			ratePercent(r.Low), ratePercent(r.High))
	}
	if r.Sync != "" {
		v.Rate += ", sync " + clean(r.Sync)
	}
	switch r.Persistence {
	case harness.Persistent:
		v.Kind = "persistent: the target's state stays corrupted after it, so every run needs a reset before it"
	case harness.Transient:
		v.Kind = "transient: a control after it (each user's reads, one at a time) was clean"
	}
	if r.NeedsReset && r.Persistence != harness.Persistent {
		v.Kind = strings.TrimSpace(v.Kind + " (needs a reset before every run)")
	}
	for i, b := range r.Plan.Bursts {
		row := reproBurst{N: i + 1}
		for _, st := range b.Steps {
			row.Steps = append(row.Steps, stepText(st))
		}
		v.Bursts = append(v.Bursts, row)
	}
	return v
}

// reproBurst is one burst of the plan, numbered from 1.
type reproBurst struct {
	N     int
	Steps []string
}

// stepText is one step as a reader reads it: "user3 profile", with its
// peer, its offset from the release and its client cancel when it has them.
func stepText(st harness.Step) string {
	t := clean(st.User) + " " + clean(st.Request)
	if st.Request == harness.LoginStep {
		t = clean(st.User) + " logs in"
	}
	if st.Peer != "" {
		t += " (peer " + clean(st.Peer) + ")"
	}
	if st.Offset > 0 {
		t += " at +" + st.Offset.String()
	}
	if st.CancelAfter > 0 {
		t += ", cancelled after " + st.CancelAfter.String()
	}
	return t
}

// ratePercent shows a rate as a whole percentage, rounded so that a rate
// above 0 never reads as 0% and one below 1 never as 100%.
func ratePercent(x float64) string {
	p := 100 * x
	switch {
	case p > 0 && p < 1:
		return "<1%"
	case p > 99 && p < 100:
		return ">99%"
	}
	return fmt.Sprintf("%.0f%%", math.Round(p))
}

// count is n and its noun: "1 step", "2 steps".
func count(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, plural(n, noun, noun+"s"))
}
