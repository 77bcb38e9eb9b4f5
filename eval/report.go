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
	"reflect"
	"strings"

	"github.com/camelsvae/camelsvae/formats"
)

// Stat is a mean and sample standard deviation over maps (non-finite values left out).
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	N    int     `json:"n"`
}

// NewStat summarises x.
func NewStat(x []float64) Stat {
	m, s, n := MeanStd(x)
	return Stat{Mean: m, Std: s, N: n}
}

// ChannelResult holds one channel's numbers for one method.
type ChannelResult struct {
	Name     string           `json:"name"`
	MSE      Stat             `json:"mse"`
	PSNR     Stat             `json:"psnr"`
	SSIM     Stat             `json:"ssim"`
	KS       *KSTest          `json:"ks,omitempty"`
	Spectrum *SpectrumSummary `json:"spectrum,omitempty"`
}

// SpectrumSummary condenses a Spectrum: the full curves plus two numbers a reader can
// compare, the mean |log10 ratio| over all bins and the first k where r(k) falls below 0.5.
type SpectrumSummary struct {
	Spectrum
	MeanAbsLog10Ratio float64 `json:"mean_abs_log10_ratio"`
	KrHalf            float64 `json:"k_r_half"` // 0 when r stays above 0.5
}

// Summarise returns the SpectrumSummary of sp.
func Summarise(sp Spectrum) SpectrumSummary {
	out := SpectrumSummary{Spectrum: sp}
	n := 0
	for i, r := range sp.Ratio {
		if r > 0 && !math.IsInf(r, 0) {
			out.MeanAbsLog10Ratio += math.Abs(math.Log10(r))
			n++
		}
		if out.KrHalf == 0 && sp.R[i] < 0.5 {
			out.KrHalf = sp.K[i]
		}
	}
	if n > 0 {
		out.MeanAbsLog10Ratio /= float64(n)
	}
	return out
}

// Compression accounts for what a method transmits: the input numbers, the latent numbers,
// what else the decoder receives (the VAE's skip tensors), their sum and its bytes (float32).
type Compression struct {
	Method        string  `json:"method"`
	InputNumbers  int64   `json:"input_numbers"`
	LatentNumbers int64   `json:"latent_numbers"`
	SkipNumbers   int64   `json:"skip_numbers"`
	Transmitted   int64   `json:"transmitted_numbers"`
	Bytes         int64   `json:"bytes"`
	Ratio         float64 `json:"ratio"` // input numbers / transmitted numbers
}

// NewCompression fills Transmitted, Bytes (4 per float32) and Ratio.
func NewCompression(method string, input, latent, skip int64) Compression {
	t := latent + skip
	return Compression{Method: method, InputNumbers: input, LatentNumbers: latent, SkipNumbers: skip,
		Transmitted: t, Bytes: 4 * t, Ratio: float64(input) / float64(t)}
}

// MethodResult holds every number of one method (VAE, VAE without skips, PCA, ...).
type MethodResult struct {
	Name       string          `json:"name"`
	MSE        Stat            `json:"mse"`
	PSNR       Stat            `json:"psnr"`
	PSNRTarget Stat            `json:"psnr_target"`
	SSIM       Stat            `json:"ssim"`
	Channels   []ChannelResult `json:"channels"`
	Latent     *LatentAnalysis `json:"latent,omitempty"`
}

// NewMethodResult summarises Metrics (and optional per-channel KS tests and spectra, which
// may be nil) under a method name.
func NewMethodResult(name string, m Metrics, channels []string, ks []KSTest, spectra []Spectrum) MethodResult {
	r := MethodResult{Name: name, MSE: NewStat(m.MSE), PSNR: NewStat(m.PSNR), PSNRTarget: NewStat(m.PSNRTarget), SSIM: NewStat(m.SSIM)}
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
		cr := ChannelResult{Name: name, MSE: NewStat(col(m.ChannelMSE, c)), PSNR: NewStat(col(m.ChannelPSNR, c)), SSIM: NewStat(col(m.ChannelSSIM, c))}
		if c < len(ks) {
			k := ks[c]
			cr.KS = &k
		}
		if c < len(spectra) {
			s := Summarise(spectra[c])
			cr.Spectrum = &s
		}
		r.Channels = append(r.Channels, cr)
	}
	return r
}

