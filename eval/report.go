package eval

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/camelsvae/camelsvae/formats"
)

// Stat is a mean and sample standard deviation over maps of the finite values; N counts
// them and Excluded the non-finite ones left out (PSNR +Inf of a perfectly reconstructed
// map), so that a reader sees what the mean is over.
type Stat struct {
	Mean     Num `json:"mean"`
	Std      Num `json:"std"`
	N        int `json:"n"`
	Excluded int `json:"excluded"`
}

// NewStat summarises x.
func NewStat(x []float64) Stat {
	m, s, n := MeanStd(x)
	return Stat{Mean: Num(m), Std: Num(s), N: n, Excluded: len(x) - n}
}

// ChannelResult holds one channel's numbers for one method.
type ChannelResult struct {
	Name string `json:"name"`
	MSE  Stat   `json:"mse"`
	PSNR Stat   `json:"psnr"`
	SSIM Stat   `json:"ssim"`
	// KSD is the two-sample Kolmogorov-Smirnov distance between the true and reconstructed
	// pixel values (NaN when not computed). No p-value: neighbouring pixels are correlated,
	// so the test's independence assumption fails by orders of magnitude.
	KSD      Num              `json:"ks_d"`
	Spectrum *SpectrumSummary `json:"spectrum,omitempty"`
}

// SpectrumSummary is a Spectrum (see there) as results.json holds it, plus two numbers a
// reader can compare: the mean |log10 ratio| over the bins and the first k where r(k) falls
// below 0.5.
type SpectrumSummary struct {
	K      []Num `json:"k"`
	Modes  []int `json:"modes"`
	PTrue  []Num `json:"p_true"`
	PRec   []Num `json:"p_rec"`
	PCross []Num `json:"p_cross"`
	Ratio  []Num `json:"ratio"`
	R      []Num `json:"r"`
	// MeanAbsLog10Ratio is the mean over the bins where the truth has power; a bin where the
	// reconstruction has none makes it +Inf (a constant map reproduces no structure).
	MeanAbsLog10Ratio Num `json:"mean_abs_log10_ratio"`
	// KrHalf is the first k where r < 0.5, or where r is undefined because the
	// reconstruction has no power there; +Inf when r >= 0.5 in every bin.
	KrHalf Num `json:"k_r_half"`
}

// Summarise returns the SpectrumSummary of sp.
func Summarise(sp Spectrum) SpectrumSummary {
	out := SpectrumSummary{K: Nums(sp.K), Modes: sp.Modes, PTrue: Nums(sp.PTrue), PRec: Nums(sp.PRec),
		PCross: Nums(sp.PCross), Ratio: Nums(sp.Ratio), R: Nums(sp.R), KrHalf: Num(math.Inf(1))}
	var sum float64
	n := 0
	for i, r := range sp.Ratio {
		if !(sp.PTrue[i] > 0) {
			continue // no structure to reproduce: the bin says nothing
		}
		sum += math.Abs(math.Log10(r)) // +Inf for r = 0
		n++
		if math.IsInf(float64(out.KrHalf), 1) && !(sp.R[i] >= 0.5) {
			out.KrHalf = Num(sp.K[i])
		}
	}
	out.MeanAbsLog10Ratio = Num(math.NaN())
	if n > 0 {
		out.MeanAbsLog10Ratio = Num(sum / float64(n))
	}
	return out
}

// Compression accounts for what a method transmits: the input numbers, the latent numbers,
// what else the decoder receives (the VAE's skip tensors), their sum and its bytes (float32).
type Compression struct {
	Method        string `json:"method"`
	InputNumbers  int64  `json:"input_numbers"`
	LatentNumbers int64  `json:"latent_numbers"`
	SkipNumbers   int64  `json:"skip_numbers"`
	Transmitted   int64  `json:"transmitted_numbers"`
	Bytes         int64  `json:"bytes"`
	Ratio         Num    `json:"ratio"` // input numbers / transmitted numbers
}

