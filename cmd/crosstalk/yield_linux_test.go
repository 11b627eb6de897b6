//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const yieldChildEnv = "CROSSTALK_TEST_YIELD_CHILD"

// yieldCPU cannot be undone without privileges, so it is tried in a child:
// this test binary run again with yieldChildEnv set. The child checks every
// thread, including ones started after the switch.
func TestYieldPutsEveryThreadAtIdlePriority(t *testing.T) {
	if os.Getenv(yieldChildEnv) == "1" {
		yieldChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestYieldPutsEveryThreadAtIdlePriority$", "-test.count=1")
	cmd.Env = append(os.Environ(), yieldChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`(\d+) threads, all at SCHED_IDLE`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "%s", out)
	n, _ := strconv.Atoi(m[1])
	assert.Greater(t, n, 4, "the child's threads, including the four it started after the switch")
}

func yieldChild(t *testing.T) {
	require.NoError(t, yieldCPU())
	// Each goroutine locked to its thread and parked holds that thread, so
	// the runtime must start new ones for whatever runs next.
	var started, done sync.WaitGroup
	release := make(chan struct{})
	for range 4 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			started.Done()
			<-release
		}()
	}
	started.Wait()
	ents, err := os.ReadDir("/proc/self/task")
	require.NoError(t, err)
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		require.NoError(t, err)
		a, err := unix.SchedGetAttr(tid, 0)
		if err == unix.ESRCH {
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, uint32(unix.SCHED_IDLE), a.Policy, "thread %d", tid)
	}
	close(release)
	done.Wait()
	fmt.Printf("%d threads, all at SCHED_IDLE\n", len(ents))
}
