package webmail

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Calibration is checked by ordering only: wall-clock figures would make the
// test depend on the machine and its load.
func TestSpinIterationsOrdering(t *testing.T) {
	assert.Zero(t, spinIterations(0), "0 is no work at all")
	assert.Zero(t, spinIterations(-time.Microsecond))
	steps := []time.Duration{time.Nanosecond, 200 * time.Nanosecond, time.Microsecond, DefaultWork, time.Millisecond, MaxWork}
	prev := uint64(0)
	for _, d := range steps {
		n := spinIterations(d)
		assert.GreaterOrEqual(t, n, prev, d)
		prev = n
	}
	assert.Greater(t, spinIterations(DefaultWork), spinIterations(200*time.Nanosecond))
	assert.Greater(t, spinIterations(time.Millisecond), spinIterations(DefaultWork))
}

func TestWorkOption(t *testing.T) {
	none, err := New(Options{Work: 0})
	require.NoError(t, err)
	assert.Zero(t, none.work, "Work 0 spins not at all")
	small, err := New(Options{Work: 200 * time.Nanosecond})
	require.NoError(t, err)
	def, err := New(Options{Work: DefaultWork})
	require.NoError(t, err)
	assert.Positive(t, small.work)
	assert.Greater(t, def.work, small.work)
}

// busy relies on xorshift never reaching zero from its nonzero start; if it
// did, spinZero would count it.
func TestSpinNeverZero(t *testing.T) {
	for n := range uint64(2000) {
		require.NotZero(t, spin(n), n)
	}
	before := spinZero.Load()
	busy(spinIterations(time.Microsecond))
	assert.Equal(t, before, spinZero.Load())
}
