package reports

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// Summary is everything the reports need, computed from the records alone so
// that a saved stream renders the same as the live run did.
type Summary struct {
	// Header and Outcome are the stream's header and verdict records; either
	// is nil when the stream lacks it.
	Header  *harness.Header
	Outcome *harness.Outcome

	// Verdict is the verdict to report. It is Outcome's verdict, except that
	// findings always make it [harness.Leak] (one is proof enough) and a
	// stream without a verdict record and without findings is
	// [harness.Inconclusive]: an unfinished run cannot vouch for isolation.
	Verdict harness.Verdict
	// Reason explains Verdict in one sentence.
	Reason string
	// Problems lists what is wrong with the stream itself (a missing header
	// or verdict, a verdict that contradicts the findings). Empty for a
	// complete, consistent stream.
	Problems []string

	// Findings are all finding records, ordered by burst, step, viewer,
	// owner, request and marker.
	Findings []harness.Finding
	// Bursts counts burst records; Exchanges counts exchange records, which
	// only traced runs write.
	Bursts    int
	Exchanges int

	// Release skew over all bursts; arrival spread over the bursts whose
	// target reported handler-entry times (ArrivalBursts of them).
	ReleaseSkewP50, ReleaseSkewP90     time.Duration
	ArrivalSpreadP50, ArrivalSpreadP90 time.Duration
	ArrivalBursts                      int

	// Exposure: who saw whose data. Viewers and Owners are the distinct users
	// on each side of the findings, in natural order (user2 before user10).
	Viewers []string
	Owners  []string
	// Kinds has one entry per data kind in the findings: mail, attachment and
	// profile first, then the rest alphabetically.
	Kinds []KindExposure
	// Exposure has one entry per (owner, viewer) pair with findings, ordered
	// by owner then viewer.
	Exposure []Exposure
	// Groups folds repeats: one entry per distinct (viewer, owner, request,
	// marker), ordered by first occurrence.
	Groups []FindingGroup

	// Coverage is the verdict record's coverage or, in a stream without
	// one, what the header says the baseline showed; nil when the stream
	// has neither (it was written before coverage existed, or the setup
	// never got to the baseline).
	Coverage *harness.Coverage
}

// KindExposure counts the findings of one data kind.
type KindExposure struct {
	Data string `json:"data"`
	// Owners is how many distinct users had data of this kind seen by
	// others; Viewers how many distinct users saw it.
	Owners   int `json:"owners"`
	Viewers  int `json:"viewers"`
	Findings int `json:"findings"`
}

// Exposure says which kinds of Owner's data Viewer saw, and how often.
type Exposure struct {
	Owner    string   `json:"owner"`
	Viewer   string   `json:"viewer"`
	Data     []string `json:"data"`
	Findings int      `json:"findings"`
}

// FindingGroup is one distinct leak and how many times it was seen.
type FindingGroup struct {
	// First is the earliest occurrence, by burst and step.
	First harness.Finding
	Count int
}

// Summarize condenses a result stream. It never fails: whatever the stream
// lacks is listed in [Summary.Problems] and the verdict is chosen so that a
// broken stream is never reported as isolated.
func Summarize(records []harness.Record) Summary {
	var s Summary
	var skews, spreads []time.Duration
	for _, r := range records {
		switch {
		case r.Type == harness.RecordHeader && r.Header != nil:
			// The first header wins: a second one means streams were
			// concatenated, and the first run is the one the header names.
			if s.Header == nil {
				h := *r.Header
				s.Header = &h
			}
		case r.Type == harness.RecordVerdict && r.Outcome != nil:
			if s.Outcome == nil {
				o := *r.Outcome
				s.Outcome = &o
			}
		case r.Type == harness.RecordBurst && r.Burst != nil:
			s.Bursts++
			skews = append(skews, r.Burst.ReleaseSkew)
			if r.Burst.ArrivalSpread > 0 {
				spreads = append(spreads, r.Burst.ArrivalSpread)
			}
		case r.Type == harness.RecordFinding && r.Finding != nil:
			s.Findings = append(s.Findings, *r.Finding)
		case r.Type == harness.RecordExchange && r.Exchange != nil:
			s.Exchanges++
		}
	}
	slices.SortStableFunc(s.Findings, compareFindings)

	s.ReleaseSkewP50, s.ReleaseSkewP90 = percentiles(skews)
	s.ArrivalSpreadP50, s.ArrivalSpreadP90 = percentiles(spreads)
	s.ArrivalBursts = len(spreads)

	s.exposure()
	s.judge()
	switch {
	case s.Outcome != nil && s.Outcome.Coverage != nil:
		s.Coverage = s.Outcome.Coverage
	case s.Header != nil && len(s.Header.Coverage) > 0:
		s.Coverage = &harness.Coverage{Requests: s.Header.Coverage}
	}
	return s
}

func compareFindings(a, b harness.Finding) int {
	return cmp.Or(
		cmp.Compare(a.Burst, b.Burst),
		cmp.Compare(a.Step, b.Step),
		compareNatural(a.Viewer, b.Viewer),
		compareNatural(a.Owner, b.Owner),
		cmp.Compare(a.Request, b.Request),
		cmp.Compare(a.Marker, b.Marker),
		cmp.Compare(a.Where, b.Where),
		cmp.Compare(a.Encoding, b.Encoding),
	)
}

