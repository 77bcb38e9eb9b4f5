package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// artifactsGolden pins the sha256 of every artifact `camelsvae graphs` writes for the shipped
// configs, lowered for the CPU and for a GPU: a refactoring of the graph code must not change
// one byte of what ONNX Runtime runs (go test -run ArtifactsPinned -update rewrites it).
const artifactsGolden = "testdata/artifacts.sha256"

func TestArtifactsPinned(t *testing.T) {
	var lines []string
	for _, cfg := range []string{"demo", "paper"} {
		for _, provider := range []string{"cpu", "webgpu"} {
			dir := t.TempDir()
			execute(context.Background(), t, "graphs", "--config", filepath.Join("..", "..", "configs", cfg+".yaml"), "--provider", provider, "--out", dir)
			files, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
			if err != nil || len(files) != 6 {
				t.Fatalf("%s %s: %d artifacts (%v)", cfg, provider, len(files), err)
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				lines = append(lines, strings.Join([]string{hex.EncodeToString(sum[:]), cfg, provider, filepath.Base(f)}, "  "))
			}
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(artifactsGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(artifactsGolden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("artifact bytes changed (%s):\n got %s\nwant %s", artifactsGolden, got, want)
	}
}
