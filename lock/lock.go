// Package lock gives a process exclusive use of a directory: an advisory flock on DIR/.lock,
// held until Release or the end of the process. The kernel drops the lock of a process that
// dies, even by SIGKILL, so a lock file left behind is taken over by the next process.
package lock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// File is the lock file's name inside the locked directory.
const File = ".lock"

// HeldError reports a directory locked by another process.
type HeldError struct {
	Dir string
	// PID and What are what the holder wrote into the lock file (0 and "" if unreadable).
	PID  int
	What string
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
		if e.What != "" {
			who += " (" + e.What + ")"
		}
	}
	return fmt.Sprintf("%s is in use by %s: wait for it to finish, or use another directory", e.Dir, who)
}

// Lock is a held directory lock.
type Lock struct{ f *os.File }

// Acquire locks dir (creating it if needed) without waiting, and records this process's pid
// and what (the command) in the lock file for the message another process gets.
func Acquire(dir, what string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	path := filepath.Join(dir, File)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, holder(dir, path)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	// Best effort: the record only names the holder in another process's message.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), what)), 0)
	}
	return &Lock{f: f}, nil
}

// holder reads the pid and command the holder of path recorded.
func holder(dir, path string) error {
	e := &HeldError{Dir: dir}
	b, err := os.ReadFile(path)
	if err != nil {
		return e
	}
	pid, what, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	e.PID, _ = strconv.Atoi(pid)
	e.What = what
	return e
}

// Release unlocks the directory. The lock file stays: removing it would let a process that
// opened it before the removal hold a lock on a file nobody else can see.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
