package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/synth"
	"github.com/camelsvae/camelsvae/trainer"
)

// Run executes the whole study into the run directory dir: synth (when data.dir is a folder
// of generated maps or has none of the CMD files), prepare, train, noskip (the same model
// without skips, when eval.noskip_baseline asks for it), pca, encode and eval. Each stage is
// skipped when its outputs exist and its inputs are unchanged (see stages.go).
func Run(ctx context.Context, env Env, cfg configs.Config, dir string) error {
	out := env.out()
	start := time.Now()
	l, err := Lock(dir, "camelsvae run")
	if err != nil {
		return err
	}
	defer l.Release()
	if err := SetupRuntime(env, cfg); err != nil {
		return err
	}
	stages, err := runStages(ctx, env, cfg, dir)
	if err != nil {
		return err
	}
	p := &pipeline{dir: dir, out: out}
	if err := p.run(stages); err != nil {
		if errors.Is(err, trainer.ErrInterrupted) {
			fmt.Fprintf(out, "stopped cleanly; run the same command again to resume\n")
		}
		return err
	}
	fmt.Fprintf(out, "pipeline finished in %.0fs\n", time.Since(start).Seconds())
	return nil
}

// runStages is `run`'s stage table: each stage's config inputs, the digests it reads, its
// outputs, whether this config enables it, and the function that does its work.
func runStages(ctx context.Context, env Env, cfg configs.Config, dir string) ([]stage, error) {
	out := env.out()
	files := dataFiles(cfg.Data)
	generate, err := needsSynth(cfg.Data, files)
	if err != nil {
		return nil, err
	}
	if !generate {
		fmt.Fprintf(out, "using the CMD files in %s\n", cfg.Data.Dir)
	}
	// Stage hashes cover what changes results; worker counts, prefetch and cache size do not.
	data, syn := cfg.Data, cfg.Synth
	data.Workers, data.Prefetch, data.CacheMB, syn.Workers = 0, 0, 0, 0
	ns := cfg
	ns.Model.Skips = false
	train, err := trainStage(ctx, env, cfg, dir, "train", dir)
	if err != nil {
		return nil, err
	}
	noskip, err := trainStage(ctx, env, ns, dir, "noskip", filepath.Join(dir, NoskipDir))
	if err != nil {
		return nil, err
	}
	noskip.enabled = cfg.Model.Skips && cfg.Eval.NoSkipBaseline
	// prepare hands on two digests: the training split and its statistics, which training
	// and the baseline read, and the test-set subset, which encode and eval read. A new
	// data.test_maps then retrains nothing.
	var prepared *Data
	return []stage{
		{
			name: "synth", enabled: generate, inputs: []any{syn, cfg.Data.Dir, cfg.Data.Suite, cfg.Data.FieldNames()}, outputs: files,
			run: func(bool) error { return synthStage(ctx, env, cfg, files) },
		},
		{
			name: "prepare", enabled: true, inputs: []any{cfg.Seed, data}, after: []string{"synth"},
			outputs: []string{StatsFile, SplitsFile},
			run: func(bool) error {
				d, err := PrepareFresh(ctx, cfg, dir)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "  splits: %d train, %d val, %d test %s maps; %d %s test maps\n", len(d.Splits.Train), len(d.Splits.Val),
					len(d.Splits.Test), cfg.Data.TrainSet, len(d.Splits.TestSetMaps), cfg.Data.TestSet)
				prepared = d
				return d.Close()
			},
			publish: func() (map[string]string, error) {
				tr, te, err := prepared.Digests()
				return map[string]string{"prepare.train": tr, "prepare.test": te}, err
			},
		},
		train,
		noskip,
		{
			name: "pca", enabled: true, inputs: []any{cfg.PCA, cfg.Seed}, after: []string{"prepare.train"}, outputs: []string{PCAFile},
			run: func(bool) error { return PCA(ctx, env, cfg, dir) },
		},
		{
			name: "encode", enabled: true, inputs: []any{cfg.Data.TestSet}, after: []string{"train", "prepare.test"},
			outputs: []string{filepath.Join(LatentsDir, cfg.Data.TestSet+".parquet")},
			run: func(bool) error {
				return Encode(ctx, env, cfg, dir, EncodeOptions{Batch: 64})
			},
		},
		{
			name: "eval", enabled: true, inputs: []any{cfg.Eval, cfg.Seed}, after: []string{"train", "pca", "prepare.test", "noskip"},
			outputs: []string{filepath.Join(ReportDir, ResultsFile), filepath.Join(ReportDir, ReportHTML)},
			run: func(bool) error {
				r, err := Evaluate(ctx, env, cfg, dir)
				if err == nil {
					PrintSummary(out, r, dir)
				}
				return err
			},
		},
	}, nil
}

