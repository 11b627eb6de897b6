package spec

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMinCoverageLimit(t *testing.T) {
	const head = "base_url: http://127.0.0.1:1\nusers: {pattern: {count: 2, login: \"u{{n}}\"}}\nlogin: {type: none}\nrequests: [{name: a, path: /a}]\n"
	s, err := Parse("c.yaml", []byte(head))
	require.NoError(t, err)
	assert.Equal(t, DefaultMinCoverage, s.Limits.MinCoverage)
	s, err = Parse("c.yaml", []byte(head+"limits: {min_coverage: 0}\n"))
	require.NoError(t, err)
	assert.Zero(t, s.Limits.MinCoverage, "an explicit 0 turns the check off")
	_, err = Parse("c.yaml", []byte(head+"limits: {min_coverage: 1.5}\n"))
	var se *Error
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, "limits.min_coverage", se.Field)
	assert.Equal(t, 5, se.Line)
}
