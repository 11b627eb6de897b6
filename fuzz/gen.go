package fuzz

import (
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// Vocab is what a plan may say about a target: its users and its requests by
// action. [VocabOf] reads it from a spec.
type Vocab struct {
	Users   []string
	Reads   []string
	Writes  []string
	Logouts []string
	// Login says whether re-login steps make sense: only for form and JSON
	// logins, where a login makes a new session.
	Login bool
}

// VocabOf lists a spec's users and requests.
func VocabOf(s *spec.Spec) Vocab {
	var v Vocab
	for _, u := range s.Resolved {
		v.Users = append(v.Users, u.Login)
	}
	for _, q := range s.Requests {
		switch q.Action {
		case spec.ActionWrite:
			v.Writes = append(v.Writes, q.Name)
		case spec.ActionLogout:
			v.Logouts = append(v.Logouts, q.Name)
		case spec.ActionRead, "":
			v.Reads = append(v.Reads, q.Name)
		}
	}
	v.Login = s.Login.Type == spec.LoginForm || s.Login.Type == spec.LoginJSON
	return v
}

func (v Vocab) check() error {
	if len(v.Users) < 2 {
		return fmt.Errorf("fuzz: a plan needs at least two users, the vocabulary has %d", len(v.Users))
	}
	if len(v.Reads) == 0 {
		return fmt.Errorf("fuzz: the vocabulary has no read requests")
	}
	return nil
}

// GenOptions shape drawn plans.
type GenOptions struct {
	// MinSteps and MaxSteps bound the steps of a plan (defaults 20 and 40).
	MinSteps, MaxSteps int
	// MaxBurst bounds the steps of one burst (default 8).
	MaxBurst int
	// MaxUsers bounds the users one plan involves (default 4): isolation
	// bugs show between two users far more often than they need eight.
	MaxUsers int
	// CrossWrites lets writes go to another user of the plan. By default a
	// user writes to itself. Mail sent across users stays in the target
	// after crosstalk exits, and the next crosstalk process has no record
	// that it was sent, so its sequential baseline would report the
	// sender's address in the recipient's inbox as a leak; use cross
	// writes against a target that is restarted between runs.
	CrossWrites bool
}

func (o GenOptions) withDefaults() GenOptions {
	if o.MinSteps <= 0 {
		o.MinSteps = 20
	}
	if o.MaxSteps < o.MinSteps {
		o.MaxSteps = max(o.MinSteps, 40)
	}
	if o.MaxBurst < 2 {
		o.MaxBurst = 8
	}
	if o.MaxUsers < 2 {
		o.MaxUsers = 4
	}
	return o
}

// Burst kinds and their weights out of 100. Overlapping reads of the same
// request by different users find shared-state bugs; write/read mixes find
// bugs where one user's write lands in another's view (request-scoped values
// used after return, caches filled by a write); logins together find
// session-id collisions; cancels find pooled connections put back unread.
const (
	kindOverlap = iota
	kindMix
	kindLogins
	kindLogout
	kindCancel
)

var kindWeights = [...]int{kindOverlap: 40, kindMix: 30, kindLogins: 10, kindLogout: 10, kindCancel: 10}

// PlanGen returns a rapid generator of whole plans over v. Everything is
// drawn up front: rapid's Draw is not safe for concurrent use, and a plan
// that is data can be saved, replayed and shrunk. The draw is biased towards
// what finds isolation bugs: few users with many overlaps, the same request
// (and so the same resource id) across users, write/read mixes and logins
// that land together.
func PlanGen(v Vocab, o GenOptions) *rapid.Generator[harness.Plan] {
	o = o.withDefaults()
	return rapid.Custom(func(t *rapid.T) harness.Plan {
		if err := v.check(); err != nil {
			t.Fatalf("%v", err)
		}
		// Few users: two 40% of the time, three or four otherwise.
		k := min(len(v.Users), o.MaxUsers, []int{2, 2, 2, 2, 3, 3, 3, 4, 4, 4}[rapid.IntRange(0, 9).Draw(t, "users")])
		perm := rapid.Permutation(v.Users).Draw(t, "who")
		users := perm[:k]
		// One focus request shared by most steps: the same path, so the
		// same resource id in every user's own namespace.
		focus := rapid.SampledFrom(v.Reads).Draw(t, "focus")
		total := rapid.IntRange(o.MinSteps, o.MaxSteps).Draw(t, "steps")
		var p harness.Plan
		for n := 0; n < total; {
			b := drawBurst(t, v, o, users, focus)
			if len(b.Steps) == 0 {
				continue
			}
			p.Bursts = append(p.Bursts, b)
			n += len(b.Steps)
		}
		return p
	})
}

func drawKind(t *rapid.T, v Vocab) int {
	for {
		x := rapid.IntRange(0, 99).Draw(t, "kind")
		kind := 0
		for kind = range kindWeights {
			if x < kindWeights[kind] {
				break
			}
			x -= kindWeights[kind]
		}
		switch {
		case kind == kindMix && len(v.Writes) == 0,
			kind == kindLogins && !v.Login,
			kind == kindLogout && len(v.Logouts) == 0:
			continue
		}
		return kind
	}
}

// drawRead is the focus request two times in three.
func drawRead(t *rapid.T, v Vocab, focus string) string {
	if rapid.IntRange(0, 2).Draw(t, "same") > 0 {
		return focus
	}
	return rapid.SampledFrom(v.Reads).Draw(t, "read")
}

// drawOffset is zero most of the time, since most overlap comes from the
// release itself; otherwise a few microseconds, a typical critical window.
func drawOffset(t *rapid.T) time.Duration {
	if rapid.IntRange(0, 9).Draw(t, "delayed") < 7 {
		return 0
	}
	return time.Duration(rapid.IntRange(1, 50).Draw(t, "offset_us")) * time.Microsecond
}

func drawBurst(t *rapid.T, v Vocab, o GenOptions, users []string, focus string) harness.Burst {
	var b harness.Burst
	add := func(st harness.Step) {
		if len(b.Steps) < o.MaxBurst {
			b.Steps = append(b.Steps, st)
		}
	}
	k := len(users)
	switch drawKind(t, v) {
	case kindOverlap:
		size := rapid.IntRange(2, min(o.MaxBurst, 2*k)).Draw(t, "size")
		// Users in turn, so a burst always spans at least two of them.
		start := rapid.IntRange(0, k-1).Draw(t, "first")
		for i := range size {
			add(harness.Step{User: users[(start+i)%k], Request: drawRead(t, v, focus), Offset: drawOffset(t)})
		}
	case kindMix:
		from := rapid.IntRange(0, k-1).Draw(t, "writer")
		to := (from + 1 + rapid.IntRange(0, k-2).Draw(t, "reader")) % k
		peer := ""
		if o.CrossWrites && rapid.IntRange(0, 4).Draw(t, "to_self") > 0 {
			peer = users[to]
		}
		add(harness.Step{User: users[from], Request: rapid.SampledFrom(v.Writes).Draw(t, "write"), Peer: peer})
		// The recipient reads while the mail is being sent, and others too.
		for i := range rapid.IntRange(1, min(o.MaxBurst-1, k+1)).Draw(t, "readers") {
			u := users[(to+i)%k]
			add(harness.Step{User: u, Request: drawRead(t, v, focus), Offset: drawOffset(t)})
		}
		if rapid.IntRange(0, 2).Draw(t, "reply") == 0 {
			back := ""
			if o.CrossWrites {
				back = users[from]
			}
			add(harness.Step{User: users[to], Request: rapid.SampledFrom(v.Writes).Draw(t, "write"), Peer: back})
		}
	case kindLogins:
		for _, u := range users {
			add(harness.Step{User: u, Request: harness.LoginStep})
		}
	case kindLogout:
		who := rapid.IntRange(0, k-1).Draw(t, "leaver")
		add(harness.Step{User: users[who], Request: rapid.SampledFrom(v.Logouts).Draw(t, "logout")})
		for i := 1; i < k; i++ {
			add(harness.Step{User: users[(who+i)%k], Request: drawRead(t, v, focus), Offset: drawOffset(t)})
		}
	case kindCancel:
		for i := range rapid.IntRange(2, min(o.MaxBurst, 2*k)).Draw(t, "size") {
			st := harness.Step{User: users[i%k], Request: drawRead(t, v, focus)}
			if rapid.IntRange(0, 1).Draw(t, "cancel") == 0 {
				st.CancelAfter = time.Duration(rapid.IntRange(20, 2000).Draw(t, "cancel_us")) * time.Microsecond
			}
			add(st)
		}
	}
	return b
}
