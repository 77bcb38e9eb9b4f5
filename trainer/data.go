package trainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/preprocess"
)

// Files of a run directory written by Prepare.
const (
	StatsFile  = "stats.json"
	SplitsFile = "splits.json"
)

// Data is a run's data: the open CMD sets, the normalisation statistics of the training
// split and the splits.
type Data struct {
	Src    *preprocess.Source
	Stats  *preprocess.Stats
	Splits *preprocess.Splits
}

// Close closes the CMD files.
func (d *Data) Close() error { return d.Src.Close() }

// Prepare opens cfg.Data and returns the run's splits and statistics: read from run when
// they exist (and agree with the data), otherwise computed from the training split and
// written there atomically.
func Prepare(ctx context.Context, cfg configs.Config, run string) (*Data, error) {
	src, err := preprocess.OpenSource(cfg.Data)
	if err != nil {
		return nil, err
	}
	d := &Data{Src: src}
	fail := func(err error) (*Data, error) {
		src.Close()
		return nil, err
	}
	splitsPath, statsPath := filepath.Join(run, SplitsFile), filepath.Join(run, StatsFile)
	if _, err := os.Stat(splitsPath); err == nil {
		if d.Splits, err = preprocess.LoadSplits(splitsPath); err != nil {
			return fail(err)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		if d.Splits, err = preprocess.MakeSplits(cfg.Data, cfg.Seed, src.Len(cfg.Data.TrainSet), src.Len(cfg.Data.TestSet)); err != nil {
			return fail(err)
		}
		if err := os.MkdirAll(run, 0o755); err != nil {
			return fail(err)
		}
		if err := d.Splits.Save(splitsPath); err != nil {
			return fail(err)
		}
	} else {
		return fail(err)
	}
	if _, err := os.Stat(statsPath); err == nil {
		if d.Stats, err = preprocess.LoadStats(statsPath); err != nil {
			return fail(err)
		}
		if err := d.Stats.Check(src); err != nil {
			return fail(fmt.Errorf("%s: %w", statsPath, err))
		}
	} else if errors.Is(err, os.ErrNotExist) {
		if d.Stats, err = preprocess.ComputeStats(ctx, src, cfg.Data.TrainSet, d.Splits.Train, cfg.Data.Workers); err != nil {
			return fail(err)
		}
		if err := d.Stats.Save(statsPath); err != nil {
			return fail(err)
		}
	} else {
		return fail(err)
	}
	return d, nil
}

// Feeds returns the training feed (augmented, shuffled per epoch, batch train.batch) and the
// validation feed (identity variant, fixed order, batch train.eval_batch).
func (d *Data) Feeds(mem memory.Allocator, cfg configs.Config) (train, val Feed, err error) {
	variants, err := preprocess.Variants(cfg.Data.Augment)
	if err != nil {
		return nil, nil, err
	}
	set := cfg.Data.TrainSet
	tl, err := preprocess.NewLoader(mem, d.Src, d.Stats, preprocess.Items(set, d.Splits.Train, variants), preprocess.LoaderOptions{
		Batch: cfg.Train.Batch, Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch, Shuffle: true, Seed: cfg.Seed,
		CacheBytes: int64(cfg.Data.CacheMB) << 20,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("training loader: %w", err)
	}
	vl, err := preprocess.NewLoader(mem, d.Src, d.Stats, preprocess.Items(set, d.Splits.Val, []preprocess.Variant{preprocess.Identity}), preprocess.LoaderOptions{
		Batch: cfg.Train.EvalBatch, Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch,
		CacheBytes: int64(cfg.Data.CacheMB) << 20,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("validation loader (data.val_frac %g): %w", cfg.Data.ValFrac, err)
	}
	return LoaderFeed(tl), LoaderFeed(vl), nil
}

// LoaderFeed adapts a preprocess.Loader to a Feed.
func LoaderFeed(l *preprocess.Loader) Feed { return loaderFeed{l} }

type loaderFeed struct{ l *preprocess.Loader }

func (f loaderFeed) Batches() int { return f.l.NumBatches() }

func (f loaderFeed) Epoch(ctx context.Context, epoch, skip int, fn func(x []float32, n int) error) error {
	for b, err := range f.l.Epoch(ctx, epoch) {
		if err != nil {
			return err
		}
		if b.Index < skip {
			b.Release()
			continue
		}
		err := fn(b.X, b.N)
		b.Release()
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
