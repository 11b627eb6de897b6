package harness

import "time"

// Plan is a sequence of bursts to fire. A plan is plain data, drawn in full
// before anything is sent: that way it can be saved, replayed and shrunk, and
// the generator that drew it never runs on the firing goroutines.
type Plan struct {
	Bursts []Burst `json:"bursts"`
}

// Burst is a set of steps released together.
type Burst struct {
	Steps []Step `json:"steps"`
}

// Step is one request of one user within a burst.
type Step struct {
	// User is the login of the user who sends it.
	User string `json:"user"`
	// Request names a spec request, or is [LoginStep] for the login flow.
	Request string `json:"request"`
	// Peer is the recipient of a write request ({{peer_login}},
	// {{peer_email}}); empty means the user writes to itself.
	Peer string `json:"peer,omitempty"`
	// Offset delays this step past the burst's release.
	Offset time.Duration `json:"offset_ns,omitempty"`
	// CancelAfter, when set, abandons the request this long after it was sent,
	// the way a client that gives up does.
	CancelAfter time.Duration `json:"cancel_after_ns,omitempty"`
}

// Len is the number of steps over all bursts.
func (p Plan) Len() int {
	n := 0
	for _, b := range p.Bursts {
		n += len(b.Steps)
	}
	return n
}

// LoginStep is the request name a plan step uses to run the spec's login flow
// again, as a new browser would. Logins that land together are how session-id
// collisions are found. The "@" keeps it apart from any spec request name.
const LoginStep = "@login"
