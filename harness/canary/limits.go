package canary

import (
	"context"
	"sync"
	"time"
)

// pacer spaces requests evenly at a rate: a burst of n requests takes n
// slots. There is no allowance saved up for later, so the rate holds over
// any stretch of time, not only on average.
type pacer struct {
	mu   sync.Mutex
	gap  time.Duration
	next time.Time
}

func newPacer(rate float64) *pacer {
	return &pacer{gap: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until n more requests may be sent, or ctx is done.
func (p *pacer) wait(ctx context.Context, n int) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(time.Duration(n) * p.gap)
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
	return ctx.Err()
}

// ceiling is a counting semaphore over requests in flight. A burst takes all
// of its slots at once, or none, so two half-admitted bursts can never hold
// each other up.
type ceiling struct {
	mu    sync.Mutex
	cap   int
	used  int
	freed chan struct{} // closed and replaced whenever slots are released
	peak  int
}

func newCeiling(n int) *ceiling { return &ceiling{cap: n, freed: make(chan struct{})} }

func (c *ceiling) acquire(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.used+n <= c.cap {
			c.used += n
			c.peak = max(c.peak, c.used)
			c.mu.Unlock()
			return nil
		}
		ch := c.freed
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (c *ceiling) release(n int) {
	c.mu.Lock()
	c.used -= n
	close(c.freed)
	c.freed = make(chan struct{})
	c.mu.Unlock()
}
