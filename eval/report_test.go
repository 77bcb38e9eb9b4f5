package eval

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
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
			return BarChart(p, "SSIM", "SSIM", []string{"VAE", "PCA"}, []float64{0.9, 0.2}, []float64{0.05, 0.1})
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
	res.Methods[0].Latent = &LatentAnalysis{Dim: 3, NTrain: 4, NTest: 1, Silhouette: 0.5, R2OmegaM: math.NaN()}
	res.Comparisons = []Comparison{{Metric: "SSIM", A: "VAE", B: "PCA", TTest: PairedTTest(m.SSIM, m.MSE)}}
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
	for _, want := range []string{"| VAE |", "What the decoder receives", "| PCA | 196608 | 256 | 0 | 256 | 1024 | 768 |", "![grid.png](grid.png)"} {
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
	if meth["latent"].(map[string]any)["r2_omega_m"] != nil {
		t.Error("NaN R^2 not written as null")
	}
	if got := meth["ssim"].(map[string]any)["mean"].(float64); math.Abs(got-res.Methods[0].SSIM.Mean) > 1e-15 {
		t.Errorf("ssim mean %v in JSON, %v in Results", got, res.Methods[0].SSIM.Mean)
	}
	if _, ok := meth["channels"].([]any)[0].(map[string]any)["spectrum"].(map[string]any)["k_r_half"]; !ok {
		t.Error("embedded spectrum summary fields missing")
	}
}
