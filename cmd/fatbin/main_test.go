package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A library with one container (an sm_80 and an sm_90 cubin, 8-byte payloads) is stripped
// into OUT with IN's mode; IN is untouched; a non-ELF file, an ELF file without fatbin
// section and a bad -keep are refused, and no OUT appears.
func TestRun(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	dir := t.TempDir()
	src := `__attribute__((section(".nv_fatbin"), aligned(8), used)) static const unsigned char nv[] = {
0x50,0xed,0x55,0xba, 1,0, 16,0, 144,0,0,0,0,0,0,0,
2,0,1,1, 64,0,0,0, 8,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0, 80,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
1,2,3,4,5,6,7,8,
2,0,1,1, 64,0,0,0, 8,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0, 90,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
9,9,9,9,9,9,9,9};
`
	c, in, out := filepath.Join(dir, "a.c"), filepath.Join(dir, "liba.so"), filepath.Join(dir, "out.so")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := exec.Command(gcc, "-shared", "-fPIC", "-o", in, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, o)
	}
	orig, _ := os.ReadFile(in)
	if err := run("sm_90", in, out, true); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	after, _ := os.ReadFile(in)
	if !bytes.Equal(after, orig) || len(got) != len(orig) ||
		!bytes.Contains(got, []byte{9, 9, 9, 9, 9, 9, 9, 9}) || bytes.Contains(got, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatal("OUT is not IN with the sm_80 payload zeroed, or IN changed")
	}
	fi, _ := os.Stat(in)
	fo, _ := os.Stat(out)
	if fi.Mode() != fo.Mode() {
		t.Errorf("mode %v, want %v", fo.Mode(), fi.Mode())
	}
	out2 := filepath.Join(dir, "none.so")
	if err := run("sm_90", c, out2, true); err == nil {
		t.Error("a C source was accepted")
	}
	if self, err := os.Executable(); err == nil {
		if err := run("sm_90", self, out2, true); err == nil {
			t.Error("an ELF file without .nv_fatbin was accepted")
		}
	}
	if err := run("sm_x", in, out2, true); err == nil {
		t.Error("-keep sm_x was accepted")
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Error("a refused run wrote OUT")
	}
}
