package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// pipeToHead runs "crosstalk args... | head -c 100" with a real pipe and
// returns how long crosstalk took to exit after head did, and its stderr.
func pipeToHead(t *testing.T, args ...string) (time.Duration, string, []byte) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	ct := exec.Command(binary(t), args...)
	var ctErr bytes.Buffer
	ct.Stdout, ct.Stderr = w, &ctErr
	head := exec.Command("head", "-c", "100")
	var headOut bytes.Buffer
	head.Stdin, head.Stdout = r, &headOut
	require.NoError(t, ct.Start())
	require.NoError(t, head.Start())
	// Only the children hold the pipe now, as in a shell pipeline.
	require.NoError(t, w.Close())
	require.NoError(t, r.Close())
	require.NoError(t, head.Wait())
	closed := time.Now()
	done := make(chan error, 1)
	go func() { done <- ct.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = ct.Process.Kill()
		<-done
		t.Fatalf("crosstalk still running 30 s after head closed the pipe; stderr:\n%s", ctErr.String())
	}
	return time.Since(closed), ctErr.String(), headOut.Bytes()
}

// TestStreamToStdoutExitsWhenReaderCloses: "run -o - | head -c 100" ends
// within a second of head closing the pipe, and so does "-o /dev/stdout",
// which once hung for good because the file was opened read-write.
func TestStreamToStdoutExitsWhenReaderCloses(t *testing.T) {
	url := serve(t, "-bug", "none")
	for _, out := range []string{"-", "/dev/stdout"} {
		t.Run(strings.TrimPrefix(out, "/dev/"), func(t *testing.T) {
			after, stderr, got := pipeToHead(t, "run", "-target", webmailSpec, "-url", url, "-sync", "barrier", "-trace", "-duration", "60s", "-o", out)
			t.Logf("crosstalk exited %v after head closed the pipe", after)
			assert.Less(t, after, time.Second, "crosstalk exited %v after head; stderr:\n%s", after, stderr)
			assert.True(t, bytes.HasPrefix(got, []byte(`{"v":1,"type":"header"`)), "the stream comes first on stdout: %q", got)
			assert.Contains(t, stderr, "the result stream is incomplete", "the lost stream is reported")
			if out == "-" {
				assert.Contains(t, stderr, "INCONCLUSIVE", "with -o -, the summary goes to stderr")
			}
		})
	}
}

// TestStalledStreamReaderDoesNotBlockSIGTERM: a reader that never reads
// fills the pipe; SIGTERM still ends the run within the stream's grace.
func TestStalledStreamReaderDoesNotBlockSIGTERM(t *testing.T) {
	url := serve(t, "-bug", "none")
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	ct := exec.Command(binary(t), "run", "-target", webmailSpec, "-url", url, "-sync", "barrier", "-trace", "-duration", "60s", "-o", "-")
	var ctErr bytes.Buffer
	ct.Stdout, ct.Stderr = w, &ctErr
	require.NoError(t, ct.Start())
	require.NoError(t, w.Close())
	// Wait until crosstalk is blocked writing to the full pipe (one of its
	// threads sleeps in the kernel's pipe_write) and the run itself waits
	// on its stream (the process stops using CPU).
	deadline := time.Now().Add(30 * time.Second)
	for !blockedInPipeWrite(t, ct.Process.Pid) || !idle(t, ct.Process.Pid) {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ)
		require.NoError(t, err)
		require.True(t, time.Now().Before(deadline), "crosstalk never blocked on the pipe: %d bytes unread", n)
		time.Sleep(10 * time.Millisecond) // polling an observable condition
	}
	require.NoError(t, ct.Process.Signal(syscall.SIGTERM))
	sent := time.Now()
	done := make(chan error, 1)
	go func() { done <- ct.Wait() }()
	select {
	case err := <-done:
		took := time.Since(sent)
		t.Logf("SIGTERM to exit: %v", took)
		assert.Less(t, took, streamGrace+2*time.Second, "SIGTERM took %v", took)
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, 3, ee.ExitCode(), "cut short and nothing found: inconclusive; stderr:\n%s", ctErr.String())
		assert.Contains(t, ctErr.String(), "stopped reading")
	case <-time.After(20 * time.Second):
		_ = ct.Process.Kill()
		<-done
		t.Fatalf("SIGTERM did not end a run whose stream reader stalled; stderr:\n%s", ctErr.String())
	}
}