// Comparison is a paired t-test of one metric between two methods over the same maps.
type Comparison struct {
	Metric string `json:"metric"`
	A      string `json:"a"`
	B      string `json:"b"`
	TTest
}

// PCASummary records the baseline's fit.
type PCASummary struct {
	Components      int       `json:"components"`
	Solver          string    `json:"solver"`
	TrainMaps       int       `json:"train_maps"`
	CumulativeRatio float64   `json:"cumulative_ratio"`
	RatioCurve      []float64 `json:"cumulative_ratio_curve,omitempty"`
	FitSeconds      float64   `json:"fit_seconds"`
}

// Figure is a PNG (path relative to the report directory, or absolute) with a caption.
type Figure struct {
	Title   string `json:"title"`
	Path    string `json:"path"`
	Caption string `json:"caption"`
}

// Results is everything eval reports, JSON-serialisable (results.json).
type Results struct {
	Title       string         `json:"title"`
	Notes       []string       `json:"notes,omitempty"`
	TestMaps    int            `json:"test_maps"`
	Methods     []MethodResult `json:"methods"`
	Comparisons []Comparison   `json:"comparisons"`
	Compression []Compression  `json:"compression"`
	PCA         *PCASummary    `json:"pca,omitempty"`
	Figures     []Figure       `json:"figures"`
}

// marshalResults encodes r as indented JSON. JSON has no NaN or infinity, which the numbers
// can hold (PSNR of a perfect map, R^2 of a constant target), so those become null.
func marshalResults(r *Results) ([]byte, error) {
	return json.MarshalIndent(jsonValue(reflect.ValueOf(r)), "", "  ")
}

// jsonValue turns v into maps, slices and scalars following encoding/json's rules for the
// tags used here (names, omitempty, "-", embedded structs flattened), with non-finite floats
// as nil.
func jsonValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				if m, ok := jsonValue(v.Field(i)).(map[string]any); ok {
					for k, x := range m {
						out[k] = x
					}
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			if strings.Contains(opts, "omitempty") && v.Field(i).IsZero() {
				continue
			}
			out[name] = jsonValue(v.Field(i))
		}
		return out
	default:
		return v.Interface()
	}
}

// WriteReport writes results.json, report.md and a self-contained report.html (figures
// embedded as base64 data URIs) into dir, each atomically.
func WriteReport(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	js, err := marshalResults(r)
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

func f4(x float64) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case math.IsInf(x, 0):
		return fmt.Sprint(x)
	case x != 0 && (math.Abs(x) < 1e-3 || math.Abs(x) >= 1e5):
		return fmt.Sprintf("%.3e", x)
	}
	return fmt.Sprintf("%.4f", x)
}

func pm(s Stat) string { return f4(s.Mean) + " ± " + f4(s.Std) }

