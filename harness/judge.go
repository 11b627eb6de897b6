package harness

import (
	"context"
	"errors"
	"slices"
	"sort"

	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// maxFindingsPerExchange bounds what one response adds to the stream: a
// leaked page carries many markers of its owner, and the first (best) one is
// evidence enough. Other owners in the same response are still reported.
const maxFindingsPerExchange = 1

// judge scans fired shots, streams findings and exchanges, counts coverage,
// and keeps each user's state (cookies, extracted values) from its clean
// responses only: a response carrying another user's data must not steer
// later requests. A finding that rests on learned markers alone is
// confirmed first (see confirm.go), which may fetch the viewer's reads
// again.
func (e *execution) judge(ctx context.Context, shots []*shot) error {
	for _, sh := range shots {
		if sh.ss == nil || sh.req == nil {
			// The step named no known user or request: a broken plan.
			e.out.Requests++
			e.out.Errors++
			continue
		}
		if sh.c != nil {
			sh.ss.release(sh.c)
			sh.c = nil
		}
		e.out.Requests++
		// The header is the target's to fill: it goes through the same
		// redaction as a path before it reaches the stream.
		if b := backendOf(sh.resp, e.f.spec.BackendHeader); b != "" {
			sh.ex.Backend = e.redact(b)
		}
		cut := cutBody(sh)
		// A body cut at max_body is the tool's limit, not the target's
		// failure: coverage counts it as not fully scanned instead.
		failed := sh.err != nil && !sh.canceled && !cut
		if failed || statusIsError(sh.ex.Status) {
			e.out.Errors++
		}
		if sh.req.Action == spec.ActionLogin && sh.resp.Header != nil {
			// What this login issued is a secret from now on, the evidence
			// of this very response included.
			sh.ss.noteIssued(sh.resp)
		}
		clean := true
		if sh.resp.Header != nil && e.f.oracle != nil {
			res := e.f.oracle.Check(sh.step.User, oracle.Response{Status: sh.resp.Status, Header: sh.resp.Header, Body: sh.resp.Body})
			matches, own := res.Matches, res.Own
			// What the oracle could not scan is not fully scanned either,
			// and a body that does not decode as its headers say is the
			// target's error, not a clean page.
			cut = cut || res.Partial != ""
			if res.Err != nil && !failed && !statusIsError(sh.ex.Status) {
				e.out.Errors++
			}
			matches = slices.DeleteFunc(matches, func(m oracle.Match) bool { return e.f.grants.allowed(sh.step.User, m) })
			found := false
			for _, m := range bestPerOwner(matches) {
				f := &Finding{Viewer: sh.step.User, Owner: m.Owner, Data: sh.req.Data, Request: sh.req.Name,
					Method: sh.ex.Method, Path: e.redact(sh.ex.Path), Burst: sh.ex.Burst, Step: sh.ex.Step,
					Conn: sh.ex.Conn, Backend: sh.ex.Backend, Match: m, Sent: sh.ex.Sent, Done: sh.ex.Done}
				f.Excerpt = redactIssued(e.sessions, f.Excerpt)
				if learned := learnedOf(matches, m.Owner); learned != nil {
					// The finding rests on learned markers alone.
					how, stands := e.confirm(ctx, sh.step.User, m.Owner, learned)
					if !stands {
						continue
					}
					f.Confirmed = how
				}
				clean, found = false, true
				e.out.Findings++
				if err := e.emit(Record{Type: RecordFinding, Finding: f}); err != nil {
					return err
				}
			}
			if sh.ex.Burst > 0 && isRead(sh.req) && !sh.canceled {
				e.cov.add(sh.req.Name, cut, own || found, e.f.ownedAtBaseline(sh.req.Name, sh.step.User, sh.ex.Path))
			}
		}
		if sh.req.Action == spec.ActionWrite && sh.err == nil {
			e.f.wrote(sh.step.User, sh.wire.Raw)
		}
		if act := sh.req.Action; (act == spec.ActionLogin || act == spec.ActionLogout) && sh.resp.Header != nil {
			// A browser keeps whatever cookie a login sets, leaked or not;
			// a session mix-up then shows in the user's next responses.
			if err := sh.ss.afterAction(act, sh.resp); err != nil {
				e.out.Errors++
				sh.ex.Err = err.Error()
			}
		} else if clean && sh.resp.Header != nil && sh.ex.Burst > 0 {
			sh.ss.absorb(sh.resp)
			if len(sh.req.Extract) > 0 {
				plain := oracle.DecodeContent(sh.resp.Header, sh.resp.Body)
				sh.ss.extract(sh.req.Extract, sh.resp, plain)
			}
		}
		if e.f.opts.Trace {
			ex := sh.ex
			ex.Path = e.redact(ex.Path)
			if err := e.emit(Record{Type: RecordExchange, Exchange: &ex}); err != nil {
				return err
			}
		}
	}
	return nil
}

// cutBody reports whether a shot's body was cut before its end, so that the
// oracle did not scan all of it: the wire cuts at limits.max_body.
func cutBody(sh *shot) bool {
	return errors.Is(sh.err, wire.ErrBodyTooLarge)
}

// learnedOf lists the markers of owner among ms, as shown, if every one of
// them is learned; nil if any is of another kind (a canary, an address, a
// session cookie), which is evidence enough on its own.
func learnedOf(ms []oracle.Match, owner string) []string {
	var out []string
	for _, m := range ms {
		if m.Owner != owner {
			continue
		}
		if m.Kind != oracle.Learned {
			return nil
		}
		if !slices.Contains(out, m.Marker) {
			out = append(out, m.Marker)
		}
	}
	return out
}

// kindRank orders marker kinds by how convincing they are as evidence: a
// canary crosstalk planted cannot be there by coincidence; a learned token
// is the weakest.
var kindRank = map[oracle.Kind]int{oracle.Canary: 0, oracle.Static: 1, oracle.Identity: 2, oracle.Learned: 3}

func bestPerOwner(ms []oracle.Match) []oracle.Match {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Owner != ms[j].Owner {
			return ms[i].Owner < ms[j].Owner
		}
		si, sj := ms[i].Marker == oracle.Redacted, ms[j].Marker == oracle.Redacted
		if si != sj {
			return !si
		}
		return kindRank[ms[i].Kind] < kindRank[ms[j].Kind]
	})
	var out []oracle.Match
	per := map[string]int{}
	for _, m := range ms {
		if per[m.Owner] < maxFindingsPerExchange {
			per[m.Owner]++
			out = append(out, m)
		}
	}
	return out
}

// redact keeps the oracle's markers and this execution's issued secrets out
// of text the target filled in (a path, a backend header) before it reaches
// the stream.
func (e *execution) redact(s string) string {
	if e.f.oracle != nil {
		s = e.f.oracle.Redact(s)
	}
	return redactIssued(e.sessions, s)
}
