//go:build linux

package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// yieldCPU moves every thread of this process to SCHED_IDLE, the class the
// kernel runs only when nothing else wants the core. A target on the same
// machine then gets a core at once when its second handler wakes, instead of
// waiting for crosstalk to finish parsing the last response. On the two-step
// lastlogin plan, ten interleaved rounds of replay -n 50 reproduced it in
// 63% of runs without and 77% with (fuzz/README.md).
//
// Threads the Go runtime starts later inherit the class from the thread that
// starts them, so setting it once on the threads that exist is enough; a
// second pass catches any started while the first ran. An unprivileged
// process cannot leave SCHED_IDLE again, which is why only the commands that
// replay plans use it, and only in the crosstalk binary, never in-process.
func yieldCPU() error {
	done := map[int]bool{}
	for range 3 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			// A thread that exited since the listing is not an error.
			if err := unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_IDLE}, 0); err != nil && err != unix.ESRCH {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
	return nil
}
