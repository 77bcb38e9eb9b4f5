package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/lock"
	"github.com/camelsvae/camelsvae/synth"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --config F [--out RUN_DIR]",
		Short: "The whole pipeline: synth, prepare, train, pca, encode, eval, report (finished stages are reused)",
		Long: "run executes synth -> prepare -> train -> pca -> encode -> eval -> report into RUN_DIR.\n" +
			"Each stage is skipped when its outputs exist and its inputs (the config values it reads and\n" +
			"the stages before it) are unchanged; a changed config reruns what depends on the change.\n" +
			"synth generates CMD-like maps into data.dir when the folder has none of the CMD files (or\n" +
			"holds maps synth made); a folder with only some of them is an error, and real CMD files\n" +
			"are never touched. Ctrl-C during training stops cleanly; run again to resume.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			run := outRunDir(cmd)
			return runPipeline(cmd, cfg, run)
		},
	}
	cmd.Flags().String("out", "", "run directory (default runs/<config name>)")
	return cmd
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
		for _, f := range formats.Fields {
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
func synthStage(cmd *cobra.Command, cfg configs.Config, files []string) error {
	out := cmd.OutOrStdout()
	s := cfg.Synth
	opt := synth.Options{Dir: cfg.Data.Dir, Sets: s.Sets, LHSims: s.LHSims, CVSims: s.CVSims, Size: s.Size, Seed: s.Seed, Workers: s.Workers}
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
	err = synth.Generate(cmd.Context(), opt, func(done, total int) {
		if time.Since(last) > 5*time.Second || done == total {
			last = time.Now()
			fmt.Fprintf(out, "  %d/%d maps\n", done, total)
		}
	})
	if se := (*synth.SettingsError)(nil); errors.As(err, &se) {
		return fmt.Errorf("%w: regenerate them with `camelsvae synth --config %s --force`, or point data.dir at another folder", err, configArg(cmd))
	}
	return err
}

func runPipeline(cmd *cobra.Command, cfg configs.Config, run string) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	start := time.Now()
	l, err := lock.Acquire(run, "camelsvae run")
	if err != nil {
		return err
	}
	defer l.Release()
	if err := setupRuntime(cmd, cfg); err != nil {
		return err
	}
	p := &pipeline{dir: run, out: out}
	files := dataFiles(cfg.Data)
	// Stage hashes cover what changes results; worker counts, prefetch and cache size do not.
	data, syn := cfg.Data, cfg.Synth
	data.Workers, data.Prefetch, data.CacheMB, syn.Workers = 0, 0, 0, 0

	generate, err := needsSynth(cfg.Data, files)
	if err != nil {
		return err
	}
	stages := []stage{}
	var prepareAfter []string
	if generate {
		stages = append(stages, stage{
			name: "synth", inputs: []any{syn, cfg.Data.Dir, cfg.Data.Suite}, outputs: files,
			run: func(bool) error { return synthStage(cmd, cfg, files) },
		})
		prepareAfter = []string{"synth"}
	} else {
		fmt.Fprintf(out, "using the CMD files in %s\n", cfg.Data.Dir)
	}
	// prepare hands on two digests: the training split and its statistics, which training
	// and the baseline read, and the test-set subset, which encode and eval read. A new
	// data.test_maps then retrains nothing.
	var prepared *trainer.Data
	stages = append(stages, stage{
		name: "prepare", inputs: []any{cfg.Seed, data}, after: prepareAfter,
		outputs: []string{trainer.StatsFile, trainer.SplitsFile},
		run: func(bool) error {
			d, err := trainer.PrepareFresh(ctx, cfg, run)
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
	})
	trainStage := func(name string, c configs.Config, dir string) (stage, error) {
		keys, err := configs.TrainingKeys(c)
		if err != nil {
			return stage{}, err
		}
		rel, _ := filepath.Rel(run, dir)
		return stage{
			name: name, inputs: []any{keys}, extend: []any{c.Train.Epochs, c.Train.Patience}, after: []string{"prepare.train"},
			outputs: []string{filepath.Join(rel, exportDir, trainer.EncoderFile), filepath.Join(rel, exportDir, trainer.DecoderFile)},
			retire:  func() error { return retireTraining(out, c, dir) },
			run: func(bool) error {
				if dir != run {
					l, err := lock.Acquire(dir, "camelsvae run")
					if err != nil {
						return err
					}
					defer l.Release()
					// The no-skip model shares the skip model's splits and statistics.
					if err := copyPrepared(run, dir); err != nil {
						return err
					}
					fmt.Fprintln(out, "  the same model with skips off (the decoder sees only the latent)")
				}
				// Always resume: a run with other training settings was retired above,
				// and one that someone else trained here is refused by recordRunConfig.
				return trainRun(cmd, c, dir, true)
			},
			publish: func() (map[string]string, error) {
				d, err := fileDigest(dir, filepath.Join(exportDir, trainer.EncoderFile), filepath.Join(exportDir, trainer.DecoderFile))
				return map[string]string{name: d}, err
			},
		}, nil
	}
	st, err := trainStage("train", cfg, run)
	if err != nil {
		return err
	}
	stages = append(stages, st)
	evalAfter := []string{"train", "pca", "prepare.test"}
	if cfg.Model.Skips && cfg.Eval.NoSkipBaseline {
		ns := cfg
		ns.Model.Skips = false
		st, err := trainStage("noskip", ns, filepath.Join(run, noskipDir))
		if err != nil {
			return err
		}
		stages = append(stages, st)
		evalAfter = append(evalAfter, "noskip")
	}
	stages = append(stages,
		stage{
			name: "pca", inputs: []any{cfg.PCA, cfg.Seed}, after: []string{"prepare.train"}, outputs: []string{pcaFile},
			run: func(bool) error { return pcaStage(ctx, cfg, run, out) },
		},
		stage{
			name: "encode", inputs: []any{cfg.Data.TestSet}, after: []string{"train", "prepare.test"},
			outputs: []string{filepath.Join("latents", cfg.Data.TestSet+".parquet")},
			run: func(bool) error {
				return encodeStage(cmd, cfg, run)
			},
		},
		stage{
			name: "eval", inputs: []any{cfg.Eval, cfg.Seed}, after: evalAfter,
			outputs: []string{filepath.Join(reportDir, resultsFile), filepath.Join(reportDir, "report.html")},
			run: func(bool) error {
				r, err := evaluateRun(ctx, cfg, run, out)
				if err == nil {
					printSummary(out, r, run)
				}
				return err
			},
		},
	)
	if err := p.run(stages); err != nil {
		if errors.Is(err, trainer.ErrInterrupted) {
			fmt.Fprintf(out, "stopped cleanly; run the same command again to resume\n")
		}
		return err
	}
	fmt.Fprintf(out, "pipeline finished in %.0fs\n", time.Since(start).Seconds())
	return nil
}

// copyPrepared copies a run's splits and statistics into another run directory.
func copyPrepared(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, f := range []string{trainer.StatsFile, trainer.SplitsFile} {
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
func retireTraining(out io.Writer, cfg configs.Config, run string) error {
	why := "the training data or its statistics changed"
	if was, err := readRunConfig(run); err == nil && was != nil {
		if diff, err := configs.TrainingDiff(*was, cfg); err == nil && len(diff) > 0 {
			why = strings.Join(diff, ", ")
		}
	}
	dest, err := moveAside(run, "train", trainer.RunFiles...)
	if err != nil || dest == "" {
		return err
	}
	fmt.Fprintf(out, "  moved the earlier training (%s) to %s\n", why, filepath.Join(run, dest))
	return nil
}

// encodeStage writes the test set's latents with the exported encoder.
func encodeStage(cmd *cobra.Command, cfg configs.Config, run string) error {
	data, err := trainer.Prepare(cmd.Context(), cfg, run)
	if err != nil {
		return err
	}
	defer data.Close()
	maps, err := chooseMaps(data, cfg.Data.TestSet, "", cfg.Data.TestSet)
	if err != nil {
		return err
	}
	dst := filepath.Join(run, "latents", cfg.Data.TestSet+".parquet")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	st, err := trainer.Encode(cmd.Context(), trainer.EncodeOptions{
		Mem: memory.DefaultAllocator, Data: data, Config: cfg, Encoder: filepath.Join(run, exportDir, trainer.EncoderFile),
		Set: cfg.Data.TestSet, Maps: maps, Batch: 64, Out: dst, Log: cmd.OutOrStdout(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "  encoded %d maps (%.1f maps/s) -> %s\n", st.Maps, float64(st.Maps)/st.Seconds, dst)
	return nil
}
