package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/fuzz"
	"github.com/crosstalk/crosstalk/harness/incident"
	"github.com/crosstalk/crosstalk/reports"
)

// TestIncidentAgreesWithRunPairForPair runs crosstalk against the webmail
// with the 2008 bug and its own access log, then reads that log back: the
// log's direct evidence must name exactly the viewer → owner pairs, with
// the same counts, that crosstalk's oracle found in the responses. The
// window is widened to 1 ms for the same reason as in the fuzz test: this
// is about agreement, not about how fast the leak is found.
func TestIncidentAgreesWithRunPairForPair(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	url := serve(t, "-bug", "lastlogin", "-work", "1ms", "-access-log", logPath)
	results := filepath.Join(dir, "results.jsonl")
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-requests", "3000", "-o", results)
	require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)

	reportPath := filepath.Join(dir, "incident.json")
	planPath := filepath.Join(dir, "plan.json")
	usersCSV := filepath.Join(dir, "users.csv")
	r = crosstalk(t, "incident", "-log", logPath, "-model-from", results, "-window", "1ms",
		"-json", reportPath, "-users-csv", usersCSV, "-spec", webmailSpec, "-url", url, "-plan-out", planPath)
	require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "# Incident report")

	// What crosstalk's oracle found: one finding per response and owner.
	f, err := os.Open(results)
	require.NoError(t, err)
	recs, err := reports.ReadAll(f)
	f.Close()
	require.NoError(t, err)
	type resp struct {
		burst, step int
		owner       string
	}
	seen := map[resp]bool{}
	found := map[[2]string]int64{}
	for _, rec := range recs {
		if fd := rec.Finding; fd != nil {
			k := resp{fd.Burst, fd.Step, fd.Owner}
			if !seen[k] {
				seen[k] = true
				found[[2]string{fd.Viewer, fd.Owner}]++
			}
		}
	}
	require.NotEmpty(t, found)

	var rep incident.Report
	data, err := os.ReadFile(reportPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &rep))
	logged := map[[2]string]int64{}
	for p := range rep.Direct.All() {
		assert.Equal(t, incident.ByOwnerField, p.Evidence, "%+v", p)
		assert.Equal(t, "profile", p.Kind)
		logged[[2]string{p.Viewer, p.Owner}] += p.Count
	}
	assert.Equal(t, found, logged, "the log's direct evidence and crosstalk's findings must agree pair for pair")
	total := int64(0)
	for _, n := range found {
		total += n
	}
	t.Logf("%d leaking responses in %d viewer -> owner pairs, by crosstalk's oracle and by the access log alike; %d of the pairs outside the 1 ms model",
		total, len(found), rep.DirectOutsideModel)

	// The bound from crosstalk's own findings covers every owner.
	for _, row := range rep.Matrix {
		assert.GreaterOrEqual(t, row.BoundOwners, row.DirectOwners, row.Kind)
	}
	assert.FileExists(t, usersCSV)

	// The plan derived from the log's leak windows replays the leak.
	pf, err := fuzz.ReadFile(planPath)
	require.NoError(t, err)
	require.NotEmpty(t, pf.Plan.Bursts)
	r = crosstalk(t, "replay", "-plan", planPath, "-url", pf.BaseURL, "-n", "50")
	pj, _ := json.Marshal(pf.Plan)
	t.Logf("derived plan: %d steps in %d bursts %s; replay: %s", pf.Plan.Len(), len(pf.Plan.Bursts), pj, strings.TrimSpace(r.stdout))
	assert.Equal(t, 1, r.code, "the derived plan reproduces the leak\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)

	// fuzz -plan shrinks it to a plan that still holds the cause: two
	// users' profile reads together. (Its measured rate is not checked
	// here: under -race, beside other packages' tests, ten runs of a
	// two-request plan can all miss; TestFuzzPlanShrinksAGivenPlan checks it.)
	r = crosstalk(t, "fuzz", "-plan", planPath, "-url", pf.BaseURL, "-measure", "10", "-budget", "1m", "-yield=false")
	require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	mf, err := fuzz.ReadFile(strings.TrimSuffix(planPath, ".json") + ".min.json")
	require.NoError(t, err)
	assert.LessOrEqual(t, mf.Plan.Len(), pf.Plan.Len(), r.stdout)
	readers := map[string]bool{}
	for _, b := range mf.Plan.Bursts {
		for _, st := range b.Steps {
			if st.Request == "profile" {
				readers[st.User] = true
			}
		}
	}
	assert.GreaterOrEqual(t, len(readers), 2, r.stdout)
}

func TestIncidentSynthesizeAndShards(t *testing.T) {
	dir := t.TempDir()
	r := crosstalk(t, "incident", "-synthesize", dir, "-synth-users", "2000")
	require.Equal(t, 0, r.code, r.stderr)
	logPath, sess, truth := filepath.Join(dir, "access.log"), filepath.Join(dir, "sessions.csv"), filepath.Join(dir, "truth.json")
	common := []string{"-log", logPath, "-sessions", sess, "-deploy", "2008-07-10T15:10:00Z", "-classes", incident.SynthClasses[0],
		"-window", "250us", "-truth", truth, "-format", "json"}
	single := crosstalk(t, append([]string{"incident"}, common...)...)
	require.Equal(t, 1, single.code, single.stderr)
	var rep incident.Report
	require.NoError(t, json.Unmarshal([]byte(single.stdout), &rep))
	require.NotNil(t, rep.Truth)
	assert.True(t, rep.Truth.DirectEqual)
	assert.True(t, rep.Truth.BoundNeverBelow)
	var parts []string
	for i := range 4 {
		p := filepath.Join(dir, "p"+string(rune('0'+i))+".json")
		r := crosstalk(t, append(append([]string{"incident"}, common...), "-shard", string(rune('0'+i))+"/4", "-partial-out", p, "-format", "none")...)
		require.Contains(t, []int{0, 1}, r.code, r.stderr)
		parts = append(parts, p)
	}
	merged := crosstalk(t, append([]string{"incident", "merge", "-truth", truth, "-format", "json"}, parts...)...)
	require.Equal(t, 1, merged.code, merged.stderr)
	// Compared as a whole, but reported by line: the report is long.
	want, got := strings.Split(single.stdout, "\n"), strings.Split(merged.stdout, "\n")
	require.Len(t, got, len(want), "merge prints exactly the single pass's report")
	for i := range want {
		require.Equal(t, want[i], got[i], "merge prints exactly the single pass's report: line %d", i+1)
	}
}

func TestIncidentUsageErrorsExit2(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk.log")
	var b []byte
	for range 200 {
		b = append(b, "this is not an access log\n"...)
	}
	require.NoError(t, os.WriteFile(junk, b, 0o644))
	for _, args := range [][]string{
		{"incident"},
		{"incident", "-log", "does-not-exist.log"},
		{"incident", "-log", junk},
		{"incident", "-log", junk, "-shard", "4/4"},
		{"incident", "-log", junk, "-window", "1ms"},
		{"incident", "-log", junk, "-classes", "("},
		{"incident", "-log", junk, "-deploy", "yesterday"},
		{"incident", "merge"},
		{"incident", "merge", junk},
	} {
		r := crosstalk(t, args...)
		assert.Equal(t, 2, r.code, "%v\n%s", args, r.stderr)
		assert.NotContains(t, r.stderr, "goroutine", "no stack trace")
	}
	r := crosstalk(t, "incident", "-log", junk)
	assert.Contains(t, r.stderr, "too many malformed lines")
	assert.Contains(t, r.stderr, junk+" line 1")
}
