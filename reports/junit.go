package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness"
)

// The JUnit shape follows what gotestsum writes, since that is the JUnit
// dialect CI systems reading Go test results already parse: a testsuites
// root with totals, one testsuite with properties, testcases with a
// classname, and failure or error elements carrying a message attribute and
// the details as text.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Name       string          `xml:"name,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// JUnit renders the summary as JUnit XML, one test case per thing that was
// checked: the run as a whole ("isolation"), each request of the spec
// ("request/NAME"), each data kind ("data/KIND"), each pair of requests
// that ran in one burst ("pair/A+B", from a traced run), and the checks that decide
// whether the run could vouch for anything ("check/..."). A request or kind
// that carried another user's data fails, with the evidence and the commands
// that reproduce it; when the run was inconclusive the cases it cannot vouch
// for are errors, so dashboards tell "the service leaks" apart from "the
// test could not run"; everything else passes.
func JUnit(w io.Writer, s Summary) error {
	spec := "unnamed"
	suite := junitSuite{}
	if h := s.Header; h != nil {
		spec = clean(orDefault(h.Spec, spec))
		if !h.Started.IsZero() {
			suite.Timestamp = h.Started.UTC().Format(time.RFC3339)
		}
		suite.Properties = []junitProperty{
			{Name: "crosstalk.version", Value: clean(h.Version)},
			{Name: "target", Value: clean(h.BaseURL)},
			{Name: "sync", Value: clean(h.Sync)},
			{Name: "users", Value: strconv.Itoa(len(h.Users))},
		}
		if h.SpecFile != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: "spec_file", Value: clean(h.SpecFile)})
		}
		if h.SpecHash != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: "spec_hash", Value: clean(h.SpecHash)})
		}
	}
	suite.Properties = append(suite.Properties, junitProperty{Name: "verdict", Value: string(s.Verdict)})
	suite.Name = "crosstalk/" + spec
	if c := s.Coverage; c != nil {
		if c.Responses > 0 {
			suite.Properties = append(suite.Properties, junitProperty{Name: "coverage",
				Value: fmt.Sprintf("%s (%d of %d responses)", coveragePercent(c.Share()), c.Seen, c.Responses)})
		}
		if blind := c.Blind(); len(blind) > 0 {
			suite.Properties = append(suite.Properties, junitProperty{Name: "blind_requests", Value: strings.Join(blind, ",")})
		}
	}
	if o := s.Outcome; o != nil && o.Persistence != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "persistence", Value: string(o.Persistence)})
	}

	var elapsed time.Duration
	if s.Outcome != nil {
		elapsed = s.Outcome.Elapsed
	}
	seconds := fmt.Sprintf("%.3f", elapsed.Seconds())
	suite.Time = seconds
	_, sentence := headline(s)
	reason := clean(orDefault(s.Reason, "the run cannot vouch for isolation"))
	var context strings.Builder
	textVerdict(&context, s)
	inconclusive := &junitProblem{Message: reason, Type: "inconclusive", Text: context.String()}
	commands := commandsFor(s)
	reproduce := "\nReproduce:\n  " + commands.Rerun + "\nShrink to a minimal plan:\n  " + commands.Shrink + "\n"

	// verdictCase judges one slice of the run: the findings it holds fail
	// it; without any, it passes unless the run as a whole was
	// inconclusive.
	verdictCase := func(name string, keep func(harness.Finding) bool) junitCase {
		tc := junitCase{Classname: spec, Name: name, Time: seconds}
		sub := s
		sub.Groups = nil
		n := 0
		for _, g := range s.Groups {
			if keep(g.First) {
				sub.Groups = append(sub.Groups, g)
				n += g.Count
			}
		}
		sub.Found = n
		switch {
		case n > 0:
			var b strings.Builder
			textFindings(&b, sub)
			b.WriteString(reproduce)
			tc.Failure = &junitProblem{Message: fmt.Sprintf("%d %s carried another user's data", n, plural(n, "response", "responses")), Type: "leak", Text: b.String()}
		case s.Verdict == harness.Leak && name == "isolation":
			// Findings past the kept groups still make the run a leak.
			tc.Failure = &junitProblem{Message: sentence, Type: "leak", Text: context.String() + reproduce}
		case s.Verdict == harness.Leak, s.Verdict == harness.Isolated:
		default:
			tc.Error = inconclusive
		}
		return tc
	}

	cases := []junitCase{verdictCase("isolation", func(harness.Finding) bool { return true })}
	if s.Verdict == harness.Leak && cases[0].Failure != nil && len(s.Groups) > 0 {
		var b strings.Builder
		for _, l := range exposureSentences(s) {
			b.WriteString(l + "\n")
		}
		textFindings(&b, s)
		b.WriteString(reproduce)
		cases[0].Failure = &junitProblem{Message: sentence, Type: "leak", Text: b.String()}
	}
	requests, kinds := checkedRequests(s)
	for _, r := range requests {
		cases = append(cases, verdictCase("request/"+clean(r), func(f harness.Finding) bool { return f.Request == r }))
	}
	for _, k := range kinds {
		cases = append(cases, verdictCase("data/"+kindName(k), func(f harness.Finding) bool { return f.Data == k }))
	}
	for _, p := range s.Pairs {
		tc := junitCase{Classname: spec, Name: "pair/" + clean(p.A) + "+" + clean(p.B), Time: seconds}
		switch {
		case p.Findings > 0:
			sub := s
			sub.Groups, sub.Found = nil, p.Findings
			for _, f := range p.Evidence {
				sub.Groups = append(sub.Groups, FindingGroup{First: f, Count: 1})
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s and %s ran together in %d %s.\n", clean(p.A), clean(p.B), p.Bursts, plural(p.Bursts, "burst", "bursts"))
			textFindings(&b, sub)
			b.WriteString(reproduce)
			tc.Failure = &junitProblem{Message: fmt.Sprintf("%d %s carried another user's data while %s and %s ran together",
				p.Findings, plural(p.Findings, "response", "responses"), clean(p.A), clean(p.B)), Type: "leak", Text: b.String()}
		case s.Verdict == harness.Inconclusive:
			tc.Error = inconclusive
		}
		cases = append(cases, tc)
	}
	cases = append(cases, junitChecks(s, spec)...)

	for _, c := range cases {
		suite.Tests++
		if c.Failure != nil {
			suite.Failures++
		}
		if c.Error != nil {
			suite.Errors++
		}
	}
	suite.Cases = cases
	doc := junitSuites{Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Time: seconds, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// checkedRequests are the requests and data kinds the run covered: those
// the header lists and any a finding names, in the header's order.
func checkedRequests(s Summary) (requests, kinds []string) {
	seenR, seenK := map[string]bool{}, map[string]bool{}
	addR := func(r string) {
		if !seenR[r] {
			seenR[r] = true
			requests = append(requests, r)
		}
	}
	addK := func(k string) {
		if !seenK[k] {
			seenK[k] = true
			kinds = append(kinds, k)
		}
	}
	if s.Header != nil {
		for _, r := range s.Header.Requests {
			addR(r.Name)
			addK(r.Data)
		}
	}
	for _, g := range s.Groups {
		addR(g.First.Request)
		addK(g.First.Data)
	}
	slices.SortStableFunc(kinds, compareKinds)
	return requests, kinds
}

// junitChecks are the conditions a verdict rests on. Each is an error when
// it does not hold, since then the run could not test what it set out to.
func junitChecks(s Summary, spec string) []junitCase {
	check := func(name string, problem string) junitCase {
		tc := junitCase{Classname: spec, Name: "check/" + name, Time: "0.000"}
		if problem != "" {
			tc.Error = &junitProblem{Message: problem, Type: "inconclusive", Text: problem + "\n"}
		}
		return tc
	}
	var stream string
	if len(s.Problems) > 0 {
		stream = strings.Join(s.Problems, "; ")
	}
	var logins, budget, bursts string
	if o := s.Outcome; o != nil {
		if n := len(o.LoginFailures); n > 0 {
			logins = fmt.Sprintf("%d %s could not log in: %s", n, plural(n, "user", "users"), clean(strings.Join(o.LoginFailures[:min(n, maxLoginFailures)], "; ")))
		}
		if o.CutShort {
			budget = "the run stopped before its budget was spent"
		}
	}
	if s.Bursts == 0 && (s.Outcome == nil || s.Outcome.Bursts == 0) {
		bursts = "no burst was released, so nothing was fired together"
	}
	return []junitCase{check("stream", stream), check("logins", logins), check("bursts", bursts), check("budget", budget)}
}