// NewCompression fills Transmitted, Bytes (4 per float32) and Ratio.
func NewCompression(method string, input, latent, skip int64) Compression {
	t := latent + skip
	return Compression{Method: method, InputNumbers: input, LatentNumbers: latent, SkipNumbers: skip,
		Transmitted: t, Bytes: 4 * t, Ratio: Num(float64(input) / float64(t))}
}

// MethodResult holds every number of one method (VAE, VAE without skips, PCA, ...).
type MethodResult struct {
	Name string `json:"name"`
	MSE  Stat   `json:"mse"`
	// PSNR is the mean of the per-map PSNRs; PSNROfMeanMSE is the PSNR of MSE.Mean, which is
	// lower (the mean of a logarithm is not the logarithm of the mean).
	PSNR          Stat            `json:"psnr"`
	PSNROfMeanMSE Num             `json:"psnr_of_mean_mse"`
	PSNRTarget    Stat            `json:"psnr_target"`
	SSIM          Stat            `json:"ssim"`
	Channels      []ChannelResult `json:"channels"`
	Latent        *LatentAnalysis `json:"latent,omitempty"`
}

// NewMethodResult summarises Metrics (and optional per-channel KS distances and spectra,
// which may be nil) under a method name.
func NewMethodResult(name string, m Metrics, channels []string, ksd []float64, spectra []Spectrum) MethodResult {
	r := MethodResult{Name: name, MSE: NewStat(m.MSE), PSNR: NewStat(m.PSNR), PSNRTarget: NewStat(m.PSNRTarget), SSIM: NewStat(m.SSIM)}
	r.PSNROfMeanMSE = Num(PSNR(float64(r.MSE.Mean), 1))
	col := func(x [][]float64, c int) []float64 {
		o := make([]float64, len(x))
		for i := range x {
			o[i] = x[i][c]
		}
		return o
	}
	for c := range m.Shape.C {
		name := fmt.Sprint(c)
		if c < len(channels) {
			name = channels[c]
		}
		cr := ChannelResult{Name: name, MSE: NewStat(col(m.ChannelMSE, c)), PSNR: NewStat(col(m.ChannelPSNR, c)), SSIM: NewStat(col(m.ChannelSSIM, c)),
			KSD: Num(math.NaN())}
		if c < len(ksd) {
			cr.KSD = Num(ksd[c])
		}
		if c < len(spectra) {
			s := Summarise(spectra[c])
			cr.Spectrum = &s
		}
		r.Channels = append(r.Channels, cr)
	}
	return r
}

// PCASummary records the baseline's fit.
type PCASummary struct {
	Components      int    `json:"components"`
	Solver          string `json:"solver"`
	TrainMaps       int    `json:"train_maps"`
	CumulativeRatio Num    `json:"cumulative_ratio"`
	RatioCurve      []Num  `json:"cumulative_ratio_curve,omitempty"`
	FitSeconds      Num    `json:"fit_seconds"`
}

// Figure is a PNG (path relative to the report directory, or absolute) with a caption.
type Figure struct {
	Title   string `json:"title"`
	Path    string `json:"path"`
	Caption string `json:"caption"`
}

// Results is everything eval reports (results.json). Every number is a Num or an integer,
// so that NaN and infinities survive the JSON round trip.
type Results struct {
	Title string   `json:"title"`
	Notes []string `json:"notes,omitempty"`
	// TestMaps and Simulations count the test maps and the simulations they come from.
	TestMaps    int            `json:"test_maps"`
	Simulations int            `json:"simulations"`
	Methods     []MethodResult `json:"methods"`
	Comparisons []Comparison   `json:"comparisons"`
	Compression []Compression  `json:"compression"`
	PCA         *PCASummary    `json:"pca,omitempty"`
	Figures     []Figure       `json:"figures"`
}

