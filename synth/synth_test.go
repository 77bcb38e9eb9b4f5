package synth

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
)

func TestTables(t *testing.T) {
	for set, want := range map[string]int{"CV": 27, "LH": 1000} {
		rows, err := Table(set)
		if err != nil || len(rows) != want {
			t.Errorf("%s: %d rows %v, want %d", set, len(rows), err, want)
		}
	}
	lh, _ := Table("LH")
	if lh[0] != (formats.Params{0.309, 0.979, 3.11234, 1.12194, 0.6685, 0.53182}) {
		t.Errorf("LH row 0 = %v", lh[0])
	}
	if _, err := Table("EX"); err == nil {
		t.Error("EX table accepted")
	}
}

func TestFFTRoundTrip(t *testing.T) {
	f := newFFT2(8)
	a := make([]complex128, 64)
	for i := range a {
		a[i] = complex(float64(i%7), float64(i%3))
	}
	orig := append([]complex128(nil), a...)
	f.forward(a)
	// DC term is the sum; compare with a direct DFT at (1, 2).
	var dft complex128
	for i := 0; i < 8; i++ {
		for j := 0; j < 8; j++ {
			ang := -2 * math.Pi * float64(1*i+2*j) / 8
			dft += orig[i*8+j] * complex(math.Cos(ang), math.Sin(ang))
		}
	}
	if d := a[1*8+2] - dft; math.Hypot(real(d), imag(d)) > 1e-9 {
		t.Errorf("FFT (1,2) = %v, direct DFT %v", a[10], dft)
	}
	f.inverse(a)
	for i := range a {
		if d := a[i] - orig[i]; math.Hypot(real(d), imag(d)) > 1e-12 {
			t.Fatalf("round trip %d: %v != %v", i, a[i], orig[i])
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	run := func(workers int) string {
		dir := t.TempDir()
		var last [2]int
		err := Generate(context.Background(), Options{Dir: dir, Sets: []string{"CV", "LH"}, CVSims: 1, LHSims: 2, Size: 32, Seed: 7, Workers: workers},
			func(done, total int) { last = [2]int{done, total} })
		if err != nil {
			t.Fatal(err)
		}
		if last != [2]int{45, 45} {
			t.Errorf("progress ended at %v, want [45 45]", last)
		}
		return dir
	}
	d1, d3 := run(1), run(3)
	for _, set := range []string{"CV", "LH"} {
		for _, f := range configs.Names(configs.StudyFields()) {
			a, _ := os.ReadFile(formats.MapPath(d1, f, Suite, set))
			b, _ := os.ReadFile(formats.MapPath(d3, f, Suite, set))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s %s differs between 1 and 3 workers", set, f)
			}
		}
		p, err := formats.ReadParams(formats.ParamsPath(d1, set, Suite))
		ms, err2 := formats.OpenSet(d1, Suite, set, configs.Names(configs.StudyFields()))
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		if err := formats.CheckMapsParams(ms.Len(), len(p), set, set); err != nil {
			t.Error(err)
		}
		ms.Close()
	}
	// Another seed gives other maps.
	d := t.TempDir()
	Generate(context.Background(), Options{Dir: d, Sets: []string{"CV"}, CVSims: 1, Size: 32, Seed: 8, Workers: 2}, nil)
	a, _ := os.ReadFile(formats.MapPath(d1, "Mgas", Suite, "CV"))
	b, _ := os.ReadFile(formats.MapPath(d, "Mgas", Suite, "CV"))
	if bytes.Equal(a, b) {
		t.Error("seeds 7 and 8 give the same maps")
	}
	// Cancelled: an error and no cube left behind.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d = t.TempDir()
	if err := Generate(ctx, Options{Dir: d, Sets: []string{"LH"}, LHSims: 3, Size: 32, Workers: 2}, nil); err == nil {
		t.Error("cancelled Generate returned nil")
	}
	if ents, _ := filepath.Glob(filepath.Join(d, "*.npy")); len(ents) != 0 {
		t.Errorf("cancelled Generate left %v", ents)
	}
	if m, err := ReadManifest(d); err != nil || m == nil || m.Complete {
		t.Errorf("cancelled Generate: manifest %+v (%v), want an incomplete one", m, err)
	}
}

// TestGenerateNeverOverwrites: synth refuses to write over a file it did not create (with
// --force too), replaces its own maps of other settings only with Force, removes its own
// stale temporaries, and leaves a complete manifest listing what it wrote.
func TestGenerateNeverOverwrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opt := Options{Dir: dir, Sets: []string{"CV", "LH"}, CVSims: 1, LHSims: 1, Size: 32, Seed: 7, Workers: 2}
	real := formats.MapPath(dir, "Mgas", Suite, "CV")
	if err := os.WriteFile(real, []byte("the user's maps, marker 12345.0"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		o := opt
		o.Force = force
		err := Generate(ctx, o, nil)
		if err == nil || !strings.Contains(err.Error(), real) || !strings.Contains(err.Error(), "did not create") {
			t.Fatalf("force %v: Generate over a user's file: %v", force, err)
		}
	}
	if b, _ := os.ReadFile(real); string(b) != "the user's maps, marker 12345.0" {
		t.Fatalf("the user's file was changed: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a refused Generate left files behind: %d entries", len(ents))
	}

	dir = t.TempDir()
	opt.Dir = dir
	stale := filepath.Join(dir, ".Maps_B_IllustrisTNG_LH_z=0.00.npy.tmp-4242")
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Generate(ctx, opt, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary %s not removed", stale)
	}
	m, err := ReadManifest(dir)
	if err != nil || m == nil || !m.Complete || len(m.Files) != 8 || !m.Same(opt) || m.Seed != 7 {
		t.Fatalf("manifest after Generate: %+v %v", m, err)
	}
	if err := Generate(ctx, opt, nil); err != nil {
		t.Errorf("regenerating with the same settings: %v", err)
	}
	other := opt
	other.Seed = 8
	var se *SettingsError
	if err := Generate(ctx, other, nil); !errors.As(err, &se) || !strings.Contains(err.Error(), "seed 7") {
		t.Errorf("other settings without Force: %v", err)
	}
	before, _ := os.ReadFile(formats.MapPath(dir, "B", Suite, "LH"))
	other.Force, other.Sets = true, []string{"CV"}
	if err := Generate(ctx, other, nil); err != nil {
		t.Fatalf("other settings with Force: %v", err)
	}
	if _, err := os.Stat(formats.MapPath(dir, "B", Suite, "LH")); !os.IsNotExist(err) || len(before) == 0 {
		t.Errorf("Force kept the old generation's LH maps (%v)", err)
	}
	if m, _ := ReadManifest(dir); m == nil || m.Seed != 8 || len(m.Files) != 4 || !m.Complete {
		t.Errorf("manifest after Force: %+v", m)
	}
}

// bandPower is the mean power of the Mgas overdensity for k in [kmin, kmax) h/Mpc; the
// test uses large scales (0.2-1.5 h/Mpc), where feedback smoothing matters least.
func bandPower(m []float32, n int, kmin, kmax float64) float64 {
	var mean float64
	for _, v := range m {
		mean += float64(v)
	}
	mean /= float64(len(m))
	a := make([]complex128, len(m))
	for i, v := range m {
		a[i] = complex(float64(v)/mean-1, 0)
	}
	newFFT2(n).forward(a)
	kf := 2 * math.Pi / boxSize
	var s float64
	var c int
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			k := kf * math.Hypot(float64(waveNumber(i, n)), float64(waveNumber(j, n)))
			if k >= kmin && k < kmax {
				s += real(a[i*n+j])*real(a[i*n+j]) + imag(a[i*n+j])*imag(a[i*n+j])
				c++
			}
		}
	}
	return s / float64(c)
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// TestStatistics checks generated maps against CMD facts (docs/study.md, synth's package doc): per-field log10 means
// and spreads, power rising with sigma_8 across LH, and a right-skewed log density.
func TestStatistics(t *testing.T) {
	const n = 128
	lh, _ := Table("LH")
	var s8, amp []float64
	var mgMean, bMean, vMin, vMax float64
	vMin = math.Inf(1)
	const sims = 40
	for sim := 0; sim < sims; sim++ {
		m := GenerateMap(lh[sim], n, uint64(sim))
		s8 = append(s8, lh[sim][1])
		amp = append(amp, math.Log(bandPower(m.Mgas, n, 0.2, 1.5)))
		var lm, lb, sk2, sk3 float64
		for i := range m.Mgas {
			lm += math.Log10(float64(m.Mgas[i]))
			lb += math.Log10(float64(m.B[i]))
			vMin, vMax = math.Min(vMin, float64(m.Vgas[i])), math.Max(vMax, float64(m.Vgas[i]))
		}
		lm /= float64(n * n)
		lb /= float64(n * n)
		for i := range m.Mgas {
			d := math.Log10(float64(m.Mgas[i])) - lm
			sk2 += d * d
			sk3 += d * d * d
		}
		skew := sk3 / float64(n*n) / math.Pow(sk2/float64(n*n), 1.5)
		if skew <= 0 {
			t.Errorf("sim %d: log10 Mgas skewness %.3f, want > 0 (knots and filaments over voids)", sim, skew)
		}
		// Per-map means inside CMD's log10 ranges (Mgas 8.8-14.5, B -15.3 to -3.8).
		if lm < 9.5 || lm > 11.5 || lb < -14.5 || lb > -10.5 {
			t.Errorf("sim %d %v: mean log10 Mgas %.2f, B %.2f outside [9.5, 11.5], [-14.5, -10.5]", sim, lh[sim], lm, lb)
		}
		mgMean += lm / sims
		bMean += lb / sims
	}
	// Set means near CMD's (Mgas ~10.4, B ~-12.5), within half a decade and one decade.
	if math.Abs(mgMean-10.4) > 0.5 || math.Abs(bMean+12.5) > 1 {
		t.Errorf("mean log10 Mgas %.2f (CMD ~10.4), B %.2f (CMD ~-12.5)", mgMean, bMean)
	}
	if vMin < 5 || vMax > 3000 {
		t.Errorf("Vgas range [%.1f, %.1f] km/s, want positive tens to ~1000", vMin, vMax)
	}
	r := pearson(s8, amp)
	t.Logf("corr(sigma_8, log Mgas band power) over %d LH sims = %.2f; means Mgas %.2f B %.2f; Vgas [%.0f, %.0f]", sims, r, mgMean, bMean, vMin, vMax)
	if r < 0.3 {
		t.Errorf("corr(sigma_8, log Mgas power) = %.2f, want > 0.3", r)
	}
}

