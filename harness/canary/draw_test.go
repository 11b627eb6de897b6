package canary

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/targets/webmail"
)

// Same-request bursts: the reads take turns by weight from the first burst
// on, spread out, and each instance keeps its own turn.
func TestSameBurstsTakeTurnsByWeight(t *testing.T) {
	cn, err := New(Config{Spec: webmailSpec(t), Instances: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, MaxDuration: time.Second})
	require.NoError(t, err)
	require.Equal(t, BurstsMixed, cn.cfg.Bursts, "the default")
	cn.cfg.Bursts = BurstsSame
	var got []string
	for range 12 {
		got = append(got, cn.inst[0].nextRead(cn.reads).Name)
	}
	// profile has weight 4, inbox and inbox_html 1 each.
	assert.Equal(t, []string{"profile", "profile", "inbox", "profile", "inbox_html", "profile",
		"profile", "profile", "inbox", "profile", "inbox_html", "profile"}, got)
	assert.Equal(t, "profile", cn.inst[1].nextRead(cn.reads).Name, "each instance has its own turn")

	_, err = New(Config{Spec: webmailSpec(t), MaxDuration: time.Second, Bursts: "shuffled"})
	require.ErrorIs(t, err, ErrConfig)
}

// The time-to-detect simulation measures each way of drawing bursts side by
// side and gives one row per way, mode and share. Only the shape is checked:
// the figures are the benchmark's to report.
func TestMeasureDetectionRows(t *testing.T) {
	s, err := spec.Parse("webmail.yaml", webmail.SpecYAML)
	require.NoError(t, err)
	var heard []string
	rows, err := MeasureDetection(context.Background(), DetectConfig{Spec: s, Launch: LocalLaunch(taggedBuild), Shares: []float64{1}, Trials: 2,
		Rate: 200, BurstSize: 4, Cap: 5 * time.Second,
		Variants: []DetectVariant{{Sync: "barrier", Bursts: BurstsSame}, {Sync: "lastbyte", Bursts: BurstsMixed}},
		Progress: func(mode string, _ float64, _ int, _ time.Duration, _ bool) { heard = append(heard, mode) }})
	require.NoError(t, err)
	require.Len(t, rows, 4)
	for i, want := range []struct{ mode, bursts string }{
		{ModeInstance, BurstsSame}, {ModeInstance, BurstsMixed}, {ModeBalancer, BurstsSame}, {ModeBalancer, BurstsMixed},
	} {
		assert.Equal(t, want.mode, rows[i].Mode)
		assert.Equal(t, want.bursts, rows[i].Variant.Bursts)
		assert.Equal(t, 2, rows[i].Trials)
		assert.LessOrEqual(t, rows[i].Median, 5*time.Second)
	}
	a, b := "per instance, -sync barrier, same bursts", "per instance, -sync lastbyte, mixed bursts"
	c, d := "through the balancer, -sync barrier, same bursts", "through the balancer, -sync lastbyte, mixed bursts"
	assert.Equal(t, []string{a, b, a, b, c, d, c, d}, heard, "the settings' trials take turns")
}
