package fuzz

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

const goodPlan = `{
  "version": 1,
  "spec": "targets/webmail/webmail.yaml",
  "target": "webmail",
  "base_url": "http://127.0.0.1:8080",
  "sync": "barrier",
  "seed": 6,
  "original_steps": 22,
  "plan": {"bursts": [{"steps": [
    {"user": "user4", "request": "profile"},
    {"user": "user5", "request": "profile", "offset_ns": 20000, "cancel_after_ns": 1000000},
    {"user": "user5", "request": "send", "peer": "user4"},
    {"user": "user4", "request": "@login"}
  ]}]},
  "reproduction": {"runs": 50, "fails": 45}
}`

func TestParseFileReadsEveryField(t *testing.T) {
	f, err := ParseFile([]byte(goodPlan))
	require.NoError(t, err)
	assert.Equal(t, "webmail", f.SpecName)
	assert.Equal(t, uint64(6), f.Seed)
	assert.Equal(t, 22, f.OriginalSteps)
	require.Len(t, f.Plan.Bursts, 1)
	st := f.Plan.Bursts[0].Steps
	require.Len(t, st, 4)
	assert.Equal(t, 20*time.Microsecond, st[1].Offset)
	assert.Equal(t, time.Millisecond, st[1].CancelAfter)
	assert.Equal(t, "user4", st[2].Peer)
	assert.Equal(t, harness.LoginStep, st[3].Request)
	assert.InDelta(t, 0.9, f.Reproduction.Rate(), 1e-9)
}

func TestParseFileRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":        `plan`,
		"trailing data":   `{"version":1,"target":"t","sync":"barrier","plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]}} {}`,
		"unknown field":   `{"version":1,"bogus":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]}}`,
		"newer version":   `{"version":2,"plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]}}`,
		"no bursts":       `{"version":1,"plan":{"bursts":[]}}`,
		"empty burst":     `{"version":1,"plan":{"bursts":[{"steps":[]}]}}`,
		"no user":         `{"version":1,"plan":{"bursts":[{"steps":[{"request":"r"}]}]}}`,
		"no request":      `{"version":1,"plan":{"bursts":[{"steps":[{"user":"a"}]}]}}`,
		"negative offset": `{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r","offset_ns":-1}]}]}}`,
		"huge offset":     `{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r","offset_ns":2000000000}]}]}}`,
		"bad cancel":      `{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r","cancel_after_ns":-5}]}]}}`,
		"impossible rate": `{"version":1,"reproduction":{"runs":2,"fails":3},"plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]}}`,
	} {
		_, err := ParseFile([]byte(in))
		assert.Error(t, err, name)
	}
}

func TestFileRoundTripsThroughDisk(t *testing.T) {
	f, err := ParseFile([]byte(goodPlan))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sub", "plan.json")
	require.NoError(t, f.WriteFile(path))
	g, err := ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, f, g)
}

func TestCheckAgainstNamesTheUnknown(t *testing.T) {
	s, err := spec.Load("../targets/webmail/webmail.yaml")
	require.NoError(t, err)
	f, err := ParseFile([]byte(goodPlan))
	require.NoError(t, err)
	require.NoError(t, CheckAgainst(f.Plan, s))
	bad := clonePlan(f.Plan)
	bad.Bursts[0].Steps[0].User = "mallory"
	assert.ErrorContains(t, CheckAgainst(bad, s), `"mallory"`)
	bad = clonePlan(f.Plan)
	bad.Bursts[0].Steps[1].Request = "nosuch"
	assert.ErrorContains(t, CheckAgainst(bad, s), `"nosuch"`)
	bad = clonePlan(f.Plan)
	bad.Bursts[0].Steps[2].Peer = "eve"
	assert.ErrorContains(t, CheckAgainst(bad, s), `"eve"`)
}
