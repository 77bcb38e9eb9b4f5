package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/pca"
	"github.com/camelsvae/camelsvae/preprocess"
)

// pcaFit records how long the baseline's fit took (reading the maps included).
type pcaFit struct {
	Seconds  float64 `json:"seconds"`
	Maps     int     `json:"maps"`
	Features int     `json:"features"`
}

// PCA fits the baseline (pca.components) on the training split of the run in dir, which the
// caller has locked, and saves it.
func PCA(ctx context.Context, env Env, cfg configs.Config, dir string) error {
	data, err := Prepare(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer data.Close()
	start := time.Now()
	m, err := fitPCA(ctx, cfg, data)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, PCAFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := m.Save(path); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	b, _ := json.Marshal(pcaFit{Seconds: secs, Maps: m.NSamples, Features: m.D})
	if err := formats.WriteFile(filepath.Join(dir, PCAFitFile), b); err != nil {
		return err
	}
	fmt.Fprintf(env.out(), "PCA: %d components on %d training maps x %d features (%s), cumulative explained variance %.2f%%, %.1fs -> %s\n",
		m.K, m.NSamples, m.D, m.Solver, 100*m.CumulativeRatio[m.K-1], secs, path)
	return nil
}

// fitPCA fits the baseline on the training split's maps (no augmentation, as the study).
func fitPCA(ctx context.Context, cfg configs.Config, d *Data) (*pca.Model, error) {
	rows, err := readMaps(ctx, d, cfg.Data.TrainSet, d.Splits.Train, cfg.Data.Workers)
	if err != nil {
		return nil, err
	}
	opt := pca.OptionsFrom(cfg.PCA, cfg.Seed)
	if k := min(len(rows), len(rows[0])); opt.Components > k {
		opt.Components = k
	}
	return pca.Fit(rows, opt)
}

// readMaps reads maps of a set as the model sees them (transformed, z-scored, identity
// variant), in parallel, in order.
func readMaps(ctx context.Context, d *Data, set string, maps []int, workers int) ([][]float32, error) {
	out := make([][]float32, len(maps))
	n := d.Src.Channels() * d.Src.Size * d.Src.Size
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	for i, m := range maps {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			out[i] = make([]float32, n)
			_, err := preprocess.ReadNormalized(d.Src, d.Stats, set, m, preprocess.Identity, out[i])
			return err
		})
	}
	return out, g.Wait()
}
