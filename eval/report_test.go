package eval

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestFiguresAndReport draws every figure kind from the golden maps and writes the report;
// it checks the files decode, the HTML embeds every figure, and JSON holds null where a
// number is not finite (the perfect map's PSNR).
func TestFiguresAndReport(t *testing.T) {
	g := loadGolden(t)
	truth, rec, s := goldenMaps(g)
	dir := t.TempDir()
	if d := os.Getenv("EVAL_REPORT_DIR"); d != "" { // keep the output to look at it
		dir = d
	}
	channels := []string{"Mgas", "Vgas", "B"}
	m := must(Evaluate(truth, rec, s, 0))
	sp := must(PowerSpectra(truth, rec, s, 0))
	ks := must(PixelKS(truth, rec, s, 1))
	var rk []Series
	for c, x := range sp {
		rk = append(rk, Series{Name: channels[c], X: x.K, Y: x.R})
	}
	z := [][]float64{{1, 2, 0}, {2, 1, 1}, {0, 0, 3}, {4, 1, 1}, {3, 3, 3}}
	x, y := Leading2(z)
	figs := []struct {
		file string
		draw func(p string) error
	}{
		{"loss.png", func(p string) error {
			return LinePlot(p, "loss", "epoch", "loss", []Series{{"train", []float64{1, 2, 3}, []float64{1, 0.5, 0.3}}, {"val", []float64{1, 2, 3}, []float64{1.1, 0.6, 0.4}}}, false, true)
		}},
		{"grid.png", func(p string) error {
			return ReconstructionGrid(p, truth[:2], []Panel{{"VAE", rec[:2]}, {"PCA", truth[:2]}}, s, channels, 2)
		}},
		{"bars.png", func(p string) error {
			return BarChart(p, "SSIM", "SSIM", []string{"VAE", "PCA"}, []float64{0.9, 0.2}, []ErrorBar{{0.05, 0.05}, {0.1, 0.02}})
		}},
		{"rk.png", func(p string) error { return LinePlot(p, "r(k)", "k", "r", rk, true, false) }},
		{"scatter.png", func(p string) error {
			return Scatter(p, "latents", "PC1", "PC2", x, y, []float64{0.1, 0.2, 0.3, 0.4, 0.5}, false)
		}},
		{"clusters.png", func(p string) error {
			return Scatter(p, "clusters", "PC1", "PC2", x, y, []float64{0, 1, 1, 2, 0}, true)
		}},
	}
	res := &Results{Title: "test report", TestMaps: len(truth), Notes: []string{"golden fixture"}}
	for _, f := range figs {
		if err := f.draw(filepath.Join(dir, f.file)); err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		fh, err := os.Open(filepath.Join(dir, f.file))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Fatalf("%s: not a usable PNG: %v", f.file, err)
		}
		res.Figures = append(res.Figures, Figure{Title: f.file, Path: f.file, Caption: "caption of " + f.file})
	}
	res.Methods = []MethodResult{NewMethodResult("VAE", m, channels, ks, sp)}
	res.Methods[0].Latent = &LatentAnalysis{Dim: 3, N: 5, Simulations: 2, Silhouette: 0.5, R2OmegaM: Probe{Mean: Num(math.NaN())}}
	sims := make([]int, len(m.SSIM))
	for i := range sims {
		sims[i] = i / 2
	}
	res.Comparisons = []Comparison{Compare("SSIM", "VAE", "PCA", m.SSIM, m.MSE, sims, CompareOptions{Resamples: 100, Level: 0.95, Seed: 1})}
	res.Compression = []Compression{NewCompression("VAE (skips)", 196608, 256, 983040), NewCompression("PCA", 196608, 256, 0)}
	res.PCA = &PCASummary{Components: 256, Solver: "randomized", TrainMaps: 1944, CumulativeRatio: 0.648}
	if err := WriteReport(dir, res); err != nil {
		t.Fatal(err)
	}
	h, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if n := strings.Count(string(h), "data:image/png;base64,"); n != len(figs) {
		t.Errorf("report.html embeds %d images, want %d", n, len(figs))
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| VAE |", "What the decoder receives", "| PCA | 196608 | 256 | 0 | 256 | 1024 | 768 |", "![grid.png](grid.png)",
		"t-test over simulation means", "## Definitions"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	var js map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "results.json"))
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	meth := js["methods"].([]any)[0].(map[string]any)
	if got := meth["latent"].(map[string]any)["r2_omega_m"].(map[string]any)["mean"]; got != "NaN" {
		t.Errorf("NaN R^2 written as %v, want \"NaN\"", got)
	}
	if got := meth["ssim"].(map[string]any)["mean"].(float64); got != float64(res.Methods[0].SSIM.Mean) {
		t.Errorf("ssim mean %v in JSON, %v in Results", got, res.Methods[0].SSIM.Mean)
	}
	if _, ok := meth["channels"].([]any)[0].(map[string]any)["spectrum"].(map[string]any)["k_r_half"]; !ok {
		t.Error("spectrum summary fields missing")
	}
}

