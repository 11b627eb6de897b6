package harness_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/crosstalk/crosstalk/harness"
)

// Options is FixtureOptions and Budget side by side: every field of it is
// in exactly one of them, and Fixture and Budget carry every value over.
func TestOptionsSplitIntoFixtureAndBudget(t *testing.T) {
	fields := func(v any) map[string]bool {
		m := map[string]bool{}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			m[rt.Field(i).Name] = true
		}
		return m
	}
	fo, b := fields(harness.FixtureOptions{}), fields(harness.Budget{})
	for name := range fields(harness.Options{}) {
		assert.True(t, fo[name] != b[name], "Options.%s must be in exactly one of FixtureOptions and Budget", name)
	}
	assert.Len(t, fields(harness.Options{}), len(fo)+len(b))

	plan := &harness.Plan{}
	o := harness.Options{Duration: time.Second, MaxRequests: 7, StopOnFirst: true, Plan: plan, Progress: func(harness.Progress) {},
		BurstSize: 3, Sync: harness.SyncH2, Trace: true, BaseURL: "http://127.0.0.1:1", Insecure: true, Seed: 9,
		Settle: time.Millisecond, CacheBust: "cb", Rate: 50, Header: http.Header{"X-A": {"1"}}}
	assert.Equal(t, harness.FixtureOptions{BurstSize: 3, Sync: harness.SyncH2, Trace: true, BaseURL: "http://127.0.0.1:1",
		Insecure: true, Seed: 9, Settle: time.Millisecond, CacheBust: "cb", Rate: 50, Header: http.Header{"X-A": {"1"}}}, o.Fixture())
	got := o.Budget()
	assert.NotNil(t, got.Progress)
	got.Progress = nil
	assert.Equal(t, harness.Budget{Duration: time.Second, MaxRequests: 7, StopOnFirst: true, Plan: plan}, got)
}
