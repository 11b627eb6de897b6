package fuzz

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

// failingExecutor is a target that refuses every request of a strategy it
// does not speak.
type failingExecutor struct{ errs int }

func (f failingExecutor) Execute(context.Context, harness.Plan) (Execution, error) {
	return Execution{Requests: 2, Errors: f.errs, Bursts: 1}, nil
}

func TestMeasureCountsRunsThatCouldNotRun(t *testing.T) {
	est, _, err := Measure(context.Background(), failingExecutor{errs: 2}, harness.Plan{}, 5)
	require.NoError(t, err)
	assert.Equal(t, Estimate{Runs: 5, Broken: 5}, est)
	est, _, err = Measure(context.Background(), failingExecutor{errs: 1}, harness.Plan{}, 5)
	require.NoError(t, err)
	assert.Equal(t, Estimate{Runs: 5}, est, "a run with one request through showed something")
}
