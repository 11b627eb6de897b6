package reports

import (
	"bufio"
	"errors"
	"io"
	"sync"
	"time"
)

// ErrStalled is returned by [StreamWriter.Write] once the writer was given
// up on: whoever reads the stream stopped reading.
var ErrStalled = errors.New("the result stream's reader stopped reading")

// flushEvery bounds what a killed run can lose of its stream: records are
// buffered, and the buffer is written at least this often.
const flushEvery = 50 * time.Millisecond

// StreamWriter carries a result stream to its file or pipe on a goroutine
// of its own, so that the run never waits on the reader. A stream piped
// into a program that stopped reading then cannot hold up crosstalk's exit
// or its response to Ctrl-C: [StreamWriter.Abandon] gives up on the reader,
// and writes fail from then on instead of blocking.
//
// Records are buffered and flushed whenever the writer has caught up and
// at least every 50 ms, so a SIGKILL loses at most the last few records,
// and the line it tears is the last one.
type StreamWriter struct {
	ch      chan []byte
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
	closed  sync.Once

	mu  sync.Mutex
	err error
}

// NewStreamWriter starts writing to w. Close it to flush and wait.
func NewStreamWriter(w io.Writer) *StreamWriter {
	sw := &StreamWriter{ch: make(chan []byte, 256), stop: make(chan struct{}), done: make(chan struct{})}
	go sw.loop(w)
	return sw
}

func (sw *StreamWriter) loop(w io.Writer) {
	defer close(sw.done)
	bw := bufio.NewWriterSize(w, 64<<10)
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	last := time.Now()
	fail := func(err error) {
		sw.mu.Lock()
		if sw.err == nil {
			sw.err = err
		}
		sw.mu.Unlock()
	}
	flush := func() {
		if bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				fail(err)
			}
		}
		last = time.Now()
	}
	for {
		select {
		case b, ok := <-sw.ch:
			if !ok {
				flush()
				return
			}
			if sw.failed() {
				continue // drain, so writers never block on a dead stream
			}
			if _, err := bw.Write(b); err != nil {
				fail(err)
				continue
			}
			if len(sw.ch) == 0 || time.Since(last) >= flushEvery {
				flush()
			}
		case <-tick.C:
			flush()
		case <-sw.stop:
			return
		}
	}
}

func (sw *StreamWriter) failed() bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.err != nil
}

// Err is the first error writing the stream met, if any.
func (sw *StreamWriter) Err() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.err
}

// Write queues one record's bytes; it must not be called after Close. It fails once an earlier write failed
// (a closed pipe) or the writer was abandoned, so the run learns that its
// stream is lost and stops instead of going on blind.
func (sw *StreamWriter) Write(p []byte) (int, error) {
	if err := sw.Err(); err != nil {
		return 0, err
	}
	b := make([]byte, len(p))
	copy(b, p)
	select {
	case sw.ch <- b:
		return len(p), nil
	case <-sw.stop:
		return 0, ErrStalled
	}
}

// Abandon gives up on the reader: pending and later writes fail with
// [ErrStalled]. The goroutine blocked in a write to the reader stays
// blocked until the process exits or the file is closed.
func (sw *StreamWriter) Abandon() {
	sw.stopped.Do(func() {
		sw.mu.Lock()
		if sw.err == nil {
			sw.err = ErrStalled
		}
		sw.mu.Unlock()
		close(sw.stop)
	})
}

// Close flushes what is queued and waits up to grace for it to be written;
// past that it abandons the reader. It returns the first write error.
func (sw *StreamWriter) Close(grace time.Duration) error {
	sw.closed.Do(func() { close(sw.ch) })
	select {
	case <-sw.stop:
		return sw.Err() // already given up on: waiting again helps no one
	default:
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-sw.done:
	case <-t.C:
		sw.Abandon()
	}
	return sw.Err()
}
