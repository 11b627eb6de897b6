package reports

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream is read back only with the values a run can write.
func TestDecodeRejectsImpossibleValues(t *testing.T) {
	for name, line := range map[string]string{
		"verdict":         `{"v":1,"type":"verdict","verdict":{"verdict":"pwned","requests":1}}`,
		"negative count":  `{"v":1,"type":"verdict","verdict":{"verdict":"leak","requests":-5}}`,
		"negative burst":  `{"v":1,"type":"burst","burst":{"burst":1,"findings":-1}}`,
		"negative header": `{"v":1,"type":"header","header":{"spec":"s","burst_size":-2}}`,
	} {
		_, err := ReadAll(strings.NewReader(line + "\n"))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "line 1", name)
	}
	recs, err := ReadAll(strings.NewReader(`{"v":1,"type":"verdict","verdict":{"verdict":"isolated","requests":3}}` + "\n"))
	require.NoError(t, err)
	assert.Len(t, recs, 1)
}