// tables returns the report's tables as header + rows, shared by Markdown and HTML.
func tables(r *Results) []table {
	var ts []table
	t := table{Title: "Reconstruction on the test maps (mean ± std over maps)",
		Head: []string{"method", "MSE", "PSNR (dB, range 1)", "PSNR (dB, target range)", "SSIM"}}
	for _, m := range r.Methods {
		t.Rows = append(t.Rows, []string{m.Name, pm(m.MSE), pm(m.PSNR), pm(m.PSNRTarget), pm(m.SSIM)})
	}
	ts = append(ts, t)
	t = table{Title: "Per channel", Head: []string{"method", "channel", "MSE", "PSNR", "SSIM", "KS D (p)", "mean abs log10(P_rec/P_true)", "k where r < 0.5"}}
	for _, m := range r.Methods {
		for _, c := range m.Channels {
			ks, sp, kr := "", "", ""
			if c.KS != nil {
				ks = fmt.Sprintf("%s (%s)", f4(c.KS.D), f4(c.KS.P))
			}
			if c.Spectrum != nil {
				sp = f4(c.Spectrum.MeanAbsLog10Ratio)
				kr = "none"
				if c.Spectrum.KrHalf > 0 {
					kr = f4(c.Spectrum.KrHalf)
				}
			}
			t.Rows = append(t.Rows, []string{m.Name, c.Name, pm(c.MSE), pm(c.PSNR), pm(c.SSIM), ks, sp, kr})
		}
	}
	ts = append(ts, t)
	if len(r.Comparisons) > 0 {
		t = table{Title: "Paired t-tests (two-sided)", Head: []string{"metric", "A", "B", "mean A-B", "t", "dof", "p"}}
		for _, c := range r.Comparisons {
			t.Rows = append(t.Rows, []string{c.Metric, c.A, c.B, f4(c.MeanDiff), f4(c.Statistic), fmt.Sprint(c.DoF), f4(c.P)})
		}
		ts = append(ts, t)
	}
	if len(r.Compression) > 0 {
		t = table{Title: "What the decoder receives", Head: []string{"method", "input numbers", "latent", "skips", "transmitted", "bytes", "input / transmitted"}}
		for _, c := range r.Compression {
			t.Rows = append(t.Rows, []string{c.Method, fmt.Sprint(c.InputNumbers), fmt.Sprint(c.LatentNumbers), fmt.Sprint(c.SkipNumbers),
				fmt.Sprint(c.Transmitted), fmt.Sprint(c.Bytes), fmt.Sprintf("%.3g", c.Ratio)})
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
		t = table{Title: "Latent analysis (held-out simulations)", Head: []string{"method", "dim", "train/test maps", "silhouette (k-means)", "Ω_m tertile accuracy", "R² Ω_m (ridge α)", "R² σ_8 (ridge α)"}}
		for _, m := range lat {
			l := m.Latent
			t.Rows = append(t.Rows, []string{m.Name, fmt.Sprint(l.Dim), fmt.Sprintf("%d/%d", l.NTrain, l.NTest), f4(l.Silhouette), f4(l.TertileAccuracy),
				fmt.Sprintf("%s (%g)", f4(l.R2OmegaM), l.RidgeAlphaOmegaM), fmt.Sprintf("%s (%g)", f4(l.R2Sigma8), l.RidgeAlphaSigma8)})
		}
		ts = append(ts, t)
	}
	if r.PCA != nil {
		ts = append(ts, table{Title: "PCA baseline", Head: []string{"components", "solver", "training maps", "cumulative explained variance", "fit (s)"},
			Rows: [][]string{{fmt.Sprint(r.PCA.Components), r.PCA.Solver, fmt.Sprint(r.PCA.TrainMaps), f4(r.PCA.CumulativeRatio), fmt.Sprintf("%.2f", r.PCA.FitSeconds)}}})
	}
	return ts
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
		fmt.Fprintf(&b, "Test maps: %d.\n\n", r.TestMaps)
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
{{if .R.TestMaps}}<p>Test maps: {{.R.TestMaps}}.</p>{{end}}
{{if .R.Notes}}<ul>{{range .R.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Tables}}<h2>{{.Title}}</h2><table><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
{{range .Figures}}<h2>{{.Title}}</h2><figure><img alt="{{.Title}}" src="{{.Data}}"><figcaption>{{.Caption}}</figcaption></figure>
{{end}}
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
	if err := htmlTmpl.Execute(&buf, map[string]any{"R": r, "Tables": tables(r), "Figures": figs}); err != nil {
		return nil, fmt.Errorf("eval: report: html: %w", err)
	}
	return buf.Bytes(), nil
}
