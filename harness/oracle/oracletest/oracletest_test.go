package oracletest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crosstalk/crosstalk/harness/oracle"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestPageIsSizedRepeatableAndPlanted(t *testing.T) {
	_, planted := Canaries(3)
	for _, size := range []int{8 << 10, 1 << 20} {
		p := Page(size, planted)
		assert.GreaterOrEqual(t, len(p), size)
		assert.Less(t, len(p), size+64, "about size bytes")
		assert.Equal(t, p, Page(size, planted), "the same page every time")
		n := 0
		for _, c := range planted {
			n += bytes.Count(p, []byte(c))
		}
		assert.Positive(t, n, "size %d carries planted values", size)
	}
	assert.NotContains(t, string(Page(1<<20, nil)), "ctk")
}

// Every workload must give the oracle matches to report, or a benchmark of
// it measures the fast path of a clean page only.
func TestWorkloadsMatch(t *testing.T) {
	for name, w := range map[string]func() ([]oracle.Marker, []string){
		"canaries": func() ([]oracle.Marker, []string) { return Canaries(100) },
		"identity": func() ([]oracle.Marker, []string) { return CanariesAndIdentity(100) },
		"learned":  func() ([]oracle.Marker, []string) { return Learned(100, 10000) },
	} {
		ms, planted := w()
		o, err := oracle.New(ms)
		require.NoError(t, err, name)
		assert.NotEmpty(t, o.Scan(Viewer, Response(Page(1<<20, planted))), name)
		assert.Empty(t, o.Scan(Viewer, Response(Page(1<<20, nil))), name)
	}
	ms, planted := Learned(100, 10000)
	assert.Len(t, ms, 100*4+10000)
	assert.Len(t, planted, 100)
	ms, planted = CanariesAndIdentity(5)
	assert.Len(t, ms, 20)
	assert.Len(t, planted, 5)
	assert.True(t, oracle.IsCanary(planted[0]), "canaries have the generator's shape: %s", planted[0])
}