// WriteReport writes results.json, report.md and a self-contained report.html (figures
// embedded as base64 data URIs) into dir, each atomically.
func WriteReport(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: report: results.json: %w", err)
	}
	write := func(name string, b []byte) error {
		return formats.WriteFile(filepath.Join(dir, name), b)
	}
	if err := write("results.json", append(js, '\n')); err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	if err := write("report.md", []byte(markdown(r))); err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	h, err := htmlReport(dir, r)
	if err != nil {
		return err
	}
	if err := write("report.html", h); err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	return nil
}

// f4 formats a measured number: 4 decimals, scientific outside [1e-3, 1e5), and NaN as
// "n/a".
func f4(x Num) string {
	f := float64(x)
	switch {
	case math.IsNaN(f):
		return "n/a"
	case math.IsInf(f, 0):
		return fmt.Sprint(f)
	case f != 0 && (math.Abs(f) < 1e-3 || math.Abs(f) >= 1e5):
		return fmt.Sprintf("%.3e", f)
	}
	return fmt.Sprintf("%.4f", f)
}

// pm formats a Stat as mean ± std, with the count when non-finite values were left out.
func pm(s Stat) string {
	out := f4(s.Mean) + " ± " + f4(s.Std)
	if s.Excluded > 0 {
		out += fmt.Sprintf(" (n = %d; %d non-finite left out)", s.N, s.Excluded)
	}
	return out
}

// ci formats an interval as [lo, hi].
func ci(iv Interval) string { return "[" + f4(iv.Lo) + ", " + f4(iv.Hi) + "]" }

// kHalf formats KrHalf: a bin centre, or "> k_max" when r stays above 0.5.
func kHalf(s *SpectrumSummary) string {
	if math.IsInf(float64(s.KrHalf), 1) {
		if len(s.K) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("> %g", float64(s.K[len(s.K)-1]))
	}
	return fmt.Sprintf("%g", float64(s.KrHalf))
}

// FormatP formats a p-value as the report does, "p = 0.0123"; 0 is where float64
// underflows, so it is shown as the bound "p < 1e-300".
func FormatP(p Num) string {
	if p == 0 {
		return "p < 1e-300"
	}
	return "p = " + f4(p)
}

func ttest(t TTest) string {
	return fmt.Sprintf("t = %s, %s (n = %d)", f4(t.Statistic), FormatP(t.P), t.N)
}

// medianAlpha is the median of the ridge penalties used across the folds.
func medianAlpha(a []Num) string {
	if len(a) == 0 {
		return "n/a"
	}
	s := slices.Sorted(slices.Values(Floats(a)))
	return fmt.Sprintf("%g", quantileSorted(s, 0.5))
}

