package formats

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// WriteFileAtomic writes path through write so that readers see either the old file or the
// complete new one, never a partial file: the bytes go to a temporary file in the same
// directory (same file system, so the rename is atomic), which is fsynced, closed and renamed
// over path; the directory is then fsynced so the rename survives a crash. On any error the
// temporary file is removed and path is left as it was. A new file gets mode 0644; an existing
// file keeps its mode.
func WriteFileAtomic(path string, write func(w io.Writer) error) error {
	s, err := Stage(path, write)
	if err != nil {
		return err
	}
	return s.Commit()
}

// Staged is a file written in full beside its path and not yet renamed over it: several
// files can be staged and then committed in an order of the caller's choosing.
type Staged struct {
	path, tmp string
	done      bool
}

// Stage is WriteFileAtomic up to the rename: the synced temporary file waits for Commit
// (or Abort, which is a no-op after Commit).
func Stage(path string, write func(w io.Writer) error) (_ *Staged, err error) {
	if write == nil {
		panic("formats: Stage with nil write function")
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, statErr := os.Stat(path); statErr == nil {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("formats: write %s: not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, tempPattern(base))
	if err != nil {
		return nil, fmt.Errorf("formats: write %s: %w", path, err)
	}
	staged := false
	defer func() {
		// Also runs when write panics, so no temporary file is left behind.
		if !staged {
			_ = tmp.Close() // may already be closed; the error of a second close is irrelevant
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return nil, fmt.Errorf("formats: write %s: %w", path, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return nil, fmt.Errorf("formats: write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return nil, fmt.Errorf("formats: write %s: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return nil, fmt.Errorf("formats: write %s: close: %w", path, err)
	}
	staged = true
	return &Staged{path: path, tmp: tmp.Name()}, nil
}

// Commit renames the staged file over its path and syncs the directory.
func (s *Staged) Commit() error {
	if s.done {
		return fmt.Errorf("formats: write %s: committed twice", s.path)
	}
	s.done = true
	if err := os.Rename(s.tmp, s.path); err != nil {
		os.Remove(s.tmp)
		return fmt.Errorf("formats: write %s: %w", s.path, err)
	}
	// Persist the directory entry. Some file systems refuse to fsync a directory; that does
	// not undo the rename, so the result is deliberately ignored.
	if d, openErr := os.Open(filepath.Dir(s.path)); openErr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Abort removes the staged file unless it was committed.
func (s *Staged) Abort() {
	if s != nil && !s.done {
		s.done = true
		os.Remove(s.tmp)
	}
}

// WriteFile writes data to path atomically (see WriteFileAtomic).
func WriteFile(path string, data []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// tempInfix separates a target's name from the rest of its temporary file's name:
// WriteFileAtomic and CreateMaps write NAME through ".NAME.tmp-PID-RANDOM" beside it, PID
// being the writer's process, so that a stale one can be told from a live writer's.
const tempInfix = ".tmp-"

// tempPattern is the os.CreateTemp pattern of a temporary file for name.
func tempPattern(name string) string {
	return "." + name + tempInfix + strconv.Itoa(os.Getpid()) + "-*"
}

// RemoveStaleTemps removes the temporary files in dir that an atomic write of a file whose
// name matches one of the glob patterns left behind when its process was killed; those of
// a process that still runs are kept. It returns the names it removed.
func RemoveStaleTemps(dir string, patterns ...string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("formats: %w", err)
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		i := strings.LastIndex(name, tempInfix)
		if !strings.HasPrefix(name, ".") || i < 1 || !e.Type().IsRegular() || writerAlive(name[i+len(tempInfix):]) {
			continue
		}
		target := name[1:i]
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, target); ok {
				if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return removed, fmt.Errorf("formats: removing stale %s: %w", filepath.Join(dir, name), err)
				}
				removed = append(removed, name)
				break
			}
		}
	}
	return removed, nil
}

// writerAlive reports whether the process named in a temporary file's suffix ("PID-RANDOM")
// still runs. A suffix without a pid (an older writer) counts as dead.
func writerAlive(suffix string) bool {
	pid, _, ok := strings.Cut(suffix, "-")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 {
		return false
	}
	err = syscall.Kill(n, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
