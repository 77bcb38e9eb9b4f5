package formats

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNonRegularFiles: a FIFO, a directory or a device where a CMD file belongs is refused
// at once with a one-line error naming the path and what it is; opening a FIFO used to
// block forever.
func TestNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "Maps_Mgas_IllustrisTNG_LH_z=0.00.npy")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	sub := filepath.Join(dir, "params_LH_IllustrisTNG.txt")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
		open             func(string) error
	}{
		{"maps FIFO", fifo, "a named pipe (FIFO)", func(p string) error { _, err := OpenMaps(p); return err }},
		{"params FIFO", fifo, "a named pipe (FIFO)", func(p string) error { _, err := ReadParams(p); return err }},
		{"maps directory", sub, "a directory", func(p string) error { _, err := OpenMaps(p); return err }},
		{"params directory", sub, "a directory", func(p string) error { _, err := ReadParams(p); return err }},
		{"maps device", os.DevNull, "a character device", func(p string) error { _, err := OpenMaps(p); return err }},
		{"params device", os.DevNull, "a character device", func(p string) error { _, err := ReadParams(p); return err }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- c.open(c.path) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("want an error")
				}
				msg := err.Error()
				if !strings.Contains(msg, c.path) || !strings.Contains(msg, c.want) || !strings.Contains(msg, "regular file") || strings.Contains(msg, "\n") {
					t.Fatalf("error %q: want one line naming %s and %q", msg, c.path, c.want)
				}
			case <-time.After(5 * time.Second):
				// Unblock the open with a writer so the test can end.
				if f, err := os.OpenFile(c.path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				t.Fatal("open hung")
			}
		})
	}
}
