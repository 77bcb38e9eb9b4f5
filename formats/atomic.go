package formats

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteFileAtomic writes path through write so that readers see either the old file or the
// complete new one, never a partial file: the bytes go to a temporary file in the same
// directory (same file system, so the rename is atomic), which is fsynced, closed and renamed
// over path; the directory is then fsynced so the rename survives a crash. On any error the
// temporary file is removed and path is left as it was. A new file gets mode 0644; an existing
// file keeps its mode.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	if write == nil {
		panic("formats: WriteFileAtomic with nil write function")
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, statErr := os.Stat(path); statErr == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("formats: write %s: not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return fmt.Errorf("formats: write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		// Also runs when write panics, so no temporary file is left behind.
		if !committed {
			_ = tmp.Close() // may already be closed; the error of a second close is irrelevant
			_ = os.Remove(tmpName)
		}
	}()
	if err = write(tmp); err != nil {
		return fmt.Errorf("formats: write %s: %w", path, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("formats: write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("formats: write %s: sync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("formats: write %s: close: %w", path, err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("formats: write %s: %w", path, err)
	}
	committed = true
	// Persist the directory entry. Some file systems refuse to fsync a directory; that does
	// not undo the rename, so the result is deliberately ignored.
	if d, openErr := os.Open(dir); openErr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// WriteFile writes data to path atomically (see WriteFileAtomic).
func WriteFile(path string, data []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// tempInfix separates a target's name from the random suffix in its temporary file's name:
// WriteFileAtomic and CreateMaps write NAME through ".NAME.tmp-RANDOM" beside it.
const tempInfix = ".tmp-"

// RemoveStaleTemps removes the temporary files in dir that an atomic write of a file whose
// name matches one of the glob patterns left behind when its process was killed. Call it
// only while holding dir's lock: a live writer's temporary file looks the same. It returns
// the names it removed.
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
		if !strings.HasPrefix(name, ".") || i < 1 || !e.Type().IsRegular() {
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