// tables returns the report's tables as header + rows, shared by Markdown and HTML.
func tables(r *Results) []table {
	var ts []table
	t := table{Title: fmt.Sprintf("Reconstruction of the %d test maps (mean ± std over maps)", r.TestMaps),
		Head: []string{"method", "maps", "MSE", "PSNR (dB): mean over maps", "PSNR (dB) of the mean MSE", "PSNR (dB, target range)", "SSIM"}}
	for _, m := range r.Methods {
		t.Rows = append(t.Rows, []string{m.Name, fmt.Sprint(m.MSE.N + m.MSE.Excluded), pm(m.MSE), pm(m.PSNR), f4(m.PSNROfMeanMSE), pm(m.PSNRTarget), pm(m.SSIM)})
	}
	ts = append(ts, t)
	t = table{Title: "Per channel (mean ± std over maps)", Head: []string{"method", "channel", "maps", "MSE", "PSNR (dB)", "SSIM", "pixel KS D", "mean |log10(P_rec/P_true)|", "k where r < 0.5 (cycles per map)"}}
	for _, m := range r.Methods {
		for _, c := range m.Channels {
			sp, kr := "", ""
			if c.Spectrum != nil {
				sp, kr = f4(c.Spectrum.MeanAbsLog10Ratio), kHalf(c.Spectrum)
			}
			t.Rows = append(t.Rows, []string{m.Name, c.Name, fmt.Sprint(c.MSE.N + c.MSE.Excluded), pm(c.MSE), pm(c.PSNR), pm(c.SSIM), f4(c.KSD), sp, kr})
		}
	}
	ts = append(ts, t)
	if len(r.Comparisons) > 0 {
		t = table{Title: "Differences A − B over the same maps",
			Head: []string{"metric", "A", "B", "mean A − B", "95% interval (simulation bootstrap)", "t-test over simulation means",
				"Wilcoxon over simulation means", "t-test over maps (the study's; maps taken as independent)", "effective n (ICC)"}}
		for _, c := range r.Comparisons {
			t.Rows = append(t.Rows, []string{c.Metric, c.A, c.B, f4(c.MeanDiff), ci(c.CI), ttest(c.SimLevel),
				fmt.Sprintf("W = %g, %s (n = %d)", float64(c.Wilcoxon.Statistic), FormatP(c.Wilcoxon.P), c.Wilcoxon.N),
				ttest(c.MapLevel), fmt.Sprintf("%.1f (%s)", float64(c.EffectiveN), f4(c.ICC))})
		}
		ts = append(ts, t)
	}
	if len(r.Compression) > 0 {
		t = table{Title: "What the decoder receives", Head: []string{"method", "input numbers", "latent", "skips", "transmitted", "bytes", "input / transmitted"}}
		for _, c := range r.Compression {
			t.Rows = append(t.Rows, []string{c.Method, fmt.Sprint(c.InputNumbers), fmt.Sprint(c.LatentNumbers), fmt.Sprint(c.SkipNumbers),
				fmt.Sprint(c.Transmitted), fmt.Sprint(c.Bytes), fmt.Sprintf("%.3g", float64(c.Ratio))})
		}
		ts = append(ts, t)
	}
	var lat []MethodResult
	for _, m := range r.Methods {
		if m.Latent != nil {
			lat = append(lat, m)
		}
	}
	if len(lat) > 0 {
		probe := func(p Probe) string { return f4(p.Mean) + " " + ci(p.CI) }
		t = table{Title: "Latent probes on held-out simulations (mean over repeats of grouped K-fold cross-validation, 95% simulation-bootstrap interval)",
			Head: []string{"method", "dim", "maps", "simulations", "folds × repeats", "silhouette (k-means)", "Ω_m tertile accuracy (chance 1/3)", "R² Ω_m", "R² σ_8", "ridge α (median) Ω_m / σ_8"}}
		for _, m := range lat {
			l := m.Latent
			t.Rows = append(t.Rows, []string{m.Name, fmt.Sprint(l.Dim), fmt.Sprint(l.N), fmt.Sprint(l.Simulations), fmt.Sprintf("%d × %d", l.Folds, l.Repeats),
				f4(l.Silhouette), probe(l.TertileAccuracy), probe(l.R2OmegaM), probe(l.R2Sigma8),
				medianAlpha(l.RidgeAlphasOmegaM) + " / " + medianAlpha(l.RidgeAlphasSigma8)})
		}
		ts = append(ts, t)
	}
	if r.PCA != nil {
		ts = append(ts, table{Title: "PCA baseline", Head: []string{"components", "solver", "training maps", "cumulative explained variance", "fit (s)"},
			Rows: [][]string{{fmt.Sprint(r.PCA.Components), r.PCA.Solver, fmt.Sprint(r.PCA.TrainMaps), f4(r.PCA.CumulativeRatio), fmt.Sprintf("%.2f", float64(r.PCA.FitSeconds))}}})
	}
	return ts
}

