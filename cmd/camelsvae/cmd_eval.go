package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/eval"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/lock"
	"github.com/camelsvae/camelsvae/pca"
	"github.com/camelsvae/camelsvae/preprocess"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/camelsvae/camelsvae/vae"
	"github.com/spf13/cobra"
)

// Where eval and report write in a run directory.
const (
	reportDir   = "report"
	resultsFile = "results.json"
	noskipDir   = "noskip"
)

// channelNames are the CMD fields in channel order.
var channelNames = formats.Fields[:]

func newPCACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pca --run RUN_DIR",
		Short: "Fit the PCA baseline (pca.components, default 256) on the run's training maps",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			cfg, err := runDirConfig(cmd, run)
			if err != nil {
				return err
			}
			l, err := lock.Acquire(run, "camelsvae pca")
			if err != nil {
				return err
			}
			defer l.Release()
			return pcaStage(cmd.Context(), cfg, run, cmd.OutOrStdout())
		},
	}
	cmd.Flags().String("run", "", "run directory (after prepare or train)")
	return cmd
}

// pcaFitFile records how long the baseline's fit took (reading the maps included).
const pcaFitFile = "pca/fit.json"

type pcaFit struct {
	Seconds  float64 `json:"seconds"`
	Maps     int     `json:"maps"`
	Features int     `json:"features"`
}

// pcaStage fits and saves the baseline.
func pcaStage(ctx context.Context, cfg configs.Config, run string, out io.Writer) error {
	data, err := trainer.Prepare(ctx, cfg, run)
	if err != nil {
		return err
	}
	defer data.Close()
	start := time.Now()
	m, err := fitPCA(ctx, cfg, data)
	if err != nil {
		return err
	}
	path := filepath.Join(run, pcaFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := m.Save(path); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	b, _ := json.Marshal(pcaFit{Seconds: secs, Maps: m.NSamples, Features: m.D})
	if err := formats.WriteFile(filepath.Join(run, pcaFitFile), b); err != nil {
		return err
	}
	fmt.Fprintf(out, "PCA: %d components on %d training maps x %d features (%s), cumulative explained variance %.2f%%, %.1fs -> %s\n",
		m.K, m.NSamples, m.D, m.Solver, 100*m.CumulativeRatio[m.K-1], secs, path)
	return nil
}

func newEvalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval --run RUN_DIR",
		Short: "Compare the VAE with the PCA baseline on the test set: metrics, spectra, latents, figures",
		Long: "eval reconstructs the run's test-set maps with the VAE (own skips, zeroed skips, another\n" +
			"map's skips), the no-skip model when RUN_DIR/noskip holds one, and the PCA baseline, then\n" +
			"writes RUN_DIR/report/results.json, the figures and report.md/report.html.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			cfg, err := runDirConfig(cmd, run)
			if err != nil {
				return err
			}
			if err := setupRuntime(cmd, cfg); err != nil {
				return err
			}
			r, err := evaluateRun(cmd.Context(), cfg, run, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), r, run)
			return nil
		},
	}
	cmd.Flags().String("run", "", "run directory of a trained model")
	return cmd
}

func newReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report --run RUN_DIR",
		Short: "Write report.md and a self-contained report.html from the run's results.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			run, _ := cmd.Flags().GetString("run")
			if run == "" {
				return fmt.Errorf("--run is required (a run directory evaluated by `camelsvae eval`)")
			}
			r, err := readResults(run)
			if err != nil {
				return err
			}
			if err := eval.WriteReport(filepath.Join(run, reportDir), r); err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), r, run)
			return nil
		},
	}
	cmd.Flags().String("run", "", "run directory evaluated by `camelsvae eval`")
	return cmd
}

func readResults(run string) (*eval.Results, error) {
	path := filepath.Join(run, reportDir, resultsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run `camelsvae eval --run %s` first)", err, run)
	}
	var r eval.Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// evaluateRun computes every number and figure of the report and writes it.
