package pipeline

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/eval"
	"github.com/camelsvae/camelsvae/trainer"
)

// figures draws the report's figures into RUN/report/figures and lists them in res.
func figures(cfg configs.Config, dir string, r *reconstruction, res *eval.Results, scores map[string]scored) error {
	figDir := filepath.Join(dir, ReportDir, "figures")
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return err
	}
	fig := func(file, title, caption string) {
		res.Figures = append(res.Figures, eval.Figure{Title: title, Path: filepath.Join("figures", file), Caption: caption})
	}
	for _, f := range []func(figDir, dir string, cfg configs.Config, r *reconstruction) (file, title, caption string, err error){lossFigure, gridFigure} {
		file, title, caption, err := f(figDir, dir, cfg, r)
		if err != nil {
			return err
		}
		if file != "" {
			fig(file, title, caption)
		}
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
		vals, errs := make([]float64, len(res.Methods)), make([]eval.ErrorBar, len(res.Methods))
		for i, m := range res.Methods {
			st := b.get(m)
			vals[i], errs[i] = float64(st.Mean), eval.ErrorBar{Low: float64(st.Std), High: float64(st.Std)}
		}
		if err := eval.BarChart(filepath.Join(figDir, b.file), b.title, "", names, vals, errs); err != nil {
			return err
		}
		fig(b.file, b.title, fmt.Sprintf("Mean over the %d test maps (from %d simulations); error bars are one standard deviation over maps.", res.TestMaps, res.Simulations))
	}
	if err := probeFigure(figDir, res, fig); err != nil {
		return err
	}
	ev := eval.Series{Name: "PCA cumulative explained variance"}
	for i, v := range r.pca.CumulativeRatio {
		ev.X, ev.Y = append(ev.X, float64(i+1)), append(ev.Y, v)
	}
	if err := eval.LinePlot(filepath.Join(figDir, "explained_variance.png"), "PCA explained variance", "components", "cumulative ratio", []eval.Series{ev}, false, false); err != nil {
		return err
	}
	fig("explained_variance.png", "Explained variance", fmt.Sprintf("Cumulative explained variance of the PCA fitted on %d training maps.", r.pca.NSamples))
	x, y := eval.Leading2(eval.Float64Rows(r.vaeMu))
	if err := eval.Scatter(filepath.Join(figDir, "latent_omega_m.png"), "VAE latent (2 leading PCA axes of mu)", "PC1", "PC2", x, y, r.omegaM, false); err != nil {
		return err
	}
	fig("latent_omega_m.png", "Latent space by Omega_m", fmt.Sprintf("The two leading principal axes of the VAE's mu for the %d test maps (from %d simulations), coloured by Omega_m.", len(x), r.probeSims))
	if la := res.Methods[0].Latent; la != nil && len(la.Labels) == len(x) {
		lab := make([]float64, len(la.Labels))
		for i, l := range la.Labels {
			lab[i] = float64(l)
		}
		if err := eval.Scatter(filepath.Join(figDir, "latent_clusters.png"), "VAE latent, K-means clusters", "PC1", "PC2", x, y, lab, true); err != nil {
			return err
		}
		fig("latent_clusters.png", "Latent clusters", fmt.Sprintf("The same axes coloured by K-means cluster (k = %d; %d maps from %d simulations).", cfg.Eval.Clusters, len(x), r.probeSims))
	}
	return spectrumFigures(figDir, r, scores, fig)
}

// probeFigure draws the latent probes' R^2 with their simulation-bootstrap intervals.
func probeFigure(figDir string, res *eval.Results, fig func(file, title, caption string)) error {
	var names []string
	var vals []float64
	var errs []eval.ErrorBar
	var la *eval.LatentAnalysis
	for _, m := range res.Methods {
		if m.Latent == nil {
			continue
		}
		la = m.Latent
		for _, p := range []struct {
			name  string
			probe eval.Probe
		}{{"Ω_m", m.Latent.R2OmegaM}, {"σ_8", m.Latent.R2Sigma8}} {
			mean := float64(p.probe.Mean)
			names = append(names, m.Name+"\n"+p.name)
			vals = append(vals, mean)
			errs = append(errs, eval.ErrorBar{Low: mean - float64(p.probe.CI.Lo), High: float64(p.probe.CI.Hi) - mean})
		}
	}
	if la == nil {
		return nil
	}
	if err := eval.BarChart(filepath.Join(figDir, "probes.png"), "Latent probes: R² on held-out simulations", "R²", names, vals, errs); err != nil {
		return err
	}
	fig("probes.png", "Latent probes", fmt.Sprintf("Ridge R² of Ω_m and σ_8 from each method's codes: mean over %d repeats of %d-fold cross-validation over the %d test simulations (%d maps); "+
		"error bars are the 95%% simulation-bootstrap interval. 0 is the mean's R².", la.Repeats, la.Folds, la.Simulations, la.N))
	return nil
}

// lossFigure draws the training's loss curves when the run has metrics.
func lossFigure(figDir, dir string, _ configs.Config, _ *reconstruction) (file, title, caption string, err error) {
	ms, err := trainer.ReadMetrics(filepath.Join(dir, trainer.MetricsFile))
	if err != nil || len(ms) == 0 {
		return "", "", "", nil
	}
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
		return "", "", "", err
	}
	return "loss.png", "Loss curves", "Training and validation loss terms per epoch (KL term weighted by the warm-up).", nil
}

// gridFigure draws the first eval.grid_maps test maps with each shown method's
// reconstruction and error.
func gridFigure(figDir, _ string, cfg configs.Config, r *reconstruction) (file, title, caption string, err error) {
	n := min(len(r.truth), cfg.Eval.GridMaps)
	if n == 0 {
		return "", "", "", nil
	}
	var grid []eval.Panel
	for _, m := range r.methods {
		if m.grid != "" {
			grid = append(grid, eval.Panel{Name: m.grid, Maps: m.recon[:n]})
		}
	}
	if err := eval.ReconstructionGrid(filepath.Join(figDir, "reconstructions.png"), r.truth[:n], grid, r.shape, r.channels, max(1, r.shape.H/128)); err != nil {
		return "", "", "", err
	}
	return "reconstructions.png", "Reconstructions",
		fmt.Sprintf("%d %s test maps: original, reconstructions and absolute errors per channel (normalised units; shared colour scale per channel).", n, r.set), nil
}

// spectrumFigures draws the power-spectrum ratios and cross-correlations of the VAE and PCA.
func spectrumFigures(figDir string, r *reconstruction, scores map[string]scored, fig func(file, title, caption string)) error {
	for _, kind := range []string{"ratio", "r"} {
		var series []eval.Series
		for c, name := range r.channels {
			for _, m := range []string{r.vaeName, r.pcaName} {
				sp := scores[m].spectra
				s := eval.Series{Name: m + " " + name, X: sp[c].K, Y: sp[c].Ratio}
				if kind == "r" {
					s.Y = sp[c].R
				}
				series = append(series, s)
			}
		}
		file, title, ylab, caption := "pk_ratio.png", "Power spectrum ratio P_rec(k)/P_true(k)", "P_rec/P_true", "Ratio of reconstructed to true power per channel; 1 is perfect."
		if kind == "r" {
			file, title, ylab, caption = "rk.png", "Cross-correlation r(k)", "r(k)", "Cross-correlation coefficient between true and reconstructed maps; 1 is perfect."
		}
		if err := eval.LinePlot(filepath.Join(figDir, file), title, "k (cycles per map)", ylab, series, true, kind == "ratio"); err != nil {
			return err
		}
		fig(file, title, caption)
	}
	return nil
}
