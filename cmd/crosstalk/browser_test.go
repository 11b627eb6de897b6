package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's chromium, which ./test.sh installs.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is needed for the browser test: apt-get install chromium (./test.sh installs it)")
	return ""
}

// browserPage is what the browser saw of one report.
type browserPage struct {
	problems []string // console errors, exceptions, network fetches
	counts   map[string]int
	verdict  string
	png      []byte // the whole page
	first    []byte // the first screen, what a reader sees before scrolling
}

// openInBrowser loads an HTML report in headless chromium and reports what
// rendered, every console error, and every request that left the file.
func openInBrowser(t *testing.T, path string, selectors []string) browserPage {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var p browserPage
	p.counts = map[string]int{}
	note := func(s string) {
		mu.Lock()
		p.problems = append(p.problems, s)
		mu.Unlock()
	}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				note("console." + string(ev.Type) + ": " + strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			note("exception: " + ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				note("log error: " + ev.Entry.Text + " " + ev.Entry.URL)
			}
		}
	}))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("#verdict"))))
	for _, sel := range selectors {
		// An element counts only if the browser laid it out with a size.
		js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length`, sel)
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		require.NoError(t, err)
		p.counts[sel] = n
	}
	// Anything the page loaded besides itself, failed loads included.
	fetched, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name)`))
	require.NoError(t, err)
	for _, u := range fetched {
		note("network fetch: " + u)
	}
	p.verdict, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#verdict h1")))
	require.NoError(t, err)
	p.png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	p.first, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	return p
}

// TestHTMLReportInBrowser opens the HTML report of a lastlogin run and of
// an isolated run in headless chromium: the chart, the matrix and the
// evidence render, nothing is fetched, nothing errs. Screenshots are kept
// as test artifacts (go test -artifacts keeps them under -outputdir).
func TestHTMLReportInBrowser(t *testing.T) {
	artifacts := t.ArtifactDir()
	runs := []struct {
		bug, verdict string
		code         int
		selectors    []string
	}{
		{"lastlogin", "LEAK", 1, []string{"#environment tr", "#matrix td.hit", "#timeline rect.bar", "#timeline rect.leakbar", "#timeline circle.mark", "#skew-chart rect", "pre.evidence", "#rerun"}},
		{"none", "ISOLATED", 0, []string{"#environment tr", "#timeline rect.bar", "#skew-chart rect"}},
	}
	for _, run := range runs {
		t.Run(run.bug, func(t *testing.T) {
			url := serve(t, "-bug", run.bug)
			html := filepath.Join(artifacts, run.bug+".html")
			r := crosstalk(t, "run", "-target", webmailSpec, "-url", url, "-requests", "5000", "-report", "html:"+html)
			require.Equal(t, run.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)

			p := openInBrowser(t, html, run.selectors)
			assert.Empty(t, p.problems, "console errors or network fetches")
			assert.Equal(t, run.verdict, p.verdict)
			for _, sel := range run.selectors {
				assert.Positive(t, p.counts[sel], "%s rendered", sel)
			}
			if run.verdict == "ISOLATED" {
				assert.NotContains(t, readFile(t, html), `id="matrix"`, "no exposure, no matrix")
			}
			shot := filepath.Join(artifacts, run.bug+".png")
			require.NoError(t, os.WriteFile(shot, p.png, 0o644))
			first := filepath.Join(artifacts, run.bug+"-first-screen.png")
			require.NoError(t, os.WriteFile(first, p.first, 0o644))
			t.Logf("screenshots of the %s report: %s (whole page), %s (first screen)", run.verdict, shot, first)
		})
	}
}

// TestBrowserSeesConsoleErrors shows the browser check can fail: a browserPage
// that throws and fetches is caught.
func TestBrowserSeesConsoleErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.html")
	require.NoError(t, os.WriteFile(path, []byte(`<!DOCTYPE html><section id="verdict"><h1>X</h1></section>`+
		`<img src="http://127.0.0.1:1/x.png"><script>console.error("boom"); undefinedFunction();</script>`), 0o600))
	p := openInBrowser(t, path, []string{"#matrix td"})
	joined := strings.Join(p.problems, "\n")
	assert.Contains(t, joined, "boom")
	assert.Contains(t, joined, "exception")
	assert.Contains(t, joined, "network fetch: http://127.0.0.1:1/x.png")
	assert.Zero(t, p.counts["#matrix td"])
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