// trainStage is the stage that trains cfg's model into sub (the run directory itself, or
// its noskip folder). It always resumes: a training with other settings was retired before
// it runs, and one that someone else trained there is refused by recordRunConfig.
func trainStage(ctx context.Context, env Env, cfg configs.Config, dir, name, sub string) (stage, error) {
	keys, err := configs.TrainingKeys(cfg)
	if err != nil {
		return stage{}, err
	}
	rel, _ := filepath.Rel(dir, sub)
	return stage{
		name: name, enabled: true, inputs: []any{keys}, extend: []any{cfg.Train.Epochs, cfg.Train.Patience}, after: []string{"prepare.train"},
		outputs: []string{filepath.Join(rel, trainer.ExportDir, trainer.EncoderFile), filepath.Join(rel, trainer.ExportDir, trainer.DecoderFile)},
		retire:  func() error { return retireTraining(env.out(), cfg, sub) },
		run: func(bool) error {
			if sub != dir {
				l, err := Lock(sub, "camelsvae run")
				if err != nil {
					return err
				}
				defer l.Release()
				// The no-skip model shares the skip model's splits and statistics.
				if err := copyPrepared(dir, sub); err != nil {
					return err
				}
				fmt.Fprintln(env.out(), "  the same model with skips off (the decoder sees only the latent)")
			}
			return Train(ctx, env, cfg, sub, true)
		},
		publish: func() (map[string]string, error) {
			d, err := fileDigest(sub, filepath.Join(trainer.ExportDir, trainer.EncoderFile), filepath.Join(trainer.ExportDir, trainer.DecoderFile))
			return map[string]string{name: d}, err
		},
	}, nil
}

// dataFiles lists the CMD files a config reads (absolute, so stage outputs name them
// exactly whatever the run directory).
func dataFiles(d configs.Data) []string {
	dir, err := filepath.Abs(d.Dir)
	if err == nil {
		d.Dir = dir
	}
	var out []string
	for _, set := range []string{d.TrainSet, d.TestSet} {
		for _, f := range d.FieldNames() {
			out = append(out, formats.MapPath(d.Dir, f, d.Suite, set))
		}
		out = append(out, formats.ParamsPath(d.Dir, set, d.Suite))
	}
	return out
}

// needsSynth decides where run's maps come from: the CMD files in data.dir when all are there
// and synth did not make them, else maps that synth generates into data.dir, when the folder
// holds synth's manifest or none of the files. Some of the files without a manifest is an
// error naming the missing ones: synth never adds maps to a folder of real data.
func needsSynth(d configs.Data, files []string) (bool, error) {
	man, err := synth.ReadManifest(d.Dir)
	if err != nil || man != nil {
		return man != nil, err
	}
	var missing []string
	for _, f := range files {
		if _, err := os.Lstat(f); err != nil {
			missing = append(missing, filepath.Base(f))
		}
	}
	switch len(missing) {
	case 0:
		return false, nil
	case len(files):
		return true, nil
	}
	return false, fmt.Errorf("data.dir %s has %d of the %d CMD files the config reads; missing: %s. Add them, or point data.dir at an empty folder to generate CMD-like maps",
		d.Dir, len(files)-len(missing), len(files), strings.Join(missing, ", "))
}

// synthStage generates the config's maps into data.dir, unless the folder's manifest says
// they are there already.
func synthStage(ctx context.Context, env Env, cfg configs.Config, files []string) error {
	out := env.out()
	s := cfg.Synth
	opt := synth.Options{Dir: cfg.Data.Dir, Fields: cfg.Data.FieldNames(), Sets: s.Sets, LHSims: s.LHSims, CVSims: s.CVSims,
		Size: s.Size, Seed: s.Seed, Workers: s.Workers}
	man, err := synth.ReadManifest(cfg.Data.Dir)
	if err != nil {
		return err
	}
	present := true
	for _, f := range files {
		_, err := os.Stat(f)
		present = present && err == nil
	}
	if man != nil && man.Complete && man.Same(opt) && present {
		fmt.Fprintf(out, "  %s holds maps generated with these settings (%s); using them\n", cfg.Data.Dir, man.Describe())
		return nil
	}
	fmt.Fprintf(out, "  generating CMD-like maps (%v, %dx%d) into %s\n", s.Sets, s.Size, s.Size, cfg.Data.Dir)
	last := time.Now()
	err = synth.Generate(ctx, opt, func(done, total int) {
		if time.Since(last) > 5*time.Second || done == total {
			last = time.Now()
			fmt.Fprintf(out, "  %d/%d maps\n", done, total)
		}
	})
	if se := (*synth.SettingsError)(nil); errors.As(err, &se) {
		return fmt.Errorf("%w: regenerate them with `camelsvae synth --config %s --force`, or point data.dir at another folder", err, env.ConfigPath)
	}
	return err
}

// copyPrepared copies a run's splits and statistics into another run directory.
func copyPrepared(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, f := range []string{StatsFile, SplitsFile} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			return err
		}
		if err := formats.WriteFile(filepath.Join(to, f), b); err != nil {
			return err
		}
	}
	return nil
}

// retireTraining moves a run directory's training outputs into train.prev-N, saying which
// settings changed: a training with other settings is never deleted.
func retireTraining(out io.Writer, cfg configs.Config, dir string) error {
	why := "the training data or its statistics changed"
	if was, err := readRunConfig(dir); err == nil && was != nil {
		if diff, err := configs.TrainingDiff(*was, cfg); err == nil && len(diff) > 0 {
			why = strings.Join(diff, ", ")
		}
	}
	dest, err := moveAside(dir, "train", trainer.RunFiles...)
	if err != nil || dest == "" {
		return err
	}
	fmt.Fprintf(out, "  moved the earlier training (%s) to %s\n", why, filepath.Join(dir, dest))
	return nil
}
