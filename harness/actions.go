package harness

import (
	"github.com/crosstalk/crosstalk/harness/internal/wire"
	"github.com/crosstalk/crosstalk/harness/oracle"
	"github.com/crosstalk/crosstalk/harness/spec"
)

// writeCanaries is how many canaries each user gets for write requests. They
// are made before the oracle is built, because the oracle is immutable; a
// user that writes more often reuses them, which is harmless since grants
// are per value and per recipient.
const writeCanaries = 32

// grants records what a viewer may legitimately see of another user: the
// identity of users who sent it something, and the canaries they sent. Mail
// from alice in bob's inbox rightly shows alice's address; it is not a leak.
type grants map[[3]string]bool

func (g grants) allowIdentity(viewer, owner string) { g[[3]string{viewer, owner, ""}] = true }

func (g grants) allowValue(viewer, owner, v string) { g[[3]string{viewer, owner, v}] = true }

// allowed reports whether m, found in a response to viewer, was granted.
// Only identity values and canaries that were sent are covered: anything
// else of the sender's (its profile, its other mail) is still a leak.
func (g grants) allowed(viewer string, m oracle.Match) bool {
	if m.Kind == oracle.Identity && m.Marker != oracle.Redacted && g[[3]string{viewer, m.Owner, ""}] {
		return true
	}
	return g[[3]string{viewer, m.Owner, m.Marker}]
}

// buildWrite expands a write request with peer as its recipient and returns
// the canaries it carries, to be granted to the peer.
func (ss *session) buildWrite(r *spec.Request, peer *session) (wire.Request, []string, error) {
	ss.mu.Lock()
	ss.peer, ss.drawn = peer, nil
	ss.mu.Unlock()
	w, err := ss.build(r)
	ss.mu.Lock()
	drawn := ss.drawn
	ss.peer, ss.drawn = nil, nil
	ss.mu.Unlock()
	return w, drawn, err
}

// loginRequest builds the spec's login request for a fresh session: no
// cookies from before, as a new browser would send it.
func (ss *session) loginRequest() (wire.Request, error) {
	ss.resetAuth()
	return ss.buildLogin()
}

// afterAction updates the session once an action's response came back.
func (ss *session) afterAction(action string, resp wire.Response) error {
	switch action {
	case spec.ActionLogin:
		ss.absorb(resp)
		return ss.loginResult(resp)
	case spec.ActionLogout:
		ss.resetAuth()
		ss.loggedOut = true
	}
	return nil
}

// needsLogin says whether the user must log in again before a step that is
// not itself a login: after a logout step, later reads would only measure
// 401s.
func (ss *session) needsLogin() bool {
	return ss.loggedOut && ss.spec.Login.Type != spec.LoginBasic && ss.spec.Login.Type != spec.LoginBearer &&
		ss.spec.Login.Type != spec.LoginNone
}