func TestFigure(t *testing.T) {
	var buf bytes.Buffer
	rows := []formats.Params{{0.3, 0.8, 1, 1, 1, 1}, {0.5, 1.0, 4, 4, 2, 2}}
	if err := WriteFigure(&buf, rows, 64, 1); err != nil || buf.Len() < 1000 {
		t.Fatalf("figure: %d bytes, %v", buf.Len(), err)
	}
	if os.Getenv("SYNTH_FIGURE") != "" { // regenerate docs/synth.png: SYNTH_FIGURE=1 go test -run TestFigure ./synth/
		f, err := os.Create(filepath.Join("..", "docs", "synth.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := WriteFigure(f, rows, 256, 1); err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkSynth(b *testing.B) {
	for _, n := range []int{64, 256} {
		b.Run(map[int]string{64: "64", 256: "256"}[n], func(b *testing.B) {
			dir := b.TempDir()
			maps := 0
			for b.Loop() {
				if err := Generate(context.Background(), Options{Dir: dir, Sets: []string{"LH"}, LHSims: 4, Size: n, Seed: 1, Workers: 2}, nil); err != nil {
					b.Fatal(err)
				}
				maps += 4 * formats.MapsPerSim
			}
			b.ReportMetric(float64(maps)/b.Elapsed().Seconds(), "maps/s")
		})
	}
}