// TestResultsRoundTrip: NaN and infinities survive results.json (JSON numbers cannot hold
// them), and reading the file back gives the same Results.
func TestResultsRoundTrip(t *testing.T) {
	nan, inf := Num(math.NaN()), Num(math.Inf(1))
	in := &Results{Title: "round trip", TestMaps: 3, Simulations: 1,
		Methods: []MethodResult{{Name: "m", PSNR: Stat{Mean: inf, Std: nan, N: 0, Excluded: 3}, PSNROfMeanMSE: Num(math.Inf(-1)), MSE: Stat{Mean: 0.25, Std: 1e-300, N: 3}}}}
	dir := t.TempDir()
	if err := WriteReport(dir, in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out Results
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	m := out.Methods[0]
	if !math.IsInf(float64(m.PSNR.Mean), 1) || !math.IsNaN(float64(m.PSNR.Std)) || !math.IsInf(float64(m.PSNROfMeanMSE), -1) ||
		m.MSE.Mean != 0.25 || m.MSE.Std != 1e-300 || m.PSNR.Excluded != 3 {
		t.Errorf("read back %+v", m)
	}
	again, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(append(again, '\n')) != string(b) {
		t.Errorf("second write differs:\n%s\nfirst:\n%s", again, b)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(md), "+Inf ± n/a (n = 0; 3 non-finite left out)") {
		t.Errorf("report.md does not show the infinite PSNR and its count:\n%s", md)
	}
	var n Num
	if err := json.Unmarshal([]byte(`"inf"`), &n); err == nil {
		t.Error(`"inf" read as a number`)
	}
	if err := json.Unmarshal([]byte(`null`), &n); err != nil || !math.IsNaN(float64(n)) {
		t.Errorf("null read as %v, %v; want NaN", n, err)
	}
}

// TestResultsHaveNoBareFloats: every number in Results is a Num (or an integer), so no
// float64 can lose its NaN or infinity on the way to results.json.
func TestResultsHaveNoBareFloats(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		switch ty.Kind() {
		case reflect.Float32, reflect.Float64:
			if ty != reflect.TypeFor[Num]() {
				t.Errorf("%s is a %s, want eval.Num", path, ty)
			}
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path+"[]", ty.Elem())
		case reflect.Struct:
			for f := range ty.Fields() {
				if f.IsExported() && f.Tag.Get("json") != "-" {
					walk(path+"."+f.Name, f.Type)
				}
			}
		}
	}
	walk("Results", reflect.TypeFor[Results]())
}

// TestConstantReconstruction: a constant map reproduces no structure. Its spectrum summary
// says so (mean |log10 ratio| +Inf, r below 0.5 from the first bin) instead of reading as
// perfect (0 and "none" before).
func TestConstantReconstruction(t *testing.T) {
	g := loadGolden(t)
	truth, _, s := goldenMaps(g)
	flat := make([][]float32, len(truth))
	for i := range flat {
		flat[i] = make([]float32, s.Len())
		for j := range flat[i] {
			flat[i][j] = 0.5
		}
	}
	sp := must(PowerSpectra(truth, flat, s, 0))
	m := must(Evaluate(truth, flat, s, 0))
	r := NewMethodResult("constant", m, nil, nil, sp)
	for _, c := range r.Channels {
		if !math.IsInf(float64(c.Spectrum.MeanAbsLog10Ratio), 1) || c.Spectrum.KrHalf != 1 {
			t.Errorf("channel %s: mean |log10 ratio| %v, k where r < 0.5 %v; want +Inf and 1", c.Name, c.Spectrum.MeanAbsLog10Ratio, c.Spectrum.KrHalf)
		}
	}
	// The truth against itself is perfect: ratio 0 everywhere, r never below 0.5.
	self := Summarise(must(PowerSpectra(truth, truth, s, 0))[0])
	if self.MeanAbsLog10Ratio != 0 || !math.IsInf(float64(self.KrHalf), 1) {
		t.Errorf("self comparison: %v, %v; want 0 and +Inf", self.MeanAbsLog10Ratio, self.KrHalf)
	}
	row := tables(&Results{Methods: []MethodResult{r}})[1].Rows[0]
	if row[7] != "+Inf" || row[8] != "1" {
		t.Errorf("report row %q: want +Inf and k = 1", row)
	}
}

func TestWrapLabel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PCA-256", "PCA-256"},
		{"VAE, another map's skips", "VAE, another\nmap's skips"},
		{"PCA-323 (equal numbers)", "PCA-323 (equal\nnumbers)"},
		{"VAE (skips)\nΩ_m", "VAE (skips)\nΩ_m"},
		{"averyveryverylongword x", "averyveryverylongword\nx"},
	} {
		if got := wrapLabel(tc.in, 14); got != tc.want {
			t.Errorf("wrapLabel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