func compareNatural(a, b string) int {
	if c := naturalCompare(a, b); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// percentiles returns the nearest-rank p50 and p90. Nearest rank reports a
// value that was actually measured, which is what a reader checks against.
func percentiles(ds []time.Duration) (p50, p90 time.Duration) {
	ps := harness.Percentiles(ds, 50, 90)
	return ps[0], ps[1]
}

func (s *Summary) exposure() {
	type pair struct{ owner, viewer string }
	type groupKey struct{ viewer, owner, request, marker string }
	viewers := map[string]bool{}
	owners := map[string]bool{}
	kinds := map[string]*KindExposure{}
	kindOwners := map[string]map[string]bool{}
	kindViewers := map[string]map[string]bool{}
	pairs := map[pair]*Exposure{}
	pairKinds := map[pair]map[string]bool{}
	groups := map[groupKey]int{}

	for _, f := range s.Findings {
		viewers[f.Viewer] = true
		owners[f.Owner] = true
		k := kinds[f.Data]
		if k == nil {
			k = &KindExposure{Data: f.Data}
			kinds[f.Data] = k
			kindOwners[f.Data] = map[string]bool{}
			kindViewers[f.Data] = map[string]bool{}
		}
		k.Findings++
		kindOwners[f.Data][f.Owner] = true
		kindViewers[f.Data][f.Viewer] = true

		p := pair{f.Owner, f.Viewer}
		e := pairs[p]
		if e == nil {
			e = &Exposure{Owner: f.Owner, Viewer: f.Viewer}
			pairs[p] = e
			pairKinds[p] = map[string]bool{}
		}
		e.Findings++
		pairKinds[p][f.Data] = true

		// Findings are sorted by burst and step, so the first one seen for
		// a key is its first occurrence.
		g := groupKey{f.Viewer, f.Owner, f.Request, f.Marker}
		if i, ok := groups[g]; ok {
			s.Groups[i].Count++
		} else {
			groups[g] = len(s.Groups)
			s.Groups = append(s.Groups, FindingGroup{First: f, Count: 1})
		}
	}

	s.Viewers = sortedNames(viewers)
	s.Owners = sortedNames(owners)
	for data, k := range kinds {
		k.Owners = len(kindOwners[data])
		k.Viewers = len(kindViewers[data])
		s.Kinds = append(s.Kinds, *k)
	}
	slices.SortFunc(s.Kinds, func(a, b KindExposure) int { return compareKinds(a.Data, b.Data) })
	for p, e := range pairs {
		for d := range pairKinds[p] {
			e.Data = append(e.Data, d)
		}
		slices.SortFunc(e.Data, compareKinds)
		s.Exposure = append(s.Exposure, *e)
	}
	slices.SortFunc(s.Exposure, func(a, b Exposure) int {
		return cmp.Or(compareNatural(a.Owner, b.Owner), compareNatural(a.Viewer, b.Viewer))
	})
}

func sortedNames(set map[string]bool) []string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.SortFunc(names, compareNatural)
	return names
}

// knownKinds are the data kinds the webmail specs use, listed the way an
// incident report would rank them: message content first.
var knownKinds = []string{"mail", "attachment", "profile"}

func compareKinds(a, b string) int {
	ia, ib := slices.Index(knownKinds, a), slices.Index(knownKinds, b)
	if ia < 0 {
		ia = len(knownKinds)
	}
	if ib < 0 {
		ib = len(knownKinds)
	}
	return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a, b))
}

func (s *Summary) judge() {
	if s.Header == nil {
		s.Problems = append(s.Problems, "incomplete stream: it has no header record")
	}
	n := len(s.Findings)
	if s.Outcome == nil {
		s.Problems = append(s.Problems, "incomplete stream: it has no verdict record, so the run did not finish writing its results")
		if n > 0 {
			s.Verdict = harness.Leak
			s.Reason = fmt.Sprintf("%d %s carried another user's data", n, plural(n, "response", "responses"))
		} else {
			s.Verdict = harness.Inconclusive
			s.Reason = "the result stream is incomplete: it has no verdict record"
		}
		return
	}
	s.Verdict, s.Reason = s.Outcome.Verdict, s.Outcome.Reason
	switch s.Verdict {
	case harness.Isolated, harness.Leak, harness.Inconclusive:
	default:
		s.Problems = append(s.Problems, fmt.Sprintf("the verdict record holds an unknown verdict %q", clean(string(s.Verdict))))
		s.Verdict = harness.Inconclusive
		s.Reason = "the verdict record could not be understood"
	}
	if n > 0 && s.Verdict != harness.Leak {
		s.Problems = append(s.Problems, fmt.Sprintf("the verdict record says %s, but the stream holds %d %s", s.Verdict, n, plural(n, "finding", "findings")))
		s.Verdict = harness.Leak
		s.Reason = fmt.Sprintf("%d %s carried another user's data", n, plural(n, "response", "responses"))
	}
}

// findingCount is the number of findings to report: the verdict's count, or
// the records' if the verdict undercounts (for example a truncated trace).
func (s Summary) findingCount() int {
	n := len(s.Findings)
	if s.Outcome != nil && s.Outcome.Findings > n {
		n = s.Outcome.Findings
	}
	return n
}