// TestKilledRunStreamRenders: a run killed with SIGKILL leaves a stream
// whose intact records still render, with a warning about what is missing.
func TestKilledRunStreamRenders(t *testing.T) {
	url := serve(t, "-bug", "lastlogin")
	path := filepath.Join(t.TempDir(), "killed.jsonl")
	ct := exec.Command(binary(t), "run", "-target", webmailSpec, "-url", url, "-sync", "barrier", "-trace", "-duration", "60s", "-o", path)
	require.NoError(t, ct.Start())
	// Kill once findings are on disk: the stream flushes as it goes.
	deadline := time.Now().Add(45 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Count(data, []byte(`"type":"finding"`)) >= 3 {
			break
		}
		if !time.Now().Before(deadline) {
			_ = ct.Process.Kill()
			_ = ct.Wait()
			t.Fatalf("no findings in the stream after 45 s (%d bytes)", len(data))
		}
		time.Sleep(20 * time.Millisecond) // polling an observable condition
	}
	require.NoError(t, ct.Process.Kill())
	_ = ct.Wait()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(data), `"type":"verdict"`)

	rep := crosstalk(t, "report", "-in", path, "-format", "json")
	require.Equal(t, 0, rep.code, rep.stderr)
	assert.Contains(t, rep.stderr, "warning:", "the damage is named on stderr")
	var doc struct {
		Verdict  string
		Problems []string
		Counts   struct{ Findings int }
	}
	require.NoError(t, json.Unmarshal([]byte(rep.stdout), &doc))
	assert.Equal(t, "leak", doc.Verdict, "the findings made before the kill stand")
	assert.GreaterOrEqual(t, doc.Counts.Findings, 3)
	assert.Contains(t, strings.Join(doc.Problems, "\n"), "no verdict record")

	// Whether the kill tore a line depends on where it landed; tear one
	// for certain, the way a kill in the middle of a write does.
	torn := filepath.Join(t.TempDir(), "torn.jsonl")
	cut := bytes.TrimRight(data, "\n")
	require.NoError(t, os.WriteFile(torn, cut[:len(cut)-5], 0o600))
	rep = crosstalk(t, "report", "-in", torn)
	require.Equal(t, 0, rep.code, rep.stderr)
	assert.Regexp(t, `warning: .*torn\.jsonl: line \d+ is torn`, rep.stderr)
	assert.Contains(t, rep.stdout, "LEAK")
	assert.Contains(t, rep.stdout, "is torn", "the report itself carries the warning")
}

// TestReportMergesStreams: several -in streams, stdin among them, render
// as one report that adds them up.
func TestReportMergesStreams(t *testing.T) {
	leak, isolated := "../../reports/testdata/leak.jsonl", "../../reports/testdata/isolated.jsonl"
	one := func(path string) (requests, findings int) {
		r := crosstalk(t, "report", "-in", path, "-format", "json")
		require.Equal(t, 0, r.code, r.stderr)
		var doc struct {
			Counts struct{ Requests, Findings int }
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc))
		return doc.Counts.Requests, doc.Counts.Findings
	}
	lr, lf := one(leak)
	ir, iF := one(isolated)

	stdin, err := os.Open(isolated)
	require.NoError(t, err)
	defer stdin.Close()
	cmd := exec.Command(binary(t), "report", "-in", leak, "-in", "-", "-format", "json")
	cmd.Stdin = stdin
	out, err := cmd.Output()
	require.NoError(t, err)
	var doc struct {
		Verdict string
		Counts  struct{ Requests, Findings int }
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	assert.Equal(t, "leak", doc.Verdict, "a leak in any stream is a leak")
	assert.Equal(t, lr+ir, doc.Counts.Requests)
	assert.Equal(t, lf+iF, doc.Counts.Findings)

	text := crosstalk(t, "report", "-in", isolated, "-in", isolated)
	require.Equal(t, 0, text.code)
	assert.Contains(t, text.stdout, "ISOLATED")
}

// TestRunReportFlagMatchesReport: "run -report F:path" writes what
// "report -in stream -format F" renders, byte for byte.
func TestRunReportFlagMatchesReport(t *testing.T) {
	url := serve(t, "-bug", "lastlogin")
	dir := t.TempDir()
	stream := filepath.Join(dir, "r.jsonl")
	r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-requests", "5000", "-o", stream,
		"-report", "html:"+filepath.Join(dir, "r.html"), "-report", "junit:"+filepath.Join(dir, "r.xml"), "-report", "sarif:"+filepath.Join(dir, "r.sarif"))
	require.Equal(t, 1, r.code, r.stderr)
	for _, f := range []string{"html", "junit", "sarif"} {
		ext := map[string]string{"html": "html", "junit": "xml", "sarif": "sarif"}[f]
		written, err := os.ReadFile(filepath.Join(dir, "r."+ext))
		require.NoError(t, err)
		again := crosstalk(t, "report", "-in", stream, "-format", f)
		require.Equal(t, 0, again.code, again.stderr)
		assert.Equal(t, string(written), again.stdout, f)
	}
	head, err := os.ReadFile(stream)
	require.NoError(t, err)
	first, _, _ := bytes.Cut(head, []byte("\n"))
	assert.Contains(t, string(first), `"version":"`)
	assert.Regexp(t, `"spec_hash":"sha256:[0-9a-f]{64}"`, string(first))
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}, {"--version"}} {
		r := crosstalk(t, args...)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Regexp(t, `^crosstalk \S+ \(go1\.\d+`, r.stdout)
	}
}

func TestReportFormatsComeFromOneList(t *testing.T) {
	for _, cmd := range []string{"run", "report"} {
		r := crosstalk(t, cmd, "-h")
		for _, f := range []string{"html", "github", "sarif", "junit", "markdown"} {
			assert.Contains(t, r.stderr, f, "%s -h lists %s", cmd, f)
		}
	}
	r := crosstalk(t, "report", "-in", "x.jsonl", "-format", "pdf")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "text, json, junit, markdown, html, github, sarif")
}

// blockedInPipeWrite reports whether a thread of process pid is asleep in
// a write to a full pipe.
func blockedInPipeWrite(t *testing.T, pid int) bool {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	require.NoError(t, err)
	for _, w := range tasks {
		if b, err := os.ReadFile(w); err == nil && strings.Contains(string(b), "pipe_write") {
			return true
		}
	}
	return false
}

// idle reports whether process pid used no CPU time over 200 ms, as a run
// that waits on its stream does; a running one bursts all the time.
func idle(t *testing.T, pid int) bool {
	t.Helper()
	ticks := func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		require.NoError(t, err)
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		return f[11] + "/" + f[12] // utime and stime
	}
	before := ticks()
	time.Sleep(200 * time.Millisecond) // the window the CPU time is compared over
	return ticks() == before
}
