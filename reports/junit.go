package reports

import (
	"encoding/xml"
	"fmt"
	"io"
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

// JUnit renders the summary as JUnit XML with one test case,
// "isolation/<spec>": passed when isolated, a failure listing the findings on
// a leak, and an error giving the reason when inconclusive, so dashboards
// tell "the service leaks" apart from "the test could not run".
func JUnit(w io.Writer, s Summary) error {
	spec := "unnamed"
	suite := junitSuite{Name: "crosstalk", Tests: 1}
	if h := s.Header; h != nil {
		spec = orDefault(h.Spec, spec)
		if !h.Started.IsZero() {
			suite.Timestamp = h.Started.UTC().Format(time.RFC3339)
		}
		suite.Properties = []junitProperty{
			{Name: "target", Value: h.BaseURL},
			{Name: "sync", Value: h.Sync},
			{Name: "users", Value: strconv.Itoa(len(h.Users))},
		}
		if h.SpecFile != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: "spec_file", Value: h.SpecFile})
		}
	}
	suite.Properties = append(suite.Properties, junitProperty{Name: "verdict", Value: string(s.Verdict)})
	if o := s.Outcome; o != nil && o.Persistence != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "persistence", Value: string(o.Persistence)})
	}

	var elapsed time.Duration
	if s.Outcome != nil {
		elapsed = s.Outcome.Elapsed
	}
	seconds := fmt.Sprintf("%.3f", elapsed.Seconds())
	suite.Time = seconds
	tc := junitCase{Classname: "crosstalk", Name: "isolation/" + spec, Time: seconds}

	_, sentence := headline(s)
	switch s.Verdict {
	case harness.Leak:
		suite.Failures = 1
		var details strings.Builder
		for _, l := range exposureSentences(s) {
			details.WriteString(l + "\n")
		}
		textFindings(&details, s)
		tc.Failure = &junitProblem{Message: sentence, Type: "leak", Text: details.String()}
	case harness.Isolated:
	default:
		suite.Errors = 1
		var details strings.Builder
		textVerdict(&details, s)
		tc.Error = &junitProblem{Message: clean(orDefault(s.Reason, "the run cannot vouch for isolation")), Type: "inconclusive", Text: details.String()}
	}
	suite.Cases = []junitCase{tc}

	doc := junitSuites{Tests: 1, Failures: suite.Failures, Errors: suite.Errors, Time: seconds, Suites: []junitSuite{suite}}
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
