package preprocess

import (
	"path/filepath"
	"reflect"
	"testing"
)

func TestMakeSplits(t *testing.T) {
	cfg := testConfig(t.TempDir(), 64)
	for _, by := range []string{"map", "simulation"} {
		cfg.SplitBy = by
		s, err := MakeSplits(cfg, 100, 405, 15000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{}
		for _, l := range [][]int{s.Train, s.Val, s.Test} {
			for _, m := range l {
				if seen[m] {
					t.Fatalf("%s: map %d in two splits", by, m)
				}
				seen[m] = true
			}
		}
		if len(seen) != 405 {
			t.Errorf("%s: %d maps split, want 405", by, len(seen))
		}
		// 80/10/10 of 405 maps (or 27 simulations x 15).
		wantTrain := map[string]int{"map": 324, "simulation": 15 * 22}[by]
		if len(s.Train) != wantTrain {
			t.Errorf("%s: %d train maps, want %d", by, len(s.Train), wantTrain)
		}
		if by == "simulation" {
			sims := map[int]int{}
			for _, m := range s.Val {
				sims[m/15]++
			}
			for sim, k := range sims {
				if k != 15 {
					t.Errorf("simulation %d has %d maps in val, want all 15", sim, k)
				}
			}
		}
		if len(s.TestSetMaps) != 1000 || s.TestSetMaps[0] >= s.TestSetMaps[999] {
			t.Errorf("%s: test subset %d maps", by, len(s.TestSetMaps))
		}
		again, _ := MakeSplits(cfg, 100, 405, 15000)
		if !reflect.DeepEqual(s, again) {
			t.Errorf("%s: splits differ for the same seed", by)
		}
		other, _ := MakeSplits(cfg, 101, 405, 15000)
		if reflect.DeepEqual(s.Train, other.Train) {
			t.Errorf("%s: splits equal for seeds 100 and 101", by)
		}
		path := filepath.Join(t.TempDir(), "splits.json")
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		back, err := LoadSplits(path)
		if err != nil || !reflect.DeepEqual(s, back) {
			t.Errorf("%s: load %v", by, err)
		}
	}
	cfg.TrainMaps, cfg.TestMaps = 30, 0
	s, _ := MakeSplits(cfg, 1, 405, 45)
	if n := len(s.Train) + len(s.Val) + len(s.Test); n != 30 || len(s.TestSetMaps) != 45 {
		t.Errorf("train_maps 30: %d maps, test %d", n, len(s.TestSetMaps))
	}
}
