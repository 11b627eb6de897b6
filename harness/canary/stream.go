package canary

import (
	"strings"
	"sync"
)

// The result stream of a canary is the one every report reads: one header,
// then bursts and findings (and exchanges, with Trace) as they come, one
// verdict last. Each instance's setup and each burst is its own execution of
// the engine, with a header and a verdict of its own; the canary keeps the
// first header, widened to name every instance, drops the per-execution
// verdicts, and numbers bursts across the whole canary so that a finding
// still points at its burst.

// setupSink passes an instance's setup records on: the first header opens the
// stream, and baseline findings (leaks that need no concurrency) count.
func (c *Canary) setupSink(in *instance) func(record) error {
	return func(r record) error {
		switch r.Type {
		case recordFinding:
			c.addFindings(in, []*finding{r.Finding})
			f := *r.Finding
			return c.emit(record{Type: recordFinding, Finding: &f})
		case recordHeader:
			return c.emitHeader(r)
		case recordExch:
			if c.cfg.Trace {
				return c.emit(r)
			}
		}
		return nil
	}
}

// burstSink passes one execution's records on, renumbering its burst.
func (c *Canary) burstSink(in *instance) func(record) error {
	var once sync.Once
	n := 0
	num := func() int {
		once.Do(func() {
			c.sinkMu.Lock()
			c.bursts++
			n = c.bursts
			c.sinkMu.Unlock()
		})
		return n
	}
	return func(r record) error {
		switch r.Type {
		case recordBurst:
			b := *r.Burst
			b.Burst = num()
			return c.emit(record{Type: recordBurst, Burst: &b})
		case recordFinding:
			f := *r.Finding
			f.Burst = num()
			return c.emit(record{Type: recordFinding, Finding: &f})
		case recordExch:
			if c.cfg.Trace {
				x := *r.Exchange
				x.Burst = num()
				return c.emit(record{Type: recordExch, Exchange: &x})
			}
		}
		return nil
	}
}

func (c *Canary) emitHeader(r record) error {
	c.sinkMu.Lock()
	sent := c.headerSent
	c.headerSent = true
	c.sinkMu.Unlock()
	if sent {
		return nil
	}
	h := *r.Header
	var bases []string
	for _, in := range c.inst {
		bases = append(bases, in.base)
	}
	h.BaseURL = strings.Join(bases, " ")
	h.Duration = c.cfg.MaxDuration
	return c.emit(record{Type: recordHeader, Header: &h})
}

// emit writes one record. The first sink error is kept and every later
// record dropped: a stream with a hole in it must not look whole.
func (c *Canary) emit(r record) error {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	if c.sinkErr != nil {
		return c.sinkErr
	}
	if r.Type == recordVerdict && !c.headerSent {
		// No instance was ever set up: the stream still opens with a header.
		c.headerSent = true
		var bases []string
		for _, in := range c.inst {
			bases = append(bases, in.base)
		}
		h := &headerT{Spec: c.cfg.Spec.Name, SpecFile: c.cfg.Spec.File, BaseURL: strings.Join(bases, " "),
			Sync: c.cfg.Sync, Started: c.started, BurstSize: c.cfg.BurstSize, Duration: c.cfg.MaxDuration}
		if err := c.cfg.Sink(record{V: streamVersion, Type: recordHeader, Header: h}); err != nil {
			c.sinkErr = err
			return err
		}
	}
	r.V = streamVersion
	if err := c.cfg.Sink(r); err != nil {
		c.sinkErr = err
	}
	return c.sinkErr
}

func (c *Canary) streamErr() error {
	c.sinkMu.Lock()
	defer c.sinkMu.Unlock()
	return c.sinkErr
}
