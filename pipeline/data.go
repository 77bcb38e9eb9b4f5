package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/trainer"
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

// Prepare opens cfg.Data with the run's splits and statistics, making and saving them when
// the run has none. Splits of the training set or statistics drawn with other settings are
// an error naming the file and the setting; a test-set subset drawn with others is drawn
// again for this call (the file keeps the run's).
func Prepare(ctx context.Context, cfg configs.Config, run string) (*Data, error) {
	return prepare(ctx, cfg, run, false)
}

// PrepareFresh is Prepare for a run whose training starts over (or has not started): splits
// and statistics drawn with other settings are drawn again and saved.
func PrepareFresh(ctx context.Context, cfg configs.Config, run string) (*Data, error) {
	return prepare(ctx, cfg, run, true)
}

// prepare is Prepare (fresh false) and PrepareFresh. It is long because it reconciles two
// files with the config, each kept, redrawn or refused.
func prepare(ctx context.Context, cfg configs.Config, run string, fresh bool) (*Data, error) {
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
	want, err := preprocess.MakeSplits(cfg.Data, cfg.Seed, src.Len(cfg.Data.TrainSet), src.Len(cfg.Data.TestSet))
	if err != nil {
		return fail(err)
	}
	have, err := preprocess.LoadSplits(splitsPath)
	if errors.Is(err, os.ErrNotExist) {
		have, err = nil, nil
	}
	if err != nil {
		return fail(err)
	}
	save, staleStats := fresh, false
	switch {
	case have == nil:
		d.Splits, save = want, true
	case !have.SameTrain(want):
		if !fresh {
			return fail(fmt.Errorf("%s was drawn with other settings than the config's (%s): the run's model was trained on it; use the run's config, or another run directory",
				splitsPath, have.Differs(want)))
		}
		d.Splits, staleStats = want, true
	case fresh:
		d.Splits = want // the same training splits, with the config's test subset
	default:
		// The training splits agree; the test subset follows the config in this process.
		d.Splits = have
		d.Splits.SetTest(want)
	}
	if save {
		if err := os.MkdirAll(run, 0o755); err != nil {
			return fail(err)
		}
		if err := d.Splits.Save(splitsPath); err != nil {
			return fail(err)
		}
	}
	if !staleStats {
		d.Stats, err = preprocess.LoadStats(statsPath)
		if errors.Is(err, os.ErrNotExist) {
			d.Stats, err = nil, nil
		}
		if err == nil && d.Stats != nil {
			err = d.Stats.Check(src)
			if st := d.Stats; err == nil && (st.Set != cfg.Data.TrainSet || st.Maps != len(d.Splits.Train) || st.Floor != cfg.Data.LogFloor) {
				err = fmt.Errorf("computed from %d maps of %s with data.log_floor %g; the training split has %d maps of %s, the config's floor is %g",
					st.Maps, st.Set, st.Floor, len(d.Splits.Train), cfg.Data.TrainSet, cfg.Data.LogFloor)
			} else if err == nil && st.Split != "" && st.Split != preprocess.SplitDigest(d.Splits.Train) {
				// Older files have no Split; a mismatch means a writer is preparing the run again.
				err = fmt.Errorf("computed from other training maps than %s lists (the run is being prepared again?)", splitsPath)
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", statsPath, err)
			}
		}
		if err != nil && !fresh {
			return fail(err)
		}
		if err != nil {
			d.Stats = nil
		}
	}
	if d.Stats == nil {
		if d.Stats, err = preprocess.ComputeStats(ctx, src, cfg.Data.TrainSet, d.Splits.Train, cfg.Data.Workers); err != nil {
			return fail(err)
		}
		if err := d.Stats.Save(statsPath); err != nil {
			return fail(err)
		}
	}
	return d, nil
}

// Digests identify what later work reads of a run's preparation: the training splits with
// their statistics (training and the baseline), and the test-set subset (encode, eval).
func (d *Data) Digests() (train, test string, err error) {
	hash := func(v ...any) (string, error) {
		h := sha256.New()
		if err := json.NewEncoder(h).Encode(v); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil))[:16], nil
	}
	s := d.Splits
	if train, err = hash(d.Stats, s.TrainSet, s.Train, s.Val, s.Test); err != nil {
		return "", "", err
	}
	test, err = hash(s.TestSet, s.TestSetMaps)
	return train, test, err
}

// Feeds returns the training feed (augmented, shuffled per epoch, batch train.batch) and the
// validation feed (identity variant, fixed order, batch train.eval_batch).
func (d *Data) Feeds(mem memory.Allocator, cfg configs.Config) (train, val trainer.Feed, err error) {
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
	return trainer.LoaderFeed(tl), trainer.LoaderFeed(vl), nil
}

// PrepareDir writes (or checks) the run directory's splits and statistics, which the caller
// has locked, and prints them. Those drawn with other settings are drawn again, unless a
// model was trained on them.
func PrepareDir(ctx context.Context, env Env, cfg configs.Config, dir string) error {
	prepare := PrepareFresh
	if latest, err := trainer.LatestCheckpoint(dir); err != nil {
		return err
	} else if latest != "" {
		prepare = Prepare
	}
	d, err := prepare(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer d.Close()
	out, s := env.out(), d.Splits
	fmt.Fprintf(out, "splits (%s, by %s, seed %d): train %d, val %d, test %d maps; %s test subset %d maps\n",
		s.TrainSet, s.SplitBy, s.Seed, len(s.Train), len(s.Val), len(s.Test), s.TestSet, len(s.TestSetMaps))
	for c, f := range d.Stats.Fields {
		fmt.Fprintf(out, "stats %-4s %-5s mean %.4f std %.4f\n", f, d.Stats.Transforms[c], d.Stats.Mean[c], d.Stats.Std[c])
	}
	if d.Stats.Floored > 0 {
		fmt.Fprintf(out, "warning: %d non-positive values in log10 channels were floored to %g\n", d.Stats.Floored, d.Stats.Floor)
	}
	fmt.Fprintf(out, "wrote %s and %s\n", filepath.Join(dir, SplitsFile), filepath.Join(dir, StatsFile))
	return nil
}
