package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/synth"
)

// executeErr runs the CLI and returns its output and error.
func executeErr(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// TestRunNeverOverwritesData: with only the CV files of a real download in data.dir, run
// names the missing LH files and changes nothing; synth refuses to write over them, with
// --force too.
func TestRunNeverOverwritesData(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfigFile(t, dir, false)
	data := filepath.Join(dir, "data")
	gen := filepath.Join(dir, "elsewhere")
	if err := synth.Generate(context.Background(), synth.Options{Dir: gen, Sets: []string{"CV"}, CVSims: 4, Size: 64, Seed: 1, Workers: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, name := range synth.SetFiles("CV") {
		b, err := os.ReadFile(filepath.Join(gen, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "Maps_Mgas") {
			copy(b[len(b)-4:], []byte{0x00, 0xe4, 0x40, 0x46}) // a marker pixel, 12345.0
		}
		before[name] = b
		if err := os.WriteFile(filepath.Join(data, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unchanged := func(when string) {
		t.Helper()
		ents, _ := os.ReadDir(data)
		if len(ents) != len(before) {
			t.Errorf("%s: data.dir has %d entries, want the user's %d files only", when, len(ents), len(before))
		}
		for name, b := range before {
			if got, _ := os.ReadFile(filepath.Join(data, name)); !bytes.Equal(got, b) {
				t.Errorf("%s: %s was changed", when, name)
			}
		}
	}
	out, err := executeErr(context.Background(), "run", "--config", cfg, "--out", filepath.Join(dir, "run"))
	if err == nil || !strings.Contains(err.Error(), formats.MapPath("", "Mgas", synth.Suite, "LH")) || strings.Contains(err.Error(), "Maps_B_IllustrisTNG_CV") {
		t.Errorf("run with only the CV files: %v, want an error naming the missing LH files\n%s", err, out)
	}
	unchanged("run")
	for _, args := range [][]string{{"synth", "--config", cfg}, {"synth", "--config", cfg, "--force"}} {
		if _, err := executeErr(context.Background(), args...); err == nil || !strings.Contains(err.Error(), "did not create") {
			t.Errorf("%s: %v, want a refusal", strings.Join(args, " "), err)
		}
		unchanged(strings.Join(args, " "))
	}
}
