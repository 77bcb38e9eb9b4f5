package preprocess

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
)

// Item is one row of a batch: map Map (simulation Sim = Map/15) of a set, seen through a D4
// variant.
type Item struct {
	Set     string  `json:"set"`
	Sim     int32   `json:"sim"`
	Map     int32   `json:"map"`
	Variant Variant `json:"variant"`
}

// Items lists every (map, variant) pair of maps in a set, map-major.
func Items(set string, maps []int, variants []Variant) []Item {
	out := make([]Item, 0, len(maps)*len(variants))
	for _, m := range maps {
		for _, v := range variants {
			out = append(out, Item{Set: set, Sim: int32(m / formats.MapsPerSim), Map: int32(m), Variant: v})
		}
	}
	return out
}

// Splits are the map indices of a run: train/val/test of the training set and the subset of
// the out-of-distribution test set. Every list is sorted.
type Splits struct {
	// What the lists were drawn from: the seed, the data settings and the sets' sizes.
	Seed      int64   `json:"seed"`
	SplitBy   string  `json:"split_by"`
	TrainSet  string  `json:"train_set"`
	TestSet   string  `json:"test_set"`
	TrainFrac float64 `json:"train_frac,omitempty"`
	ValFrac   float64 `json:"val_frac,omitempty"`
	TrainMaps int     `json:"train_maps,omitempty"`
	TestMaps  int     `json:"test_maps,omitempty"`
	// TrainSetLen and TestSetLen are the numbers of maps in the sets' files.
	TrainSetLen int   `json:"train_set_len,omitempty"`
	TestSetLen  int   `json:"test_set_len,omitempty"`
	Train       []int `json:"train"`
	Val         []int `json:"val"`
	Test        []int `json:"test"`
	// TestSetMaps are the chosen maps of TestSet (all of them when data.test_maps is 0).
	TestSetMaps []int `json:"test_set_maps"`
}

// Stream identifiers for seeded choices, so that the split and the test subset draw from
// independent generators of the same seed.
const (
	streamSplit uint64 = 0x5b117
	streamTest  uint64 = 0x7e57
)

// MakeSplits splits the first nTrain maps of cfg.TrainSet (limited to cfg.TrainMaps when
// set) into train/val/test by map or by simulation, and picks cfg.TestMaps maps of the
// nTest maps of cfg.TestSet (all when 0), all from seed.
func MakeSplits(cfg configs.Data, seed int64, nTrain, nTest int) (*Splits, error) {
	avail := nTrain
	if cfg.TrainMaps > 0 && cfg.TrainMaps < nTrain {
		nTrain = cfg.TrainMaps
	}
	if nTrain < 1 {
		return nil, fmt.Errorf("preprocess: split: set %s has no maps", cfg.TrainSet)
	}
	s := &Splits{Seed: seed, SplitBy: cfg.SplitBy, TrainSet: cfg.TrainSet, TestSet: cfg.TestSet, TrainFrac: cfg.TrainFrac,
		ValFrac: cfg.ValFrac, TrainMaps: cfg.TrainMaps, TestMaps: cfg.TestMaps, TrainSetLen: avail, TestSetLen: nTest}
	rng := rand.New(rand.NewPCG(uint64(seed), streamSplit))
	var units [][]int // what is shuffled: single maps or a simulation's maps
	switch cfg.SplitBy {
	case "map", "":
		for m := 0; m < nTrain; m++ {
			units = append(units, []int{m})
		}
	case "simulation":
		for m := 0; m < nTrain; m += formats.MapsPerSim {
			u := []int{}
			for k := m; k < min(nTrain, m+formats.MapsPerSim); k++ {
				u = append(u, k)
			}
			units = append(units, u)
		}
	default:
		return nil, fmt.Errorf("preprocess: data.split_by %q, want map or simulation", cfg.SplitBy)
	}
	rng.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
	nu := len(units)
	nt := int(math.Round(cfg.TrainFrac * float64(nu)))
	nv := int(math.Round(cfg.ValFrac * float64(nu)))
	nt = max(1, min(nt, nu))
	nv = min(nv, nu-nt)
	for i, u := range units {
		switch {
		case i < nt:
			s.Train = append(s.Train, u...)
		case i < nt+nv:
			s.Val = append(s.Val, u...)
		default:
			s.Test = append(s.Test, u...)
		}
	}
	slices.Sort(s.Train)
	slices.Sort(s.Val)
	slices.Sort(s.Test)

	if nTest > 0 {
		if cfg.TestMaps == 0 || cfg.TestMaps >= nTest {
			s.TestSetMaps = make([]int, nTest)
			for i := range s.TestSetMaps {
				s.TestSetMaps[i] = i
			}
		} else {
			trng := rand.New(rand.NewPCG(uint64(seed), streamTest))
			s.TestSetMaps = trng.Perm(nTest)[:cfg.TestMaps]
			slices.Sort(s.TestSetMaps)
		}
	}
	return s, nil
}

