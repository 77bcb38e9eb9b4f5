package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/eval"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/pca"
	"github.com/camelsvae/camelsvae/trainer"
	"github.com/camelsvae/camelsvae/vae"
)

// Evaluate compares the run's VAE with the PCA baseline on its test-set maps and writes
// RUN/report: results.json, the figures, report.md and report.html. It reconstructs the maps
// with every method (reconstruct), scores them (score) and draws the figures (figures). It
// only reads the rest of the run directory.
func Evaluate(ctx context.Context, env Env, cfg configs.Config, dir string) (*eval.Results, error) {
	if err := SetupRuntime(env, cfg); err != nil {
		return nil, err
	}
	data, err := Prepare(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	rec, err := reconstruct(ctx, env.out(), cfg, dir, data)
	if err != nil {
		return nil, err
	}
	env.warn(rec.warnings...)
	res, scores, err := score(env.out(), cfg, rec)
	if err != nil {
		return nil, err
	}
	if err := figures(cfg, dir, rec, res, scores); err != nil {
		return nil, err
	}
	if err := eval.WriteReport(filepath.Join(dir, ReportDir), res); err != nil {
		return nil, err
	}
	return res, nil
}

// method is one way of reconstructing the test maps.
type method struct {
	name  string
	recon [][]float32
	// codes are the numbers it keeps per map, for the latent probes (nil: not probed).
	codes [][]float32
	// grid names its column in the reconstruction figure ("" when not shown).
	grid string
	// compression says what its decoder receives (nil when not listed).
	compression *eval.Compression
}

// reconstruction is the test maps and every method's reconstruction of them.
type reconstruction struct {
	set                     string
	shape                   eval.Shape
	channels                []string // the CMD fields, in channel order
	truth                   [][]float32
	omegaM, sigma8          []float64
	sims                    []int
	probeSims               int // distinct simulations among the test maps
	methods                 []method
	vaeName, pcaName        string
	vaeMu                   [][]float32
	pca                     *pca.Model
	pcaFitSeconds           float64
	latent, input, skipNums int64
	notes                   []string
	// warnings are what the PCA worked around (pca.Model.Warnings), for the caller to print.
	warnings []string
}

// reconstruct reads the test maps and reconstructs them with the VAE (own, zeroed and another
// map's skips), the no-skip model when the run has one, PCA at the latent size and PCA with
// as many numbers as the skip model sends.
func reconstruct(ctx context.Context, log io.Writer, cfg configs.Config, dir string, data *Data) (*reconstruction, error) {
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
	r := &reconstruction{set: set, truth: truth, shape: eval.Shape{C: len(cfg.Data.Fields), H: S, W: S}, channels: cfg.Data.FieldNames(),
		omegaM: make([]float64, len(maps)), sigma8: make([]float64, len(maps)), sims: make([]int, len(maps))}
	distinct := map[int]bool{}
	for i, m := range maps {
		p, err := data.Src.Params(set, m)
		if err != nil {
			return nil, err
		}
		r.omegaM[i], r.sigma8[i], r.sims[i] = p[0], p[1], m/formats.MapsPerSim
		distinct[r.sims[i]] = true
	}
	// The latent probes hold out whole simulations, so they need at least two.
	r.probeSims = len(distinct)
	if r.probeSims < 2 {
		r.notes = append(r.notes, fmt.Sprintf("Latent analysis skipped: the %d test maps come from one simulation, and the probes hold out whole simulations.", len(maps)))
	}
	if err := r.addVAE(cfg, dir); err != nil {
		return nil, err
	}
	if err := r.addPCA(ctx, log, cfg, dir, data); err != nil {
		return nil, err
	}
	return r, nil
}

// addVAE adds the VAE's reconstructions and, for a skip model, what its latent alone carries
// and the same model trained without skips (RUN/noskip, when the pipeline made one).
func (r *reconstruction) addVAE(cfg configs.Config, dir string) error {
	model, err := vae.FromConfig(cfg)
	if err != nil {
		return err
	}
	o := model.Options()
	out, err := runCodec(cfg, model, ExportDir(dir), r.truth)
	if err != nil {
		return err
	}
	r.latent, r.input, r.vaeMu = o.Latent, int64(len(cfg.Data.Fields)*cfg.Data.Size*cfg.Data.Size), out.mu
	for _, sh := range model.SkipShapes() {
		r.skipNums += numel(sh)
	}
	r.vaeName = "VAE"
	if !o.Skips {
		c := eval.NewCompression(r.vaeName, r.input, o.Latent, 0)
		r.methods = append(r.methods, method{name: r.vaeName, recon: out.recon, codes: out.mu, grid: "VAE", compression: &c})
		return nil
	}
	r.vaeName = "VAE (skips)"
	c := eval.NewCompression(r.vaeName, r.input, o.Latent, r.skipNums)
	r.methods = append(r.methods,
		method{name: r.vaeName, recon: out.recon, codes: out.mu, grid: "VAE", compression: &c},
		method{name: "VAE, skips zeroed", recon: out.zero},
		method{name: "VAE, another map's skips", recon: out.others})
	r.notes = append(r.notes, fmt.Sprintf(
		"The skip model's decoder receives the latent (%d numbers) plus the encoder's h1..h4 (%d numbers): %d numbers per map for %d input numbers, so it does not compress. "+
			"'skips zeroed' and 'another map's skips' decode the latent with the skips replaced: they show what the latent alone carries.",
		o.Latent, r.skipNums, o.Latent+r.skipNums, r.input))
	nsDir := filepath.Join(dir, NoskipDir)
	if _, err := os.Stat(filepath.Join(ExportDir(nsDir), trainer.EncoderFile)); err != nil {
		return nil
	}
	ns := cfg
	ns.Model.Skips = false
	nsModel, err := vae.FromConfig(ns)
	if err != nil {
		return err
	}
	nsOut, err := runCodec(ns, nsModel, ExportDir(nsDir), r.truth)
	if err != nil {
		return err
	}
	nc := eval.NewCompression("VAE, no skips", r.input, o.Latent, 0)
	r.methods = append(r.methods, method{name: "VAE, no skips", recon: nsOut.recon, codes: nsOut.mu, grid: "no-skip", compression: &nc})
	return nil
}

// addPCA adds the baseline at its fitted size and, for a skip model, PCA given as many
// numbers as the skip model sends, capped by the rank of the training maps.
func (r *reconstruction) addPCA(ctx context.Context, log io.Writer, cfg configs.Config, dir string, data *Data) error {
	pm, err := pca.Load(filepath.Join(dir, PCAFile))
	if err != nil {
		return fmt.Errorf("%w (run `camelsvae pca --run %s` first)", err, dir)
	}
	r.pca = pm
	var fit pcaFit
	if b, err := os.ReadFile(filepath.Join(dir, PCAFitFile)); err == nil && json.Unmarshal(b, &fit) == nil {
		r.pcaFitSeconds = fit.Seconds
	}
	coef := pm.Transform(r.truth)
	r.pcaName = fmt.Sprintf("PCA-%d", pm.K)
	c := eval.NewCompression(r.pcaName, r.input, int64(pm.K), 0)
	r.methods = append(r.methods, method{name: r.pcaName, recon: pm.InverseTransform(coef), codes: coef, grid: "PCA", compression: &c})
	r.warnings = append(r.warnings, pm.Warnings...)
	if r.skipNums == 0 || !cfg.Model.Skips {
		return nil
	}
	sent := r.latent + r.skipNums
	k := int(min(sent, int64(pm.NSamples-1), r.input))
	if k <= pm.K {
		return nil
	}
	fmt.Fprintf(log, "  fitting PCA-%d (the skip model's transmitted numbers, capped by rank)\n", k)
	c2 := cfg
	c2.PCA.Components, c2.PCA.Solver = k, "exact"
	big, err := fitPCA(ctx, c2, data)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("PCA-%d (equal numbers)", k)
	ce := eval.NewCompression(name, r.input, int64(k), 0)
	r.methods = append(r.methods, method{name: name, recon: big.InverseTransform(big.Transform(r.truth)), compression: &ce})
	r.warnings = append(r.warnings, big.Warnings...)
	if int64(k) < sent {
		r.notes = append(r.notes, fmt.Sprintf("PCA cannot use more than %d components here (training maps - 1), fewer than the %d numbers the skip model transmits.", k, sent))
	}
	return nil
}

// scored is one method's per-map metrics and power spectra.
type scored struct {
	metrics eval.Metrics
	spectra []eval.Spectrum
}

// score computes every method's metrics, spectra, pixel KS distances and latent probes, the
// compression table, and the comparisons of the VAE with PCA (over maps and over simulations).
func score(log io.Writer, cfg configs.Config, r *reconstruction) (*eval.Results, map[string]scored, error) {
	res := &eval.Results{Title: fmt.Sprintf("camelsvae: VAE vs PCA on %d %s maps (%dx%d)", len(r.truth), r.set, r.shape.H, r.shape.W),
		TestMaps: len(r.truth), Simulations: r.probeSims}
	workers := cfg.Data.Workers
	e := cfg.Eval
	latentOpt := eval.LatentOptions{Clusters: e.Clusters, Ridge: e.Ridge, L2: 1e-2, Folds: e.ProbeFolds, Repeats: e.ProbeRepeats,
		Resamples: e.Bootstrap, Level: 0.95, Seed: uint64(cfg.Seed)}
	scores := map[string]scored{}
	for _, m := range r.methods {
		fmt.Fprintf(log, "  evaluating %s\n", m.name)
		met, err := eval.Evaluate(r.truth, m.recon, r.shape, workers)
		if err != nil {
			return nil, nil, err
		}
		spectra, err := eval.PowerSpectra(r.truth, m.recon, r.shape, workers)
		if err != nil {
			return nil, nil, err
		}
		ks, err := eval.PixelKS(r.truth, m.recon, r.shape, 4)
		if err != nil {
			return nil, nil, err
		}
		mr := eval.NewMethodResult(m.name, met, r.channels, ks, spectra)
		if m.codes != nil && r.probeSims >= 2 {
			la, err := eval.AnalyseLatents(eval.Float64Rows(m.codes), r.omegaM, r.sigma8, r.sims, latentOpt)
			if err != nil {
				return nil, nil, fmt.Errorf("latent analysis of %s: %w", m.name, err)
			}
			mr.Latent = &la
		}
		res.Methods = append(res.Methods, mr)
		scores[m.name] = scored{met, spectra}
	}
	for _, m := range r.methods {
		if m.compression != nil {
			res.Compression = append(res.Compression, *m.compression)
		}
	}
	res.Notes = r.notes
	pm := r.pca
	res.PCA = &eval.PCASummary{Components: pm.K, Solver: pm.Solver, TrainMaps: pm.NSamples,
		CumulativeRatio: eval.Num(pm.CumulativeRatio[pm.K-1]), RatioCurve: eval.Nums(pm.CumulativeRatio), FitSeconds: eval.Num(r.pcaFitSeconds)}
	a, b := scores[r.vaeName].metrics, scores[r.pcaName].metrics
	opt := eval.CompareOptions{Resamples: e.Bootstrap, Level: 0.95, Seed: uint64(cfg.Seed)}
	for _, c := range []struct {
		metric string
		a, b   []float64
	}{{"MSE", a.MSE, b.MSE}, {"PSNR (dB)", a.PSNR, b.PSNR}, {"SSIM", a.SSIM, b.SSIM}} {
		res.Comparisons = append(res.Comparisons, eval.Compare(c.metric, r.vaeName, r.pcaName, c.a, c.b, r.sims, opt))
	}
	return res, scores, nil
}

// ReadResults reads a run's report/results.json.
func ReadResults(dir string) (*eval.Results, error) {
	path := filepath.Join(dir, ReportDir, ResultsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run `camelsvae eval --run %s` first)", err, dir)
	}
	var r eval.Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// PrintSummary prints the results table and where the report is.
func PrintSummary(w io.Writer, r *eval.Results, dir string) {
	fmt.Fprintf(w, "\n%s\n", r.Title)
	fmt.Fprintf(w, "%-32s %12s %10s %8s\n", "method", "MSE", "PSNR (dB)", "SSIM")
	for _, m := range r.Methods {
		fmt.Fprintf(w, "%-32s %12.6f %10.3f %8.4f\n", m.Name, m.MSE.Mean, m.PSNR.Mean, m.SSIM.Mean)
	}
	fmt.Fprintf(w, "%-32s %12.6f %10.3f %8.3f   (the study, 256x256 LH)\n", "study: VAE", 0.001456, 28.370, 0.987)
	fmt.Fprintf(w, "%-32s %12.6f %10.3f %8.3f\n", "study: PCA", 0.492135, 3.079, 0.127)
	for _, c := range r.Comparisons {
		fmt.Fprintf(w, "%s, %s - %s: %.4g, 95%% interval [%.4g, %.4g] over %d simulations (%s; over maps, the study's test: %s)\n",
			c.Metric, c.A, c.B, float64(c.MeanDiff), float64(c.CI.Lo), float64(c.CI.Hi), c.Simulations, eval.FormatP(c.SimLevel.P), eval.FormatP(c.MapLevel.P))
	}
	report := filepath.Join(dir, ReportDir, ReportHTML)
	if _, err := os.Stat(report); errors.Is(err, os.ErrNotExist) {
		return
	}
	fmt.Fprintf(w, "\nreport: %s\n", report)
}
