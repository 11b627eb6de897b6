package harness

import (
	"fmt"
	"net/http"
)

// Credentials returns the headers that send a request as user: the cookies
// its login set and the auth header the spec asks for. They let a client
// outside the harness, such as a load generator kept as a baseline, fire
// as the user after a login done exactly as the spec says.
func (f *Fixture) Credentials(user string) (http.Header, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ss, ok := f.sessions[user]
	if !ok {
		return nil, fmt.Errorf("%w: no user %q", ErrOptions, user)
	}
	h := http.Header{}
	if err := ss.authorize(h); err != nil {
		return nil, err
	}
	return h, nil
}
