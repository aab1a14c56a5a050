package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockName is the advisory lock a training run holds on its run folder, so
// that two runs cannot write best.ckpt and last.ckpt of different runs.
const lockName = ".cnnctl.lock"

// lockRunDir takes the run folder's lock, holding this process's pid, and
// returns the function that releases it. A lock whose process no longer
// exists (a run killed with SIGKILL) is taken over.
func lockRunDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, lockName)
	for range 2 {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("locking run folder %s: %w", dir, err)
		}
		b, _ := os.ReadFile(path)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr == nil && pid > 0 && alive(pid) {
			return nil, fmt.Errorf("run folder %s is in use by another cnnctl train (process %d); wait for it to finish, or give this run another --out", dir, pid)
		}
		// Stale: its process is gone. Take it over.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale lock %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("run folder %s: could not take its lock %s", dir, path)
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