// SameTrain reports whether s and o split the training set alike.
func (s *Splits) SameTrain(o *Splits) bool {
	return s.TrainSet == o.TrainSet && slices.Equal(s.Train, o.Train) && slices.Equal(s.Val, o.Val) && slices.Equal(s.Test, o.Test)
}

// SetTest takes o's test-set subset and what it was drawn from.
func (s *Splits) SetTest(o *Splits) {
	s.TestSet, s.TestMaps, s.TestSetLen, s.TestSetMaps = o.TestSet, o.TestMaps, o.TestSetLen, o.TestSetMaps
}

// Differs names the first recorded setting in which s (a saved file) and o (drawn now)
// differ, for messages.
func (s *Splits) Differs(o *Splits) string {
	// Files written before the settings were recorded (TrainSetLen 0) have only the first three.
	rec := s.TrainSetLen > 0
	for _, d := range []struct {
		key       string
		was, want any
		recorded  bool
	}{
		{"seed", s.Seed, o.Seed, true}, {"data.train_set", s.TrainSet, o.TrainSet, true}, {"data.split_by", s.SplitBy, o.SplitBy, true},
		{"data.train_frac", s.TrainFrac, o.TrainFrac, rec}, {"data.val_frac", s.ValFrac, o.ValFrac, rec},
		{"data.train_maps", s.TrainMaps, o.TrainMaps, rec}, {"maps in the training set's files", s.TrainSetLen, o.TrainSetLen, rec},
	} {
		if d.recorded && d.was != d.want {
			return fmt.Sprintf("%s %v, now %v", d.key, d.was, d.want)
		}
	}
	return "its lists differ from the ones the config draws"
}

// Save writes s as JSON, atomically.
func (s *Splits) Save(path string) error { return saveJSON(path, s) }

// LoadSplits reads a splits file written by Save and checks that its lists are sorted,
// non-negative and disjoint.
func LoadSplits(path string) (*Splits, error) {
	s := &Splits{}
	if err := loadJSON(path, s); err != nil {
		return nil, err
	}
	seen := map[int]string{}
	for _, l := range []struct {
		name string
		maps []int
	}{{"train", s.Train}, {"val", s.Val}, {"test", s.Test}} {
		for i, m := range l.maps {
			if m < 0 || (i > 0 && m <= l.maps[i-1]) {
				return nil, fmt.Errorf("preprocess: %s: %s[%d] = %d, want sorted non-negative distinct map indices", path, l.name, i, m)
			}
			if prev, ok := seen[m]; ok {
				return nil, fmt.Errorf("preprocess: %s: map %d is in both %s and %s", path, m, prev, l.name)
			}
			seen[m] = l.name
		}
	}
	if len(s.Train) == 0 {
		return nil, fmt.Errorf("preprocess: %s: empty train split", path)
	}
	return s, nil
}
