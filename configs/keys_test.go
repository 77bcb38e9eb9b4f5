package configs

import (
	"strings"
	"testing"
)

// TestTrainingDiff: settings that only extend or read a run are not differences; the
// optimizer, model, data and seed are.
func TestTrainingDiff(t *testing.T) {
	a := Default()
	b := a
	b.Train.Epochs, b.Train.Patience, b.Train.KeepLast, b.Train.EvalBatch = 400, 3, 9, 4
	b.Data.TestMaps, b.Data.Workers, b.Data.CacheMB = 7, 8, 0
	b.Runtime.Provider, b.PCA.Components, b.Eval.Clusters, b.Synth.Seed = "cuda", 8, 3, 1
	if d, err := TrainingDiff(a, b); err != nil || len(d) != 0 {
		t.Errorf("extending and reading settings: %v %v, want no difference", d, err)
	}
	b = a
	b.Train.Batch, b.Seed, b.Model.WidthMult, b.Data.SplitBy = 4, 7, 0.5, "simulation"
	d, err := TrainingDiff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := "data.split_by map -> simulation; model.width_mult 1 -> 0.5; seed 100 -> 7; train.batch 16 -> 4"
	if got := strings.Join(d, "; "); got != want {
		t.Errorf("TrainingDiff = %q, want %q", got, want)
	}
	for _, k := range []string{"train.lr", "loss.beta", "data.size", "data.augment", "model.skips", "train.epochs"} {
		if !DefinesTraining(k) {
			t.Errorf("%s should define training", k)
		}
	}
}
