package harness

import (
	"sync"
	"time"
)

// fireBarrier releases a prepared burst: one goroutine per step, all parked on
// one channel that is closed at the release. It is the simplest strategy and
// the baseline the others are measured against.
func fireBarrier(shots []*shot, timeout time.Duration, maxBody int64) time.Time {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	var release time.Time
	for _, sh := range shots {
		if sh.c == nil {
			continue
		}
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			if sh.step.Offset > 0 {
				waitUntil(release.Add(sh.step.Offset))
			}
			sh.send(timeout, maxBody)
		}()
	}
	ready.Wait()
	release = time.Now()
	close(gate)
	done.Wait()
	return release
}
