package fuzz

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// Every drawn plan is valid, long enough and speaks the vocabulary.
func TestPlanGenDrawsValidPlans(t *testing.T) {
	v := webmailVocab()
	rapid.Check(t, func(t *rapid.T) {
		o := GenOptions{MinSteps: rapid.IntRange(1, 30).Draw(t, "min"), CrossWrites: rapid.Bool().Draw(t, "cross")}
		p := PlanGen(v, o).Draw(t, "plan")
		if err := CheckPlan(p); err != nil {
			t.Fatal(err)
		}
		if p.Len() < o.MinSteps {
			t.Fatalf("%d steps, want at least %d", p.Len(), o.MinSteps)
		}
		if u := planUsers(p); len(u) > 4 {
			t.Fatalf("%d users in one plan: %v", len(u), u)
		}
		for _, b := range p.Bursts {
			for _, st := range b.Steps {
				known := slices.Contains(v.Reads, st.Request) || slices.Contains(v.Writes, st.Request) ||
					slices.Contains(v.Logouts, st.Request) || st.Request == harness.LoginStep
				if !known || !slices.Contains(v.Users, st.User) {
					t.Fatalf("step %+v is not in the vocabulary", st)
				}
				if st.Peer != "" && !o.CrossWrites {
					t.Fatalf("a write to %s without CrossWrites", st.Peer)
				}
			}
		}
	})
}

// The draw is biased the way the package documentation says.
func TestPlanGenBias(t *testing.T) {
	v := webmailVocab()
	var plans, fewUsers, mixed, logins, cancels, bursts, shared, focused int
	for seed := range 300 {
		p, err := DrawPlan(v, GenOptions{}, uint64(seed))
		require.NoError(t, err)
		plans++
		if len(planUsers(p)) <= 3 {
			fewUsers++
		}
		var hasMix, hasLogins, hasCancel bool
		for _, b := range p.Bursts {
			bursts++
			users, reqs := map[string]bool{}, map[string]int{}
			var w, r, l int
			for _, st := range b.Steps {
				users[st.User] = true
				reqs[st.Request]++
				switch {
				case slices.Contains(v.Writes, st.Request):
					w++
				case slices.Contains(v.Reads, st.Request):
					r++
				case st.Request == harness.LoginStep:
					l++
				}
				hasCancel = hasCancel || st.CancelAfter > 0
			}
			if len(users) >= 2 {
				shared++
			}
			for _, n := range reqs {
				if n >= 2 && len(b.Steps) >= 2 {
					focused++
					break
				}
			}
			hasMix = hasMix || (w > 0 && r > 0)
			hasLogins = hasLogins || l >= 2
		}
		mixed += b2i(hasMix)
		logins += b2i(hasLogins)
		cancels += b2i(hasCancel)
	}
	assert.Greater(t, fewUsers*10, plans*6, "few users: most plans have at most 3")
	assert.Greater(t, shared*10, bursts*8, "overlaps: most bursts span two users or more")
	assert.Greater(t, focused*10, bursts*5, "the same request across users in most bursts")
	assert.Greater(t, mixed*10, plans*6, "write/read mixes in most plans")
	assert.Greater(t, logins*10, plans*2, "logins that land together in many plans")
	assert.Greater(t, cancels*10, plans*3, "client cancels in many plans")
}

func TestVocabOfWebmail(t *testing.T) {
	s, err := spec.Load("../targets/webmail/webmail.yaml")
	require.NoError(t, err)
	v := VocabOf(s)
	assert.Len(t, v.Users, 8)
	assert.Contains(t, v.Reads, "profile")
	assert.Equal(t, []string{"send"}, v.Writes)
	assert.Equal(t, []string{"logout"}, v.Logouts)
	assert.True(t, v.Login)
	_, err = DrawPlan(Vocab{Users: []string{"a"}, Reads: []string{"r"}}, GenOptions{}, 1)
	assert.Error(t, err, "one user cannot leak to another")
}
