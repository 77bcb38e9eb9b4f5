package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/trainer"
)

// EncodeOptions say what Encode writes.
type EncodeOptions struct {
	// Set is the CMD set (default data.test_set); Maps "" (the run's test subset of the test
	// set, every map of another), "all", or N (the first N).
	Set, Maps string
	// Out is the .parquet or .arrow table (default RUN/latents/SET.parquet); NPY also writes
	// mu as OUT.mu.npy. With Shard, Out is the folder of the parts (default
	// RUN/latents/SET-parts).
	Out   string
	NPY   bool
	Batch int
	// Shard, when not nil, encodes only that part of the maps into Out/part-K-of-N.parquet,
	// and does nothing when that part is already there, complete and from this encoder.
	Shard *Shard
}

// Encode runs the run's exported encoder over maps of a set into a latents table. It only
// reads the run directory, so it needs no lock.
func Encode(ctx context.Context, env Env, cfg configs.Config, dir string, o EncodeOptions) error {
	if o.Set == "" {
		o.Set = cfg.Data.TestSet
	}
	// The run opens these two sets (Prepare); any other has no maps here.
	if o.Set != cfg.Data.TrainSet && o.Set != cfg.Data.TestSet {
		return fmt.Errorf("--set %s: the run's sets are %s (data.train_set) and %s (data.test_set)", o.Set, cfg.Data.TrainSet, cfg.Data.TestSet)
	}
	out := o.Out
	switch {
	case o.Shard != nil && out == "":
		out = filepath.Join(dir, "latents", o.Set+"-parts")
	case o.Shard != nil && (strings.HasSuffix(out, ".parquet") || strings.HasSuffix(out, ".arrow")):
		return fmt.Errorf("--out %s: --shard writes part-K-of-N.parquet files into a folder; give the folder", out)
	case out == "":
		out = LatentsFile(dir, o.Set)
	}
	if err := SetupRuntime(env, cfg); err != nil {
		return err
	}
	data, err := Prepare(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer data.Close()
	maps, err := data.chooseMaps(o.Set, o.Maps, cfg.Data.TestSet)
	if err != nil {
		return err
	}
	enc, err := trainer.EncoderDigest(ExportDir(dir))
	if err != nil {
		return err
	}
	meta := map[string]string{trainer.MetaEncoder: enc, trainer.MetaSet: o.Set, trainer.MetaFields: strings.Join(cfg.Data.FieldNames(), ",")}
	partDir := out
	if o.Shard != nil {
		if maps = o.Shard.Maps(maps); len(maps) == 0 {
			return fmt.Errorf("--shard %s: the %s maps come from fewer simulations than parts; use fewer parts", o.Shard, o.Set)
		}
		meta[MetaShard], meta[MetaMaps] = o.Shard.String(), mapsDigest(maps)
		out = filepath.Join(partDir, o.Shard.File())
		done, err := partDone(out, meta)
		if err != nil {
			return err
		}
		if done {
			fmt.Fprintf(env.out(), "part %s of %s is already complete: %s (%d of %d parts in %s)\n", o.Shard, o.Set, out,
				partsDone(partDir, o.Shard.N), o.Shard.N, partDir)
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	st, err := trainer.Encode(ctx, trainer.EncodeOptions{
		Mem: memory.DefaultAllocator, Src: data.Src, Stats: data.Stats, Config: cfg, Export: ExportDir(dir),
		Set: o.Set, Maps: maps, Batch: max(1, o.Batch), Out: out, NPY: o.NPY, Log: env.out(), Meta: meta,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.out(), "encoded %d maps of %s in %.1fs (%.1f maps/s) -> %s\n", st.Maps, o.Set, st.Seconds, float64(st.Maps)/st.Seconds, out)
	if o.Shard != nil {
		fmt.Fprintf(env.out(), "%d of %d parts complete in %s\n", partsDone(partDir, o.Shard.N), o.Shard.N, partDir)
	}
	return nil
}

// chooseMaps resolves --maps: "" is the run's subset of the test set (all maps of other
// sets), "all" every map, N the first N.
func (d *Data) chooseMaps(set, arg, testSet string) ([]int, error) {
	n := d.Src.Len(set)
	all := func(k int) []int {
		out := make([]int, k)
		for i := range out {
			out[i] = i
		}
		return out
	}
	switch strings.ToLower(arg) {
	case "":
		if set == testSet && len(d.Splits.TestSetMaps) > 0 {
			return d.Splits.TestSetMaps, nil
		}
		return all(n), nil
	case "all":
		return all(n), nil
	}
	k, err := strconv.Atoi(arg)
	if err != nil || k <= 0 {
		return nil, fmt.Errorf("--maps %q: want a positive number or all", arg)
	}
	if k > n {
		return nil, fmt.Errorf("--maps %d: set %s has %d maps", k, set, n)
	}
	return all(k), nil
}
