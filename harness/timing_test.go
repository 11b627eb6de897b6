package harness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentilesAreNearestRank(t *testing.T) {
	assert.Equal(t, []time.Duration{0, 0}, Percentiles(nil, 50, 90))
	ds := []time.Duration{50, 10, 40, 20, 30, 100, 90, 80, 70, 60}
	assert.Equal(t, []time.Duration{50, 90, 10, 100}, Percentiles(ds, 50, 90, 0, 100))
	assert.Equal(t, []time.Duration{50, 10}, ds[:2], "the input is not reordered")
}
