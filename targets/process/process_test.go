package process

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartWaitStop(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ready")
	p, err := Start("sh", exec.Command("sh", "-c", "echo hello; touch "+marker+"; exec sleep 60"), filepath.Join(dir, "log"))
	require.NoError(t, err)
	err = p.WaitReady(context.Background(), 10*time.Second, 5*time.Millisecond, func(context.Context) bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	require.NoError(t, err)
	p.Stop(syscall.SIGTERM, time.Second)
	p.Stop(syscall.SIGTERM, time.Second) // twice is fine
	<-p.done
	log, err := os.ReadFile(filepath.Join(dir, "log"))
	require.NoError(t, err)
	assert.Equal(t, "hello\n", string(log))
}

func TestWaitReadySeesAnExit(t *testing.T) {
	p, err := Start("false", exec.Command("false"), filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	err = p.WaitReady(context.Background(), 10*time.Second, 5*time.Millisecond, func(context.Context) bool { return false })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "false exited")
	p.Stop(syscall.SIGTERM, time.Second)
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	assert.Positive(t, port)
}
