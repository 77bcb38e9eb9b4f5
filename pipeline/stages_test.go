package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStages runs a small stage table three times: everything runs, then nothing, then
// only what a changed input reaches; a disabled stage and an extend input behave as `run`
// needs them to.
func TestStages(t *testing.T) {
	dir := t.TempDir()
	var ran []string
	var log bytes.Buffer
	table := func(seed, epochs int) []stage {
		mk := func(name string, inputs []any, after ...string) stage {
			return stage{name: name, enabled: true, inputs: inputs, after: after, outputs: []string{name + ".out"},
				run: func(resume bool) error {
					ran = append(ran, name+map[bool]string{true: "+resume", false: ""}[resume])
					return os.WriteFile(filepath.Join(dir, name+".out"), nil, 0o644)
				}}
		}
		a, b, c := mk("a", []any{seed}), mk("b", []any{1}, "a", "off"), mk("c", []any{2}, "b")
		b.extend = []any{epochs}
		off := mk("off", nil)
		off.enabled = false
		return []stage{a, off, b, c}
	}
	run := func(seed, epochs int) string {
		ran = nil
		p := &pipeline{dir: dir, out: &log}
		if err := p.run(table(seed, epochs)); err != nil {
			t.Fatal(err)
		}
		return strings.Join(ran, " ")
	}
	if got := run(1, 5); got != "a b c" {
		t.Errorf("first run ran %q", got)
	}
	if got := run(1, 5); got != "" {
		t.Errorf("second run ran %q, want nothing", got)
	}
	if got := run(1, 6); got != "b+resume c" {
		t.Errorf("more epochs ran %q, want b resumed and what reads it", got)
	}
	if got := run(2, 6); got != "a b c" {
		t.Errorf("a new seed ran %q", got)
	}
	if strings.Contains(log.String(), "off") {
		t.Errorf("the disabled stage appears in the log:\n%s", log.String())
	}
}

// TestMoveAside moves what exists into the first free name.prev-N and deletes nothing.
func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"metrics.jsonl", "train.prev-1/x"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	dest, err := moveAside(dir, "train", "metrics.jsonl", "checkpoints")
	if err != nil || dest != "train.prev-2" {
		t.Fatalf("moveAside = %q, %v", dest, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, dest, "metrics.jsonl")); err != nil || string(b) != "metrics.jsonl" {
		t.Errorf("moved file: %q %v", b, err)
	}
	if dest, err := moveAside(dir, "train", "metrics.jsonl"); dest != "" || err != nil {
		t.Errorf("nothing to move: %q %v", dest, err)
	}
}
