package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/oracle"
)

// schemaCases are the summaries every schema test renders: the testdata
// streams, plus one with more leaks than GitHub shows and hostile strings.
func schemaCases(t *testing.T) map[string]Summary {
	t.Helper()
	cases := map[string]Summary{}
	for _, base := range goldenStreams(t) {
		cases[filepath.Base(base)] = summarizeFile(t, base+".jsonl")
	}
	evil := "x\x1b[2J<script>alert(1)</script>]]>&\r\n%0A::error::,:"
	recs := []harness.Record{{Type: harness.RecordHeader, Header: &harness.Header{Spec: evil, SpecFile: "specs/" + evil, BaseURL: evil, Version: evil,
		Requests: []harness.RequestInfo{{Name: evil, Data: evil}}}}}
	for i := range 14 {
		recs = append(recs, harness.Record{Type: harness.RecordFinding, Finding: &harness.Finding{
			Viewer: fmt.Sprintf("v%d%s", i, evil), Owner: "o" + evil, Data: evil, Request: evil, Method: "GET", Path: evil, Burst: i,
			Match: oracle.Match{Kind: oracle.Canary, Marker: fmt.Sprintf("ctk%d", i), Excerpt: evil, Where: evil}}})
	}
	recs = append(recs, harness.Record{Type: harness.RecordVerdict, Outcome: &harness.Outcome{Verdict: harness.Leak, Reason: evil, Findings: 14}})
	cases["hostile"] = Summarize(recs)
	return cases
}

// TestJUnitValidatesAgainstSchema checks every JUnit report against the
// Jenkins JUnit schema that gotestsum's output follows, with xmllint, the
// validator CI images ship. ./test.sh installs it (Debian libxml2-utils).
func TestJUnitValidatesAgainstSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	require.NoError(t, err, "xmllint is needed: apt-get install libxml2-utils (./test.sh installs it)")
	dir := t.TempDir()
	for name, s := range schemaCases(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".xml")
			require.NoError(t, os.WriteFile(path, []byte(render(t, JUnit, s)), 0o600))
			out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "schema", "junit-10.xsd"), path).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "validates")
		})
	}
}

// TestJUnitSchemaRejects shows the validation can fail: a report without
// the attributes the schema requires is refused.
func TestJUnitSchemaRejects(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	require.NoError(t, err, "xmllint is needed: apt-get install libxml2-utils (./test.sh installs it)")
	path := filepath.Join(t.TempDir(), "bad.xml")
	require.NoError(t, os.WriteFile(path, []byte(`<testsuites><testsuite name="x"><testcase/></testsuite></testsuites>`), 0o600))
	out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "schema", "junit-10.xsd"), path).CombinedOutput()
	require.Error(t, err, "%s", out)
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "schema", "sarif-schema-2.1.0.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const id = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
	require.NoError(t, c.AddResource(id, doc))
	sch, err := c.Compile(id)
	require.NoError(t, err)
	return sch
}

// TestSARIFValidatesAgainstSchema checks every SARIF report against the
// OASIS SARIF 2.1.0 schema, and that a leak gives one result per distinct
// leak.
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	sch := sarifSchema(t)
	for name, s := range schemaCases(t) {
		t.Run(name, func(t *testing.T) {
			out := render(t, SARIF, s)
			doc, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
			require.NoError(t, err)
			require.NoError(t, sch.Validate(doc))
			var log struct {
				Runs []struct {
					Results     []struct{ PartialFingerprints map[string]string }
					Invocations []struct{ ExecutionSuccessful bool }
				}
			}
			require.NoError(t, json.Unmarshal([]byte(out), &log))
			require.Len(t, log.Runs, 1)
			assert.Len(t, log.Runs[0].Results, len(s.Groups), "one result per distinct leak")
			assert.Equal(t, s.Verdict != harness.Inconclusive, log.Runs[0].Invocations[0].ExecutionSuccessful)
		})
	}
}

// TestSARIFSchemaRejects shows the validation can fail.
func TestSARIFSchemaRejects(t *testing.T) {
	sch := sarifSchema(t)
	out := render(t, SARIF, schemaCases(t)["leak"])
	broken := bytes.Replace([]byte(out), []byte(`"version": "2.1.0"`), []byte(`"version": "2.0.0"`), 1)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(broken))
	require.NoError(t, err)
	require.Error(t, sch.Validate(doc))
	broken = bytes.Replace([]byte(out), []byte(`"level": "error"`), []byte(`"level": "severe"`), 1)
	doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(broken))
	require.NoError(t, err)
	require.Error(t, sch.Validate(doc))
}