func evaluateRun(ctx context.Context, cfg configs.Config, run string, log io.Writer) (*eval.Results, error) {
	data, err := trainer.Prepare(ctx, cfg, run)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	set, maps := cfg.Data.TestSet, data.Splits.TestSetMaps
	// data.test_maps 0 takes the whole set, which may be small: K-means needs a map per
	// cluster, and the spreads and figures need two maps.
	if need := max(2, cfg.Eval.Clusters); len(maps) < need {
		return nil, fmt.Errorf("the run's splits have %d %s test maps (data.test_maps %d), too few for eval.clusters %d: want at least %d",
			len(maps), set, cfg.Data.TestMaps, cfg.Eval.Clusters, need)
	}
	fmt.Fprintf(log, "  reading %d %s maps\n", len(maps), set)
	truth, err := readMaps(ctx, data, set, maps, cfg.Data.Workers)
	if err != nil {
		return nil, err
	}
	S := cfg.Data.Size
	shape := eval.Shape{C: preprocess.Channels, H: S, W: S}
	workers := cfg.Data.Workers
	omegaM, sigma8, sims := make([]float64, len(maps)), make([]float64, len(maps)), make([]int, len(maps))
	for i, m := range maps {
		p, err := data.Src.Params(set, m)
		if err != nil {
			return nil, err
		}
		omegaM[i], sigma8[i], sims[i] = p[0], p[1], m/15
	}
	res := &eval.Results{Title: fmt.Sprintf("camelsvae: VAE vs PCA on %d %s maps (%dx%d)", len(maps), set, S, S), TestMaps: len(maps)}
	figDir := filepath.Join(run, reportDir, "figures")
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return nil, err
	}
	// The latent probes hold out whole simulations, so they need at least two.
	distinct := map[int]bool{}
	for _, s := range sims {
		distinct[s] = true
	}
	probeSims := len(distinct)
	if probeSims < 2 {
		res.Notes = append(res.Notes, fmt.Sprintf("Latent analysis skipped: the %d test maps come from one simulation, and the probes hold out whole simulations.", len(maps)))
	}
	latentOpt := eval.LatentOptions{Clusters: cfg.Eval.Clusters, Ridge: cfg.Eval.Ridge, L2: 1e-2, TestFrac: 0.25, Seed: uint64(cfg.Seed)}
	var grid []eval.Panel
	// addMethod scores one method; gridName, when set, puts it in the reconstruction figure
	// under that (short) title.
	addMethod := func(name string, rec [][]float32, codes [][]float32, gridName string) (eval.Metrics, []eval.Spectrum, error) {
		fmt.Fprintf(log, "  evaluating %s\n", name)
		m := eval.Evaluate(truth, rec, shape, workers)
		spectra := eval.PowerSpectra(truth, rec, shape, workers)
		ks := eval.PixelKS(truth, rec, shape, 4)
		mr := eval.NewMethodResult(name, m, channelNames, ks, spectra)
		if codes != nil && probeSims >= 2 {
			la, err := eval.AnalyseLatents(eval.Float64Rows(codes), omegaM, sigma8, sims, latentOpt)
			if err != nil {
				return m, nil, fmt.Errorf("latent analysis of %s: %w", name, err)
			}
			mr.Latent = &la
		}
		res.Methods = append(res.Methods, mr)
		if gridName != "" {
			grid = append(grid, eval.Panel{Name: gridName, Maps: rec[:min(len(rec), cfg.Eval.GridMaps)]})
		}
		return m, spectra, nil
	}

	// The VAE, and what its latent alone carries.
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	out, err := runVAE(cfg, run, truth)
	if err != nil {
		return nil, err
	}
	input := int64(preprocess.Channels * S * S)
	var skipNumbers int64
	for _, sh := range model.SkipShapes() {
		skipNumbers += numel(sh)
	}
	vaeName := "VAE"
	if model.Options().Skips {
		vaeName = "VAE (skips)"
		res.Compression = append(res.Compression, eval.NewCompression(vaeName, input, model.Options().Latent, skipNumbers))
	} else {
		res.Compression = append(res.Compression, eval.NewCompression(vaeName, input, model.Options().Latent, 0))
	}
	vaeM, vaeSpectra, err := addMethod(vaeName, out.Recon, out.Mu, "VAE")
	if err != nil {
		return nil, err
	}
	if model.Options().Skips {
		if _, _, err := addMethod("VAE, skips zeroed", out.Zero, nil, ""); err != nil {
			return nil, err
		}
		if _, _, err := addMethod("VAE, another map's skips", out.Others, nil, ""); err != nil {
			return nil, err
		}
		res.Notes = append(res.Notes, fmt.Sprintf(
			"The skip model's decoder receives the latent (%d numbers) plus the encoder's h1..h4 (%d numbers): %d numbers per map for %d input numbers, so it does not compress. "+
				"'skips zeroed' and 'another map's skips' decode the latent with the skips replaced: they show what the latent alone carries.",
			model.Options().Latent, skipNumbers, model.Options().Latent+skipNumbers, input))
	}
	// The honest bottleneck: the same model trained with skips off, when the pipeline made one.
	nsRun := filepath.Join(run, noskipDir)
	if model.Options().Skips {
		if _, err := os.Stat(filepath.Join(nsRun, exportDir, trainer.EncoderFile)); err == nil {
			ns := cfg
			ns.Model.Skips = false
			nsOut, err := runVAE(ns, nsRun, truth)
			if err != nil {
				return nil, err
			}
			if _, _, err := addMethod("VAE, no skips", nsOut.Recon, nsOut.Mu, "no-skip"); err != nil {
				return nil, err
			}
			res.Compression = append(res.Compression, eval.NewCompression("VAE, no skips", input, model.Options().Latent, 0))
		}
	}

	// The PCA baseline at the latent size, and at the skip model's transmitted numbers.
	pm, err := pca.Load(filepath.Join(run, pcaFile))
	if err != nil {
		return nil, fmt.Errorf("%w (run `camelsvae pca --run %s` first)", err, run)
	}
	coef := pm.Transform(truth)
	pcaName := fmt.Sprintf("PCA-%d", pm.K)
	pcaM, pcaSpectra, err := addMethod(pcaName, pm.InverseTransform(coef), coef, "PCA")
	if err != nil {
		return nil, err
	}
	res.Compression = append(res.Compression, eval.NewCompression(pcaName, input, int64(pm.K), 0))
	res.PCA = &eval.PCASummary{Components: pm.K, Solver: pm.Solver, TrainMaps: pm.NSamples,
		CumulativeRatio: pm.CumulativeRatio[pm.K-1], RatioCurve: pm.CumulativeRatio}
	var fit pcaFit
	if b, err := os.ReadFile(filepath.Join(run, pcaFitFile)); err == nil && json.Unmarshal(b, &fit) == nil {
		res.PCA.FitSeconds = fit.Seconds
	}
	if model.Options().Skips {
		// Equal transmitted numbers: PCA given as many numbers as the skip model sends,
		// capped by the rank of the training maps.
		k := int(min(model.Options().Latent+skipNumbers, int64(pm.NSamples-1), input))
		if k > pm.K {
			fmt.Fprintf(log, "  fitting PCA-%d (the skip model's transmitted numbers, capped by rank)\n", k)
			c2 := cfg
			c2.PCA.Components, c2.PCA.Solver = k, "exact"
			big, err := fitPCA(ctx, c2, data)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("PCA-%d (equal numbers)", k)
			if _, _, err := addMethod(name, big.InverseTransform(big.Transform(truth)), nil, ""); err != nil {
				return nil, err
			}
			res.Compression = append(res.Compression, eval.NewCompression(name, input, int64(k), 0))
			if int64(k) < model.Options().Latent+skipNumbers {
				res.Notes = append(res.Notes, fmt.Sprintf("PCA cannot use more than %d components here (training maps - 1), fewer than the %d numbers the skip model transmits.", k, model.Options().Latent+skipNumbers))
			}
		}
	}

	// Paired tests over the same maps.
	for _, c := range []struct {
		metric string
		a, b   []float64
	}{{"mse", vaeM.MSE, pcaM.MSE}, {"psnr", vaeM.PSNR, pcaM.PSNR}, {"ssim", vaeM.SSIM, pcaM.SSIM}} {
		res.Comparisons = append(res.Comparisons, eval.Comparison{Metric: c.metric, A: vaeName, B: pcaName, TTest: eval.PairedTTest(c.a, c.b)})
	}

	// Figures.
	fig := func(file, title, caption string) {
		res.Figures = append(res.Figures, eval.Figure{Title: title, Path: filepath.Join("figures", file), Caption: caption})
	}
	if ms, err := trainer.ReadMetrics(filepath.Join(run, trainer.MetricsFile)); err == nil && len(ms) > 0 {
		var series []eval.Series
		for _, t := range []struct {
			name string
			get  func(trainer.EpochMetrics) float64
		}{
			{"train total", func(m trainer.EpochMetrics) float64 { return m.Train.Total }},
			{"val total", func(m trainer.EpochMetrics) float64 { return m.Val.Total }},
			{"train MSE", func(m trainer.EpochMetrics) float64 { return m.Train.MSE }},
			{"val MSE", func(m trainer.EpochMetrics) float64 { return m.Val.MSE }},
			{"val 1-SSIM", func(m trainer.EpochMetrics) float64 { return 1 - m.Val.SSIM }},
			{"val KL x beta", func(m trainer.EpochMetrics) float64 { return m.Val.KL * m.ValKLWeight }},
		} {
			s := eval.Series{Name: t.name}
			for _, m := range ms {
				s.X, s.Y = append(s.X, float64(m.Epoch)), append(s.Y, t.get(m))
			}
			series = append(series, s)
		}
		if err := eval.LinePlot(filepath.Join(figDir, "loss.png"), "Training and validation loss", "epoch", "loss", series, false, true); err != nil {
			return nil, err
		}
		fig("loss.png", "Loss curves", "Training and validation loss terms per epoch (KL term weighted by the warm-up).")
	}
	if n := min(len(truth), cfg.Eval.GridMaps); n > 0 {
		for i := range grid {
			grid[i].Maps = grid[i].Maps[:n]
		}
		if err := eval.ReconstructionGrid(filepath.Join(figDir, "reconstructions.png"), truth[:n], grid, shape, channelNames, max(1, S/128)); err != nil {
			return nil, err
		}
		fig("reconstructions.png", "Reconstructions", fmt.Sprintf("%d %s test maps: original, reconstructions and absolute errors per channel (normalised units; shared colour scale per channel).", n, set))
	}
	names := make([]string, len(res.Methods))
	for i, m := range res.Methods {
		names[i] = m.Name
	}
	for _, b := range []struct {
		file, title string
		get         func(eval.MethodResult) eval.Stat
	}{
		{"mse.png", "MSE (normalised maps)", func(m eval.MethodResult) eval.Stat { return m.MSE }},
		{"psnr.png", "PSNR (dB, data range 1)", func(m eval.MethodResult) eval.Stat { return m.PSNR }},
		{"ssim.png", "SSIM", func(m eval.MethodResult) eval.Stat { return m.SSIM }},
	} {
		vals, errs := make([]float64, len(res.Methods)), make([]float64, len(res.Methods))
		for i, m := range res.Methods {
			vals[i], errs[i] = b.get(m).Mean, b.get(m).Std
		}
		if err := eval.BarChart(filepath.Join(figDir, b.file), b.title, "", names, vals, errs); err != nil {
			return nil, err
		}
		fig(b.file, b.title, "Mean over the test maps; error bars are one standard deviation.")
	}
	ev := eval.Series{Name: "PCA cumulative explained variance"}
	for i, r := range pm.CumulativeRatio {
		ev.X, ev.Y = append(ev.X, float64(i+1)), append(ev.Y, r)
	}
	if err := eval.LinePlot(filepath.Join(figDir, "explained_variance.png"), "PCA explained variance", "components", "cumulative ratio", []eval.Series{ev}, false, false); err != nil {
		return nil, err
	}
	fig("explained_variance.png", "Explained variance", fmt.Sprintf("Cumulative explained variance of the PCA fitted on %d training maps.", pm.NSamples))
	x, y := eval.Leading2(eval.Float64Rows(out.Mu))
	if err := eval.Scatter(filepath.Join(figDir, "latent_omega_m.png"), "VAE latent (2 leading PCA axes of mu)", "PC1", "PC2", x, y, omegaM, false); err != nil {
		return nil, err
	}
	fig("latent_omega_m.png", "Latent space by Omega_m", "The two leading principal axes of the VAE's mu, coloured by Omega_m.")
	if la := res.Methods[0].Latent; la != nil && len(la.Labels) == len(x) {
		lab := make([]float64, len(la.Labels))
		for i, l := range la.Labels {
			lab[i] = float64(l)
		}
		if err := eval.Scatter(filepath.Join(figDir, "latent_clusters.png"), "VAE latent, K-means clusters", "PC1", "PC2", x, y, lab, true); err != nil {
			return nil, err
		}
		fig("latent_clusters.png", "Latent clusters", fmt.Sprintf("The same axes coloured by K-means cluster (k = %d).", cfg.Eval.Clusters))
	}
	for _, kind := range []string{"ratio", "r"} {
		var series []eval.Series
		for c, name := range channelNames {
			for _, m := range []struct {
				name string
				sp   []eval.Spectrum
			}{{vaeName, vaeSpectra}, {pcaName, pcaSpectra}} {
				s := eval.Series{Name: m.name + " " + name, X: m.sp[c].K, Y: m.sp[c].Ratio}
				if kind == "r" {
					s.Y = m.sp[c].R
				}
				series = append(series, s)
			}
		}
		file, title, ylab, caption := "pk_ratio.png", "Power spectrum ratio P_rec(k)/P_true(k)", "P_rec/P_true", "Ratio of reconstructed to true power per channel; 1 is perfect."
		if kind == "r" {
			file, title, ylab, caption = "rk.png", "Cross-correlation r(k)", "r(k)", "Cross-correlation coefficient between true and reconstructed maps; 1 is perfect."
		}
		if err := eval.LinePlot(filepath.Join(figDir, file), title, "k (cycles per map)", ylab, series, true, kind == "ratio"); err != nil {
			return nil, err
		}
		fig(file, title, caption)
	}
	if err := eval.WriteReport(filepath.Join(run, reportDir), res); err != nil {
		return nil, err
	}
	return res, nil
}

// printSummary prints the results table and where the report is.
func printSummary(w io.Writer, r *eval.Results, run string) {
	fmt.Fprintf(w, "\n%s\n", r.Title)
	fmt.Fprintf(w, "%-32s %12s %10s %8s\n", "method", "MSE", "PSNR (dB)", "SSIM")
	for _, m := range r.Methods {
		fmt.Fprintf(w, "%-32s %12.6f %10.3f %8.4f\n", m.Name, m.MSE.Mean, m.PSNR.Mean, m.SSIM.Mean)
	}
	fmt.Fprintf(w, "%-32s %12.6f %10.3f %8.3f   (the study, 256x256 LH)\n", "study: VAE", 0.001456, 28.370, 0.987)
	fmt.Fprintf(w, "%-32s %12.6f %10.3f %8.3f\n", "study: PCA", 0.492135, 3.079, 0.127)
	report := filepath.Join(run, reportDir, "report.html")
	if _, err := os.Stat(report); errors.Is(err, os.ErrNotExist) {
		return
	}
	fmt.Fprintf(w, "\nreport: %s\n", report)
}
