package formats

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		old     string // "" means no file before
		write   func(w io.Writer) error
		want    string
		wantErr error
	}{
		{"new file", "", func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, "new", nil},
		{"replace", "old", func(w io.Writer) error { _, err := io.WriteString(w, "newer"); return err }, "newer", nil},
		// A writer that fails half-way stands for a crash mid-write: the old bytes must survive.
		{"fail keeps old", "old", func(w io.Writer) error { _, _ = io.WriteString(w, "partial"); return errBoom }, "old", errBoom},
		{"fail no file", "", func(w io.Writer) error { return errBoom }, "", errBoom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f.bin")
			if tc.old != "" {
				if err := os.WriteFile(p, []byte(tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteFileAtomic(p, tc.write)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			got, rerr := os.ReadFile(p)
			if tc.want == "" {
				if !errors.Is(rerr, os.ErrNotExist) {
					t.Fatalf("file exists after failed first write: %q %v", got, rerr)
				}
			} else if string(got) != tc.want {
				t.Fatalf("content %q, want %q", got, tc.want)
			}
			if tc.old != "" && tc.wantErr == nil {
				if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
					t.Errorf("mode %v, want the old file's 0600", fi.Mode().Perm())
				}
			}
			ents, _ := os.ReadDir(dir)
			if want := map[bool]int{true: 0, false: 1}[tc.want == ""]; len(ents) != want {
				t.Errorf("directory holds %d entries, want %d (temporary file left?)", len(ents), want)
			}
		})
	}
}

func TestWriteFileAtomicPanicCleansUp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	func() {
		defer func() { _ = recover() }()
		_ = WriteFileAtomic(p, func(w io.Writer) error { _, _ = io.WriteString(w, "x"); panic("mid-write") })
	}()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("%d entries left after a panicking writer", len(ents))
	}
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	err := WriteFileAtomic(filepath.Join(t.TempDir(), "no", "f"), func(io.Writer) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

// TestRemoveStaleTemps removes the temporaries of matching names whose writer is gone, and
// nothing else: not a live writer's, not other files.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead, live := strconv.Itoa(gone.Process.Pid), strconv.Itoa(os.Getpid())
	files := []string{".epoch-00003.npz.tmp-" + dead + "-123", ".best.json.tmp-9", ".LH.parquet.tmp-" + dead + "-77",
		".epoch-00004.npz.tmp-" + live + "-5", "epoch-00003.npz", ".hidden", "a.tmp-1", ".other.bin.tmp-5"}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStaleTemps(dir, "epoch-*.npz", "best.json", "*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 3 {
		t.Errorf("removed %v, want the three temporaries of matching names and dead writers", removed)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	want := ".epoch-00004.npz.tmp-" + live + "-5 .hidden .other.bin.tmp-5 a.tmp-1 epoch-00003.npz" // ReadDir sorts by name
	if got := strings.Join(names, " "); got != want {
		t.Errorf("left %q, want %q", got, want)
	}
	if r, err := RemoveStaleTemps(filepath.Join(dir, "none"), "*"); err != nil || r != nil {
		t.Errorf("missing dir: %v %v", r, err)
	}
	// A file written now names this process.
	if err := WriteFile(filepath.Join(dir, "x"), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tempPattern("x"), ".x.tmp-"+live+"-") {
		t.Errorf("temporary pattern %q does not name the writer", tempPattern("x"))
	}
}
