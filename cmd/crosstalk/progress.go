package main

import (
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/crosstalk/crosstalk/harness"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress draws a bar on stderr while a run goes on, and only when stderr is
// a terminal: in CI logs a redrawn bar is noise.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(e *env, label string) *progress {
	if !e.tty {
		return &progress{}
	}
	bar := progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionShowDescriptionAtLineEnd(),
	)
	return &progress{bar: bar}
}

// update is the harness's Progress callback.
func (p *progress) update(s harness.Progress) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("%d requests, %d findings, %d errors", s.Requests, s.Findings, s.Errors))
	_ = p.bar.Set(int(s.Budget * 1000))
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
