package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/crosstalk/crosstalk/harness"
	"github.com/crosstalk/crosstalk/harness/spec"
	"github.com/crosstalk/crosstalk/reports"
	"github.com/crosstalk/crosstalk/reports/evidence"
)

// This file is the result stream and the reports that run, fuzz and replay
// write: one sink for every record, one Summary folded from the same
// records, so a report written at the end and one rendered later from the
// saved stream say the same.

// reportFlags collects -report FORMAT:PATH flags.
type reportFlags []reportFlag

type reportFlag struct {
	format, path string
	render       reports.Reporter
}

func (r *reportFlags) String() string {
	parts := make([]string, len(*r))
	for i, f := range *r {
		parts[i] = f.format + ":" + f.path
	}
	return strings.Join(parts, ",")
}

func (r *reportFlags) Set(v string) error {
	format, path, ok := strings.Cut(v, ":")
	if !ok || path == "" {
		return fmt.Errorf("want FORMAT:PATH, such as html:report.html (formats: %s)", reports.NameList())
	}
	render, err := reports.ByName(format)
	if err != nil {
		return err
	}
	*r = append(*r, reportFlag{format: format, path: path, render: render})
	return nil
}

func (r reportFlag) write(e *env, sum reports.Summary) error {
	if r.path == "-" {
		return r.render(e.stdout, sum)
	}
	f, err := evidence.Create(r.path)
	if err != nil {
		return err
	}
	return errors.Join(r.render(f, sum), f.Close())
}

// writeAll writes every -report of the summary, saying on stderr which
// could not be written.
func (r reportFlags) writeAll(e *env, sum reports.Summary) {
	for _, f := range r {
		if err := f.write(e, sum); err != nil {
			fmt.Fprintf(e.stderr, "crosstalk: -report %s:%s: %v\n", f.format, f.path, err)
		}
	}
}

// fileOutputs checks the -stream and -report of fuzz and replay, whose
// stdout is their own account of the search: those go to files only.
func fileOutputs(stream string, extra reportFlags) string {
	if stream == "-" {
		return "-stream writes a file; stdout holds the command's own output"
	}
	for _, r := range extra {
		if r.path == "-" {
			return fmt.Sprintf("-report %s:- would share stdout with the command's own output; give it a file", r.format)
		}
	}
	return ""
}

// streamGrace is how long a finished run waits for the reader of its
// stream before giving up on it.
const streamGrace = 2 * time.Second

// results is one command's result stream on its way out: every record goes
// to the file (if any) and into the summary.
type results struct {
	e    *env
	path string
	agg  *reports.Aggregator
	enc  *reports.Encoder
	sw   *reports.StreamWriter
	file io.Closer
	stop func() bool
	hash string
	tap  func(harness.Record)
}

// openResults opens the stream at path ("-" for stdout, "" for nowhere).
// Once ctx is done, a reader that stopped reading gets a little while and
// is then given up on, so Ctrl-C always ends the command.
func openResults(ctx context.Context, e *env, s *spec.Spec, path string, tap func(harness.Record)) (*results, error) {
	r := &results{e: e, path: path, agg: reports.NewAggregator(), hash: specHash(s), tap: tap}
	if path == "" {
		return r, nil
	}
	w := e.stdout
	if path != "-" {
		// evidence.Create opens a pipe such as /dev/stdout write-only:
		// crosstalk must not be a reader of its own pipe, or the pipe
		// never breaks when the real reader goes away.
		f, err := evidence.Create(path)
		if err != nil {
			return nil, fmt.Errorf("cannot write the result stream: %w", err)
		}
		r.file, w = f, f
	}
	r.sw = reports.NewStreamWriter(w)
	r.enc = reports.NewEncoder(r.sw)
	r.stop = context.AfterFunc(ctx, func() { time.AfterFunc(streamGrace, r.sw.Abandon) })
	return r, nil
}

// sink takes one record: a header is stamped with the crosstalk version and
// the spec's hash here, not only by the encoder, so that the reports of
// this command and of its saved stream say the same.
func (r *results) sink(rec harness.Record) error {
	if rec.Type == harness.RecordHeader && rec.Header != nil {
		h := *rec.Header
		h.Version = cmp.Or(h.Version, reports.Version())
		h.SpecHash = cmp.Or(h.SpecHash, r.hash)
		rec.Header = &h
	}
	r.agg.Add(rec)
	if r.tap != nil {
		r.tap(rec)
	}
	if r.enc == nil {
		return nil
	}
	return r.enc.Encode(rec)
}

// close ends the stream, saying on stderr where it went or why it is
// incomplete, and returns the summary of every record.
func (r *results) close() reports.Summary {
	if err := r.end(); err != nil {
		fmt.Fprintf(r.e.stderr, "crosstalk: the result stream is incomplete: %v\n", err)
	} else if r.sw != nil && r.path != "-" {
		fmt.Fprintf(r.e.stderr, "result stream written to %s\n", r.path)
	}
	return r.agg.Summary()
}

// finish ends the stream of fuzz or replay with the reproduction of its
// plan, which every report shows, and writes the extra reports.
func (r *results) finish(rep *harness.Reproduction, extra reportFlags) {
	if err := r.sink(harness.Record{V: harness.StreamVersion, Type: harness.RecordReproduction, Reproduction: rep}); err != nil {
		fmt.Fprintf(r.e.stderr, "crosstalk: the result stream: %v\n", err)
	}
	extra.writeAll(r.e, r.close())
}

// abandon closes the stream of a command that never started.
func (r *results) abandon() { _ = r.end() }

// end stops watching for Ctrl-C and closes the stream and its file; the
// error is the stream's.
func (r *results) end() error {
	if r.stop != nil {
		r.stop()
	}
	var err error
	if r.sw != nil {
		err = r.sw.Close(streamGrace)
	}
	if r.file != nil {
		r.file.Close()
	}
	return err
}
