package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/onnx/onnxpb"
	"github.com/camelsvae/camelsvae/synth"
	"github.com/camelsvae/camelsvae/trainer"
	"google.golang.org/protobuf/proto"
)

// TestFieldsTrainExportEncode: a 1-field and a 5-field model train, export and encode; the
// exported models and the latents table record their fields in order.
func TestFieldsTrainExportEncode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields string // the data.fields one-line form
		names  string
	}{
		{"one field", "T:log10", "T"},
		{"five fields", "Mgas:log10,T:log10,Mcdm:log10,HI:log10,Vcdm:asinh", "Mgas,T,Mcdm,HI,Vcdm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			err := synth.Generate(context.Background(), synth.Options{Dir: filepath.Join(dir, "data"), Fields: strings.Split(tc.names, ","),
				Sets: []string{"CV", "LH"}, CVSims: 2, LHSims: 2, Size: 32, Seed: 100, Workers: 2}, nil)
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "fields.yaml")
			if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(smallRun, "DIR", dir)), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CAMELSVAE_DATA_FIELDS", tc.fields)
			run := filepath.Join(dir, "run")
			ctx := context.Background()
			execute(ctx, t, "train", "--config", cfg, "--out", run, "--epochs", "1")
			for _, f := range []string{trainer.EncoderFile, trainer.DecoderFile} {
				b, err := os.ReadFile(filepath.Join(run, "export", f))
				if err != nil {
					t.Fatal(err)
				}
				var m onnxpb.ModelProto
				if err := proto.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				got := ""
				for _, kv := range m.GetMetadataProps() {
					if kv.GetKey() == "camelsvae.fields" {
						got = kv.GetValue()
					}
				}
				if got != tc.names {
					t.Errorf("%s records fields %q, want %q", f, got, tc.names)
				}
			}
			out := filepath.Join(dir, "lh.parquet")
			execute(ctx, t, "encode", "--run", run, "--maps", "all", "--out", out)
			lat, err := formats.ReadLatents(memory.DefaultAllocator, out)
			if err != nil {
				t.Fatal(err)
			}
			if lat.Len() != 30 || lat.L != 8 || lat.Meta[trainer.MetaFields] != tc.names {
				t.Errorf("latents: %d rows, L %d, fields %q; want 30, 8, %q", lat.Len(), lat.L, lat.Meta[trainer.MetaFields], tc.names)
			}
		})
	}
}
