package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/camelsvae/camelsvae/synth"
	"github.com/spf13/cobra"
)

func newSynthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "synth --out DIR [--fields Mgas,Vgas,B] [--sets CV,LH] [--lh-sims N] [--cv-sims N] [--size 256] [--seed S]",
		Short: "Generate CAMELS-like CMD files (Maps_{field}_IllustrisTNG_{set}_z=0.00.npy and params tables)",
		Long: "synth writes maps that stand in for the CAMELS Multifield Dataset: a Zel'dovich-displaced\n" +
			"Gaussian density with the real CV and LH parameters (sigma_8 and Omega_m set its power,\n" +
			"the feedback parameters its gas smoothing and magnetic bubbles), 15 maps per simulation,\n" +
			"in CMD file names, units and value ranges. Any of CMD's fields: Mgas, Vgas, T, P, Z, HI, ne,\n" +
			"B, MgFe, Mcdm, Vcdm, Mstar, Mtot and Mtot_Nbody, all from one simulated density field.\n" +
			"Flags override the config's synth section; the fields default to data.fields. A folder\n" +
			"of synth's maps with the same settings gains new fields without --force.\n" +
			"The folder gets a manifest (" + synth.ManifestFile + ") of the generator, version, seed and\n" +
			"files. synth never writes over a file it did not create, and replaces maps it generated\n" +
			"with other settings only with --force.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Flags are applied to the synth section here: the shared --size/--seed flag keys
			// would otherwise set data.size and the run seed.
			path, _ := cmd.Flags().GetString("config")
			cfg, warnings, err := resolveConfigWarn(path, nil, os.Environ())
			printWarnings(cmd, warnings)
			if err != nil {
				return err
			}
			s := cfg.Synth
			f := cmd.Flags()
			if f.Changed("sets") {
				v, _ := f.GetString("sets")
				s.Sets = strings.Split(v, ",")
			}
			if f.Changed("lh-sims") {
				s.LHSims, _ = f.GetInt("lh-sims")
			}
			if f.Changed("cv-sims") {
				s.CVSims, _ = f.GetInt("cv-sims")
			}
			if f.Changed("size") {
				s.Size, _ = f.GetInt("size")
			}
			if f.Changed("seed") {
				s.Seed, _ = f.GetInt64("seed")
			}
			if f.Changed("workers") {
				s.Workers, _ = f.GetInt("workers")
			}
			fields := cfg.Data.FieldNames()
			if f.Changed("fields") {
				v, _ := f.GetString("fields")
				fields = strings.Split(v, ",")
			}
			force, _ := f.GetBool("force")
			outDir, _ := f.GetString("out")
			if outDir == "" {
				outDir = cfg.Data.Dir
			}
			out := cmd.OutOrStdout()
			start := time.Now()
			last := time.Time{}
			err = synth.Generate(cmd.Context(), synth.Options{
				Dir: outDir, Fields: fields, Sets: s.Sets, LHSims: s.LHSims, CVSims: s.CVSims, Size: s.Size, Seed: s.Seed, Workers: s.Workers, Force: force,
			}, func(done, total int) {
				if done == total || time.Since(last) > 2*time.Second {
					last = time.Now()
					fmt.Fprintf(out, "synth: %d/%d maps (%.0f maps/s)\n", done, total, float64(done)/time.Since(start).Seconds())
				}
			})
			if se := (*synth.SettingsError)(nil); errors.As(err, &se) {
				return fmt.Errorf("%w: pass --force to replace them, or choose another --out", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "synth: wrote %s of sets %s at %dx%d to %s in %.1fs\n", strings.Join(fields, ","), strings.Join(s.Sets, ","),
				s.Size, s.Size, outDir, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().String("out", "", "output directory (default data.dir)")
	cmd.Flags().String("sets", "CV,LH", "sets to generate (synth.sets)")
	cmd.Flags().String("fields", "", "CMD fields to generate, comma-separated (default: the fields of data.fields)")
	cmd.Flags().Int("lh-sims", 0, "LH simulations to generate, 0 = all 1000 (synth.lh_sims)")
	cmd.Flags().Int("cv-sims", 0, "CV simulations to generate, 0 = all 27 (synth.cv_sims)")
	cmd.Flags().Int("size", 256, "map side, a power of two (synth.size)")
	cmd.Flags().Int64("seed", 100, "generator seed (synth.seed)")
	cmd.Flags().Int("workers", 0, "generator goroutines (synth.workers)")
	cmd.Flags().Bool("force", false, "replace maps synth generated in --out with other settings")
	return cmd
}
