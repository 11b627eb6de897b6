package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

// A reset command succeeds on exit 0, fails with its output on any other
// exit, and fails, stopped, when it outlives its timeout.
func TestCommandReset(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, harness.CommandReset("true", time.Minute).Reset(ctx))
	err := harness.CommandReset("echo no database; exit 3", time.Minute).Reset(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no database")
	start := time.Now()
	err = harness.CommandReset("sleep 30", 200*time.Millisecond).Reset(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not finish within 200ms")
	assert.Less(t, time.Since(start), 20*time.Second, "the command was stopped at its timeout")
	assert.Equal(t, "command: make reset", harness.CommandReset("make reset", 0).String())
}