// definitions say what every column of the report means and its unit.
var definitions = []string{
	"Maps are compared on the normalised scale the models see (per-field transform, then z-scored with the training split's statistics), so MSE is in squared standard deviations of that scale.",
	"MSE: mean squared error over the pixels of a map (all channels) or of one channel. PSNR (dB): 10 log10(1/MSE), data range 1 as the study; \"mean over maps\" averages the per-map PSNRs, \"of the mean MSE\" is 10 log10(1/mean MSE), which is lower. \"target range\" uses each map's own max − min. SSIM: scikit-image's structural_similarity, Gaussian window σ = 1.5, data range 1, averaged over channels; 1 is identical.",
	"mean ± std is over maps; n is the number of maps unless noted, non-finite values (PSNR +Inf of a perfect map) are left out and counted.",
	"pixel KS D: the largest distance between the cumulative distributions of true and reconstructed pixel values (0 to 1). No p-value is given: neighbouring pixels are correlated, so a test that takes them as independent has none worth showing.",
	"P(k): power of the 2D Fourier transform in rings of width 1 in k, in cycles per map side (× 2π/25 for h/Mpc on a 25 Mpc/h CAMELS map). P_rec/P_true = 1 and the cross-correlation r(k) = 1 are perfect. \"mean |log10(P_rec/P_true)|\" averages over the rings; +Inf means the reconstruction has no power in some ring. \"k where r < 0.5\" is the first ring where the reconstruction decorrelates; \"> k_max\" if none.",
	"Differences: maps of one simulation share its parameters and initial conditions, so the simulation is the independent unit. The 95% interval resamples whole simulations (expanded percentile bootstrap, which corrects the plain percentile interval's narrowness with few simulations); the t-test and the Wilcoxon signed-rank test are on the per-simulation mean differences. The t-test over maps is the study's, shown for comparison: it takes maps as independent and overstates the evidence. Effective n is n / (1 + (m − 1) ICC) for m maps per simulation and the intraclass correlation ICC of the differences.",
	"Latent probes: ridge regression (R²) of Ω_m and σ_8 and a logistic classifier of Ω_m's tertile on the standardised codes. Each is fitted on some simulations and scored on the others by grouped K-fold cross-validation, repeated with fresh folds; standardisation, tertile edges and the ridge α (an inner grouped cross-validation) come from each fold's training simulations only. The interval resamples simulations. R² below 0 predicts worse than the mean. Silhouette (−1 to 1) of k-means clusters of all maps' codes.",
}

type table struct {
	Title string
	Head  []string
	Rows  [][]string
}

func markdown(r *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	if r.TestMaps > 0 {
		fmt.Fprintf(&b, "Test maps: %d from %d simulations.\n\n", r.TestMaps, r.Simulations)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	for _, t := range tables(r) {
		fmt.Fprintf(&b, "## %s\n\n| %s |\n|%s\n", t.Title, strings.Join(t.Head, " | "), strings.Repeat("---|", len(t.Head)))
		for _, row := range t.Rows {
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
		b.WriteString("\n")
	}
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "## %s\n\n![%s](%s)\n\n%s\n\n", f.Title, f.Title, f.Path, f.Caption)
	}
	b.WriteString("## Definitions\n\n")
	for _, d := range definitions {
		fmt.Fprintf(&b, "- %s\n", d)
	}
	return b.String()
}

var htmlTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.R.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:0.9em}
</style></head><body>
<h1>{{.R.Title}}</h1>
{{if .R.TestMaps}}<p>Test maps: {{.R.TestMaps}} from {{.R.Simulations}} simulations.</p>{{end}}
{{if .R.Notes}}<ul>{{range .R.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Tables}}<h2>{{.Title}}</h2><table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
{{range .Figures}}<h2>{{.Title}}</h2><figure><img alt="{{.Title}}" src="{{.Data}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}
<h2>Definitions</h2><ul>{{range .Definitions}}<li>{{.}}</li>{{end}}</ul>
</body></html>
`))

func htmlReport(dir string, r *Results) ([]byte, error) {
	type fig struct {
		Title, Caption string
		Data           template.URL
	}
	var figs []fig
	for _, f := range r.Figures {
		p := f.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("eval: report: figure %q: %w", f.Title, err)
		}
		figs = append(figs, fig{f.Title, f.Caption, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))})
	}
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, map[string]any{"R": r, "Tables": tables(r), "Figures": figs, "Definitions": definitions}); err != nil {
		return nil, fmt.Errorf("eval: report: html: %w", err)
	}
	return buf.Bytes(), nil
}
