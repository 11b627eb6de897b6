package harness

import (
	"slices"
	"sync"
	"time"
)

// fireLastByte sends all but the last byte of every request early, so that
// the server has parsed everything but cannot start any handler yet; the
// release is then one byte per connection. The final bytes are written by
// one goroutine in a tight loop rather than by one goroutine each: a loop of
// one-byte writes on warm connections is a few microseconds per request,
// whereas waking N goroutines adds the scheduler's latency to the spread.
// Readers are parked on their connections before the release, so reading
// the replies overlaps with the remaining writes.
func fireLastByte(shots []*shot, timeout time.Duration, maxBody int64) time.Time {
	live := make([]*shot, 0, len(shots))
	for _, sh := range shots {
		if sh.c == nil {
			continue
		}
		if err := sh.c.SetDeadline(time.Now().Add(timeout)); err != nil {
			sh.fail(err, timeout)
			continue
		}
		raw := sh.wire.Raw
		if len(raw) > 1 {
			if _, err := sh.c.Write(raw[:len(raw)-1]); err != nil {
				sh.fail(err, timeout)
				continue
			}
		}
		live = append(live, sh)
	}
	// Steps with an offset go last, in offset order, so the loop below can
	// wait for each in turn without holding back any other.
	slices.SortStableFunc(live, func(a, b *shot) int { return int(a.step.Offset - b.step.Offset) })

	var done sync.WaitGroup
	sent := make([]chan struct{}, len(live))
	for i, sh := range live {
		sent[i] = make(chan struct{})
		done.Add(1)
		go func() {
			defer done.Done()
			<-sent[i]
			if sh.err != nil {
				return
			}
			sh.read(timeout, maxBody)
		}()
	}
	release := time.Now()
	for i, sh := range live {
		if sh.step.Offset > 0 {
			waitUntil(release.Add(sh.step.Offset))
		}
		raw := sh.wire.Raw
		_, err := sh.c.Write(raw[len(raw)-1:])
		sh.ex.Sent = time.Now()
		if err != nil {
			sh.fail(err, timeout)
		}
		close(sent[i])
	}
	done.Wait()
	return release
}
