package reports

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Tests render every format, github among them; inside a GitHub
	// Actions job that would append to the job's real step summary.
	os.Unsetenv("GITHUB_ACTIONS")
	os.Unsetenv("GITHUB_STEP_SUMMARY")
	goleak.VerifyTestMain(m)
}
