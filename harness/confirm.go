package harness

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/crosstalk/crosstalk/harness/oracle"
)

// This file confirms findings that rest on learned markers alone. A learned
// marker is a guess: a token stable in one user's baseline and absent from
// everyone else's. A schema id that an app puts in every record is learned
// as the marker of the only user who had records at baseline time; once
// another user creates one, that user's own pages carry it, and without a
// check every such page would be a leak. So before such a finding counts,
// the viewer's own reads are fetched again one at a time: a marker that
// shows there, or in what the viewer wrote, is shared data. The finding is
// dropped and the marker unlearned.

// confirm decides a finding of viewer that rests on the learned markers
// shown (as [oracle.Match.Marker] shows them) of owner alone. It reports
// whether the finding stands and, if so, how it was confirmed. Markers that
// turn out to be shared are unlearned, for this execution and every later
// one, and listed in the outcome.
func (e *execution) confirm(ctx context.Context, viewer, owner string, shown []string) (how string, stands bool) {
	f := e.f
	key := viewer + "\x00" + owner + "\x00" + strings.Join(shown, "\x00")
	if how, ok := f.confirmed[key]; ok {
		return how, true
	}
	values := map[string]string{} // shown → value
	for _, m := range f.oracle.Markers() {
		if d := f.oracle.Redact(m.Value); m.Kind == oracle.Learned && m.Owner == owner && slices.Contains(shown, d) {
			values[d] = m.Value
		}
	}
	sharedIn := map[string]string{} // shown → where the viewer's own data had it
	persists, fetched := "", 0
	if ss := e.sessions[viewer]; ss != nil {
		for _, q := range f.reads {
			if ctx.Err() != nil || !ss.ready(q) {
				continue
			}
			w, err := ss.build(q)
			if err != nil {
				continue
			}
			_, resp, err := ss.do(ctx, w)
			e.out.Requests++
			if err != nil || statusIsError(resp.Status) {
				e.out.Errors++
				continue
			}
			fetched++
			ms, _ := f.oracle.ScanOwn(viewer, oracle.Response{Status: resp.Status, Header: resp.Header, Body: resp.Body})
			for _, m := range ms {
				switch {
				case m.Owner != owner:
				case m.Kind == oracle.Learned && slices.Contains(shown, m.Marker):
					if _, ok := sharedIn[m.Marker]; !ok {
						sharedIn[m.Marker] = "the viewer's own " + q.Name + ", fetched again one at a time, carried it"
					}
				case !f.grants.allowed(viewer, m):
					persists = q.Name
				}
			}
		}
	}
	for _, raw := range f.written[viewer] {
		for d, v := range values {
			if _, ok := sharedIn[d]; !ok && bytes.Contains(raw, []byte(v)) {
				sharedIn[d] = "a write of the viewer's own carried it"
			}
		}
	}
	list := strings.Join(quoteAll(shown), ", ")
	switch {
	case persists != "":
		// The viewer's own fetch still carries the owner's configured
		// markers: a leak that persists, of which the learned ones are part.
		how = fmt.Sprintf("learned %s only; fetched again one at a time, %s's %s still carried %s's data", list, viewer, persists, owner)
	case len(sharedIn) > 0:
		var drop []string
		for _, d := range slices.Sorted(maps.Keys(sharedIn)) {
			if v, ok := values[d]; ok {
				drop = append(drop, v)
				e.out.Unlearned = append(e.out.Unlearned, Unlearned{Owner: owner, Value: d, Viewer: viewer,
					Why: sharedIn[d]})
			}
		}
		if o, err := f.oracle.Unlearn(drop...); err == nil {
			f.oracle, f.markerCounts, f.learned = o, nil, nil
		}
		if len(sharedIn) == len(shown) {
			return "", false
		}
		var rest []string
		for _, d := range shown {
			if _, ok := sharedIn[d]; !ok {
				rest = append(rest, d)
			}
		}
		how = fmt.Sprintf("learned %s only; %s's %d reads, fetched again one at a time, and %s's writes did not carry %s",
			list, viewer, fetched, viewer, strings.Join(quoteAll(rest), ", "))
	case fetched == 0:
		how = fmt.Sprintf("learned %s only; not confirmed: none of %s's reads could be fetched again", list, viewer)
	default:
		how = fmt.Sprintf("learned %s only; confirmed: %s's %d reads, fetched again one at a time, and %s's writes did not carry it",
			list, viewer, fetched, viewer)
	}
	if f.confirmed == nil {
		f.confirmed = map[string]string{}
	}
	f.confirmed[key] = how
	return how, true
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
