package fuzz

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParsePlan: any input either fails to parse or parses to a file that
// passes its own checks and survives a marshal/parse round trip unchanged.
func FuzzParsePlan(f *testing.F) {
	f.Add([]byte(goodPlan))
	f.Add([]byte(`{"version":1,"target":"t","sync":"barrier","plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]}}`))
	f.Add([]byte(`{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r","offset_ns":-1}]}]}}`))
	f.Add([]byte(`{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"@login","cancel_after_ns":5}]}]},"finding":{"viewer":"a","owner":"b"}}`))
	f.Add([]byte(`{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]},"sessions":"fresh","reset":"spec: POST /_reset","persistence":"persistent","needs_reset":true}`))
	f.Add([]byte(`{"version":1,"plan":{"bursts":[{"steps":[{"user":"a","request":"r"}]}]},"persistence":"sometimes"}`))
	f.Add([]byte(`{"version":1,"plan":{"bursts":null}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseFile(data)
		if err != nil {
			return
		}
		require.NoError(t, p.Check())
		out, err := p.Marshal()
		require.NoError(t, err)
		q, err := ParseFile(out)
		require.NoError(t, err, "%s", out)
		again, err := q.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(out), string(again))
	})
}
