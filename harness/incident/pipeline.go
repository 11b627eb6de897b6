package incident

import (
	"errors"
	"sync"
)

// Reading and parsing run on one goroutine and the analysis on another, so
// that a log is read on two cores: on the synthesized incident the parse is
// about a third of the work (BenchmarkAnalyzeSynth with and without it).
// Parsed entries travel in batches whose fields are copied into the
// batch's own arena, since a line's buffer is reused as soon as the next
// line is read.

const batchSize = 1024

type parsed struct {
	e   Entry
	err error
	// uid is the user's id plus one when the parser mapped the session.
	uid uint32
}

type batch struct {
	items []parsed
	arena []byte
}

func (b *batch) keep(f []byte) []byte {
	if f == nil {
		return nil
	}
	// Growing the arena moves it, but the slices already taken keep the old
	// array alive and unchanged.
	n := len(b.arena)
	b.arena = append(b.arena, f...)
	return b.arena[n:len(b.arena):len(b.arena)]
}

func (b *batch) add(e *Entry, err error, sessions map[string]uint32) {
	p := parsed{err: err}
	p.e = Entry{Line: e.Line, Format: e.Format, Start: e.Start, End: e.End, Res: e.Res,
		ConnRequests: e.ConnRequests, Status: e.Status, Bytes: e.Bytes}
	if err == nil && e.Format != "" {
		if len(e.User) == 0 && len(e.Session) > 0 && sessions != nil {
			p.uid = sessions[string(e.Session)]
		}
		p.e.Instance, p.e.Client, p.e.User = b.keep(e.Instance), b.keep(e.Client), b.keep(e.User)
		p.e.Session, p.e.Method, p.e.Path = b.keep(e.Session), b.keep(e.Method), b.keep(e.Path)
		p.e.Owner, p.e.BodyHash = b.keep(e.Owner), b.keep(e.BodyHash)
	}
	b.items = append(b.items, p)
}

var errStopped = errors.New("analysis stopped")

// feedPipelined scans on a goroutine of its own and hands batches to fn on
// the caller's.
func feedPipelined(in Input, hf HARFields, sessions map[string]uint32, fn func(e *Entry, uid uint32, err error) error) error {
	full := make(chan *batch, 4)
	free := make(chan *batch, 6)
	for range cap(free) {
		free <- &batch{items: make([]parsed, 0, batchSize), arena: make([]byte, 0, 64<<10)}
	}
	stop := make(chan struct{})
	var scanErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(full)
		var cur *batch
		get := func() bool {
			select {
			case cur = <-free:
				cur.items, cur.arena = cur.items[:0], cur.arena[:0]
				return true
			case <-stop:
				return false
			}
		}
		if !get() {
			return
		}
		scanErr = scan(in, hf, func(e *Entry, err error) error {
			cur.add(e, err, sessions)
			if len(cur.items) == batchSize {
				select {
				case full <- cur:
				case <-stop:
					return errStopped
				}
				if !get() {
					return errStopped
				}
			}
			return nil
		})
		if len(cur.items) > 0 {
			select {
			case full <- cur:
			case <-stop:
			}
		}
	}()
	var fnErr error
	for b := range full {
		if fnErr == nil {
			for i := range b.items {
				it := &b.items[i]
				if fnErr = fn(&it.e, it.uid, it.err); fnErr != nil {
					close(stop)
					break
				}
			}
		}
		if fnErr == nil {
			free <- b
		}
	}
	wg.Wait()
	if fnErr != nil {
		return fnErr
	}
	if errors.Is(scanErr, errStopped) {
		return nil
	}
	return scanErr
}
