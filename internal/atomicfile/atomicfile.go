// Package atomicfile writes files so that a reader (or a crash) never sees
// a half-written one: the content goes to a temporary file in the same
// folder, is synced, and is renamed over the destination.
package atomicfile

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates name by calling write on a buffered temporary file and
// renaming it into place once write and the flush to disk succeed. On any
// error the destination is untouched and the temporary file removed.
func Write(name string, write func(w *bufio.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		// Name the file asked for, not the temporary one.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return &fs.PathError{Op: "write", Path: name, Err: pe.Err}
		}
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// WriteBytes is Write for content already in memory.
func WriteBytes(name string, b []byte) error {
	return Write(name, func(w *bufio.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// RemoveLeftovers removes the temporary files that writes into dir left
// when their process was killed mid-write (.<name>.tmp<random>); call it
// only while nothing else writes there (a run holds its folder's lock).
func RemoveLeftovers(dir string) error {
	tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp*"))
	if err != nil {
		return err
	}
	for _, t := range tmps {
		if err := os.Remove(t); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}
