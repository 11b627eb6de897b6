package harness_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crosstalk/crosstalk/harness"
)

// loginHangs is a target whose login never answers until the test ends. Each
// login that arrives is announced on the returned channel.
func loginHangs(t *testing.T) (string, <-chan struct{}) {
	stop := make(chan struct{})
	arrived := make(chan struct{}, 64)
	var once sync.Once
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-stop
	}))
	t.Cleanup(func() { once.Do(func() { close(stop) }); ts.Close() })
	return ts.URL, arrived
}

// The run's duration bounds its setup too. Against a login that hangs, a
// 500 ms run used to take the 10 s timeout once per user: 80 s.
func TestSetupIsBoundedByTheDuration(t *testing.T) {
	url, _ := loginHangs(t)
	s := webmailSpec(t)
	s.Limits.Timeout = 10 * time.Second
	out, recs := collect(t, context.Background(), s, harness.Options{BaseURL: url, Duration: 500 * time.Millisecond})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.True(t, out.CutShort)
	assert.Contains(t, out.Reason, "did not finish within the 500ms duration")
	assert.Empty(t, out.LoginFailures, "the budget ran out; no user failed to log in")
	assert.Less(t, out.Elapsed, s.Limits.Timeout, "the setup outlasted the run's duration by a whole timeout")
	assert.Equal(t, harness.RecordVerdict, recs[len(recs)-1].Type)
}

// A cancel (Ctrl-C) ends a login that is waiting on the target at once, not
// when its timeout runs out.
func TestCancelEndsAHungLogin(t *testing.T) {
	url, arrived := loginHangs(t)
	s := webmailSpec(t)
	s.Limits.Timeout = 10 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-arrived // the first login is on the wire, waiting
		cancel()
	}()
	out, _ := collect(t, ctx, s, harness.Options{BaseURL: url, MaxRequests: 100})
	require.Equal(t, harness.Inconclusive, out.Verdict, out.Reason)
	assert.True(t, out.CutShort)
	assert.Less(t, out.Elapsed, s.Limits.Timeout, "the login waited out its timeout after the cancel")
}
