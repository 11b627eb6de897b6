// Package evidence writes the files that hold other users' data — result
// streams, rendered reports, saved plans, emitted tests — readable by their
// owner only and never through a planted symlink. It imports nothing of
// crosstalk, so that every package that writes such a file can use it.
package evidence

import (
	"errors"
	"os"
	"path/filepath"
)

// Evidence files — result streams, rendered reports, saved plans, emitted
// tests — hold other users' data and the excerpts that prove a leak. They
// are written readable by their owner only (0600), and a symlink planted at
// the final path is replaced, never followed: the file is created under a
// fresh name in the same directory and then renamed over the path, and a
// rename replaces a link instead of writing through it.

// CreateEvidence creates (or replaces) the evidence file at path and returns
// it open for writing, for a stream written as a run goes. A path that leads
// to a pipe or a device (-o /dev/stdout, a fifo) is not a file to replace:
// it is opened write-only, so that crosstalk never holds the read end of its
// own pipe and the pipe still breaks when its reader goes away.
func Create(path string) (*os.File, error) {
	if st, err := os.Stat(path); err == nil && st.Mode()&(os.ModeNamedPipe|os.ModeCharDevice|os.ModeDevice) != 0 {
		return os.OpenFile(path, os.O_WRONLY, 0)
	}
	f, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// WriteEvidence writes data to the evidence file at path. The file appears
// whole or not at all: it is renamed into place only once written.
func Write(path string, data []byte) error {
	f, err := createTemp(path)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// createTemp creates a new file next to path; os.CreateTemp makes it 0600
// and with O_EXCL, so nothing already there is opened.
func createTemp(path string) (*os.File, error) {
	if st, err := os.Lstat(path); err == nil && st.IsDir() {
		return nil, &os.PathError{Op: "write", Path: path, Err: errors.New("is a directory")}
	}
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
}
