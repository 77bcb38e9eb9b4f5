package preprocess

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"golang.org/x/sync/errgroup"
)

// Stats are the per-channel mean and standard deviation of the transformed training maps,
// used to z-score every split. They are computed once from the training split and saved.
type Stats struct {
	// Fields name the channels (a file without them is of the study's three).
	Fields     []string  `json:"fields,omitempty"`
	Transforms []string  `json:"transforms"`
	Mean       []float64 `json:"mean"`
	Std        []float64 `json:"std"`
	// Set and Maps say what they were computed from; Size the map side; Floored how many
	// values the log floor replaced on the way.
	Set     string  `json:"set"`
	Maps    int     `json:"maps"`
	Size    int     `json:"size"`
	Floored int64   `json:"floored"`
	Floor   float64 `json:"log_floor"`
	// Split identifies the list of training maps they were computed from (SplitDigest), so
	// that statistics and splits written at different times are told apart.
	Split string `json:"split,omitempty"`
}

// SplitDigest identifies a list of map indices (16 hex digits of its SHA-256).
func SplitDigest(maps []int) string {
	h := sha256.New()
	for _, m := range maps {
		fmt.Fprintf(h, "%d,", m)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// moments of one map's channel: count, mean and sum of squared deviations (Chan et al.'s
// pairwise combination keeps float64 accuracy over millions of pixels).
type moments struct {
	n, mean, m2 float64
}

func (a moments) combine(b moments) moments {
	if a.n == 0 {
		return b
	}
	n := a.n + b.n
	d := b.mean - a.mean
	return moments{n, a.mean + d*b.n/n, a.m2 + b.m2 + d*d*a.n*b.n/n}
}

// ComputeStats reads the given maps of a set (the training split), transforms them and
// accumulates per-channel mean and std in float64. Workers read in parallel; results are
// combined in map order so the numbers do not depend on the worker count.
func ComputeStats(ctx context.Context, src *Source, set string, maps []int, workers int) (*Stats, error) {
	if len(maps) == 0 {
		return nil, fmt.Errorf("preprocess: stats of set %s: no maps", set)
	}
	n := src.Size * src.Size
	nc := src.Channels()
	per := make([][]moments, len(maps))
	floored := make([]int, len(maps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	for i, m := range maps {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			buf := make([]float32, nc*n)
			f, err := src.ReadTransformed(set, m, buf)
			if err != nil {
				return err
			}
			floored[i] = f
			per[i] = make([]moments, nc)
			for c := range nc {
				var sum float64
				ch := buf[c*n : (c+1)*n]
				for _, v := range ch {
					sum += float64(v)
				}
				mean := sum / float64(n)
				var m2 float64
				for _, v := range ch {
					d := float64(v) - mean
					m2 += d * d
				}
				per[i][c] = moments{float64(n), mean, m2}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	st := &Stats{Set: set, Maps: len(maps), Size: src.Size, Floor: src.LogFloor, Split: SplitDigest(maps),
		Fields: slices.Clone(src.Fields), Transforms: make([]string, nc), Mean: make([]float64, nc), Std: make([]float64, nc)}
	for c := range nc {
		st.Transforms[c] = src.Transforms[c].String()
		var tot moments
		for i := range per {
			tot = tot.combine(per[i][c])
		}
		st.Mean[c] = tot.mean
		st.Std[c] = math.Sqrt(tot.m2 / tot.n)
		if !(st.Std[c] > 0) || math.IsInf(st.Std[c], 0) {
			return nil, fmt.Errorf("preprocess: stats of set %s: field %s has std %g over %d maps, want > 0",
				set, src.Fields[c], st.Std[c], len(maps))
		}
	}
	for _, f := range floored {
		st.Floored += int64(f)
	}
	return st, nil
}

// Check says whether st fits a source: same fields, transforms and map size.
func (st *Stats) Check(src *Source) error {
	if !slices.Equal(st.Fields, src.Fields) {
		return fmt.Errorf("preprocess: stats were computed for the fields %v, the config says %v", st.Fields, src.Fields)
	}
	for c := range src.Channels() {
		if st.Transforms[c] != src.Transforms[c].String() {
			return fmt.Errorf("preprocess: stats were computed with transform %s for %s, the config says %s",
				st.Transforms[c], src.Fields[c], src.Transforms[c])
		}
		if !(st.Std[c] > 0) {
			return fmt.Errorf("preprocess: stats: std of %s is %g, want > 0", src.Fields[c], st.Std[c])
		}
	}
	if st.Size != src.Size {
		return fmt.Errorf("preprocess: stats were computed at size %d, the config says %d", st.Size, src.Size)
	}
	return nil
}

// Normalize z-scores channel c of transformed values in place.
func (st *Stats) Normalize(c int, x []float32) {
	mean, inv := float32(st.Mean[c]), float32(1/st.Std[c])
	for i, v := range x {
		x[i] = (v - mean) * inv
	}
}

// affine returns, for every channel, (a, b) with Normalize(c, x) = x*a + b in float64,
// for the loader's fused transform + z-score.
func (st *Stats) affine() (coef [][2]float64) {
	coef = make([][2]float64, len(st.Mean))
	for c := range coef {
		coef[c] = [2]float64{1 / st.Std[c], -st.Mean[c] / st.Std[c]}
	}
	return coef
}

// Denormalize undoes Normalize for channel c in place (the result is still transformed;
// Transform.Inverse goes on to physical units).
func (st *Stats) Denormalize(c int, x []float32) {
	mean, std := float32(st.Mean[c]), float32(st.Std[c])
	for i, v := range x {
		x[i] = v*std + mean
	}
}

// ToPhysical maps a normalised (C, n) map back to physical units in place: inverse
// z-score, then each channel's inverse transform.
func (st *Stats) ToPhysical(x []float32) error {
	nc := len(st.Transforms)
	if nc == 0 || len(x)%nc != 0 {
		return fmt.Errorf("preprocess: ToPhysical: %d values is not %d channels", len(x), nc)
	}
	n := len(x) / nc
	for c := range nc {
		t, err := ParseTransform(st.Transforms[c])
		if err != nil {
			return err
		}
		st.Denormalize(c, x[c*n:(c+1)*n])
		t.Inverse(x[c*n : (c+1)*n])
	}
	return nil
}

// Save writes st as indented JSON, atomically.
func (st *Stats) Save(path string) error { return saveJSON(path, st) }

// LoadStats reads a stats file written by Save.
func LoadStats(path string) (*Stats, error) {
	st := &Stats{}
	if err := loadJSON(path, st); err != nil {
		return nil, err
	}
	if study := configs.Names(configs.StudyFields()); st.Fields == nil && len(st.Transforms) == len(study) {
		st.Fields = study // written before fields were configurable
	}
	if nc := len(st.Fields); nc == 0 || len(st.Transforms) != nc || len(st.Mean) != nc || len(st.Std) != nc {
		return nil, fmt.Errorf("preprocess: %s: %d fields, %d transforms, %d means and %d stds, want one of each per field",
			path, len(st.Fields), len(st.Transforms), len(st.Mean), len(st.Std))
	}
	for c, f := range st.Fields {
		if _, err := ParseTransform(st.Transforms[c]); err != nil {
			return nil, fmt.Errorf("preprocess: %s: %w", path, err)
		}
		if !(st.Std[c] > 0) || math.IsNaN(st.Mean[c]) {
			return nil, fmt.Errorf("preprocess: %s: %s mean %g std %g, want finite mean and std > 0", path, f, st.Mean[c], st.Std[c])
		}
	}
	return st, nil
}

func saveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("preprocess: %s: %w", path, err)
	}
	return formats.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

func loadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("preprocess: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("preprocess: %s: %w", path, err)
	}
	return nil
}
