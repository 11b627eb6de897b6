package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/crosstalk/crosstalk/harness/spec"
)

// naive fires the way race-the-web and hey-style tools do: every request
// from its own goroutine with its own client, so over its own new
// connection, and no barrier. It fires the spec's one GET as the users the
// harness logged in.
type naive struct {
	url   string        // base URL and the request's path
	creds []http.Header // one per user, from [logins]
}

func (n *naive) get(ctx context.Context, creds http.Header) (*http.Response, []byte, error) {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range creds {
		req.Header[k] = vs
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

// burst fires size requests, users first, first+1, ... at once, and returns
// the handler-entry time each reported and the body each got back.
func (n *naive) burst(ctx context.Context, first, size int) ([]time.Time, [][]byte, error) {
	arr := make([]time.Time, size)
	bodies := make([][]byte, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i := range size {
		wg.Go(func() {
			resp, body, err := n.get(ctx, n.creds[(first+i)%len(n.creds)])
			if err != nil {
				errs[i] = err
				return
			}
			bodies[i] = body
			if ns, perr := strconv.ParseInt(resp.Header.Get(arrivalHeader), 10, 64); perr == nil {
				arr[i] = time.Unix(0, ns)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return arr, bodies, nil
}

// spreads fires bursts of size and returns each one's arrival spread.
func (n *naive) spreads(ctx context.Context, size, bursts int) ([]time.Duration, error) {
	var out []time.Duration
	for b := 0; b < bursts && ctx.Err() == nil; b++ {
		arr, _, err := n.burst(ctx, b, size)
		if err != nil {
			return nil, err
		}
		lo, hi := arr[0], arr[0]
		for _, a := range arr {
			if a.IsZero() {
				return nil, fmt.Errorf("no arrival time reported")
			}
			if a.Before(lo) {
				lo = a
			}
			if a.After(hi) {
				hi = a
			}
		}
		out = append(out, hi.Sub(lo))
	}
	return out, nil
}

// leaks runs t's trials with bursts of every user. A response that carries
// the e-mail address of another user than the one who asked is a leak; the
// naive tools check nothing, so this is the least a baseline must see.
func (n *naive) leaks(ctx context.Context, emails []string, t *trials) {
	t.start = time.Now()
	for ctx.Err() == nil && !t.enough() {
		_, bodies, err := n.burst(ctx, 0, len(n.creds))
		leaked := false
		for i, body := range bodies {
			for j, e := range emails {
				if j != i && bytes.Contains(body, []byte(e)) {
					leaked = true
				}
			}
		}
		if err == nil {
			t.tick(leaked)
		}
	}
	t.cut()
}

// newNaive logs the users of s in at base and aims at the spec's first
// request, which must be a GET without templates.
func newNaive(ctx context.Context, base string, s *spec.Spec) (*naive, error) {
	creds, err := logins(ctx, base, s)
	if err != nil {
		return nil, err
	}
	return &naive{url: base + s.Requests[0].Path, creds: creds}, nil
}
