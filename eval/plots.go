package eval

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	imgdraw "image/draw"
	"image/png"
	"io"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/camelsvae/camelsvae/formats"
)

// Figures are PNG files written atomically. Each function takes plain slices so the trainer
// and the commands can call them on whatever they hold.

// Series is one named curve.
type Series struct {
	Name string
	X, Y []float64
}

func savePlot(p *plot.Plot, path string, w, h vg.Length) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return fmt.Errorf("eval: plot %s: %w", path, err)
	}
	if err := formats.WriteFileAtomic(path, func(w io.Writer) error { _, err := wt.WriteTo(w); return err }); err != nil {
		return fmt.Errorf("eval: plot: %w", err)
	}
	return nil
}

// LinePlot draws series as lines (loss curves against epoch, the explained-variance curve,
// P(k) ratios and r(k)); logX/logY switch the axes to log scale (non-positive points are
// skipped there).
func LinePlot(path, title, xLabel, yLabel string, series []Series, logX, logY bool) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	if logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			panic(fmt.Sprintf("eval: series %q has %d x and %d y", s.Name, len(s.X), len(s.Y)))
		}
		var pts plotter.XYs
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) || (logX && x <= 0) || (logY && y <= 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: y})
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("eval: plot %s: %w", path, err)
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i / 7)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	p.Legend.Top = true
	return savePlot(p, path, 7*vg.Inch, 4.5*vg.Inch)
}

// BarChart draws one bar per method with error bars (nil for none): a standard deviation, or
// an interval's distances below and above the value.
func BarChart(path, title, yLabel string, names []string, values []float64, errs []ErrorBar) error {
	if len(names) != len(values) || (errs != nil && len(errs) != len(values)) {
		panic("eval: BarChart: one name, value (and error) per bar")
	}
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, yLabel
	p.Add(plotter.NewGrid())
	bars, err := plotter.NewBarChart(plotter.Values(values), vg.Points(40))
	if err != nil {
		return fmt.Errorf("eval: plot %s: %w", path, err)
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	if errs != nil {
		var pts errPoints
		for i := range values {
			pts.XYs = append(pts.XYs, plotter.XY{X: float64(i), Y: values[i]})
			pts.YErrors = append(pts.YErrors, struct{ Low, High float64 }{errs[i].Low, errs[i].High})
		}
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return fmt.Errorf("eval: plot %s: %w", path, err)
		}
		p.Add(eb)
	}
	labels := make([]string, len(names))
	for i, n := range names {
		labels[i] = wrapLabel(n, 14)
	}
	p.NominalX(labels...)
	// An inch per bar beyond five, so that the names fit.
	return savePlot(p, path, vg.Length(max(5, len(names)))*vg.Inch, 4*vg.Inch)
}

// wrapLabel breaks each line of s at spaces into lines of at most width characters (a
// longer word keeps its own line), so that bar names do not run into each other.
func wrapLabel(s string, width int) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		cur := ""
		for _, w := range strings.Fields(line) {
			if cur != "" && len(cur)+1+len(w) > width {
				out = append(out, cur)
				cur = w
				continue
			}
			if cur != "" {
				cur += " "
			}
			cur += w
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// ErrorBar is how far a bar's error bar reaches below and above its value.
type ErrorBar struct{ Low, High float64 }

type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// Scatter draws points coloured by value: a continuous colour map (Omega_m), or, when
// categorical, one colour per integer value (clusters).
func Scatter(path, title, xLabel, yLabel string, x, y, value []float64, categorical bool) error {
	if len(x) != len(y) || len(x) != len(value) {
		panic("eval: Scatter: x, y and value lengths differ")
	}
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range value {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	cm := moreland.SmoothBlueRed()
	cm.SetMin(lo)
	cm.SetMax(math.Max(hi, lo+1e-12))
	pts := make(plotter.XYs, len(x))
	for i := range x {
		pts[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return fmt.Errorf("eval: plot %s: %w", path, err)
	}
	sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
		var c color.Color
		if categorical {
			c = plotutil.Color(int(value[i]))
		} else if c, err = cm.At(value[i]); err != nil {
			c = color.Black
		}
		return draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
	}
	p.Add(sc)
	if !categorical {
		p.Title.Text += fmt.Sprintf(" (blue %.3g to red %.3g)", lo, hi)
	}
	return savePlot(p, path, 6*vg.Inch, 5*vg.Inch)
}

// Leading2 projects the rows of z on their two leading principal axes (for the latent
// scatter of VAE mu).
func Leading2(z [][]float64) (x, y []float64) {
	n, d := dims(z)
	m := mat.NewDense(n, d, nil)
	for i, r := range z {
		m.SetRow(i, r)
	}
	var pc stat.PC
	if !pc.PrincipalComponents(m, nil) {
		panic("eval: Leading2: principal components failed")
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	var proj mat.Dense
	proj.Mul(m, vecs.Slice(0, d, 0, min(2, d)))
	x = mat.Col(nil, 0, &proj)
	if d > 1 {
		y = mat.Col(nil, 1, &proj)
	} else {
		y = make([]float64, n)
	}
	return x, y
}

// Panel is a named set of maps for ReconstructionGrid (e.g. "VAE" and its reconstructions).
type Panel struct {
	Name string
	Maps [][]float32
}

// ReconstructionGrid writes a PNG with one row per (map, channel) and the columns original,
// each method's reconstruction, then each method's absolute error. Original and
// reconstructions of a channel share one colour scale (min to max over all shown maps);
// errors share another (0 to the largest error of that channel). Maps are drawn at
// 1/downsample resolution (block means). It is long because it lays out one figure: a row per
// map and channel, a column per method and error.
func ReconstructionGrid(path string, truth [][]float32, methods []Panel, s Shape, channels []string, downsample int) error {
	if downsample < 1 {
		downsample = 1
	}
	if len(channels) != s.C {
		panic(fmt.Sprintf("eval: %d channel names for %d channels", len(channels), s.C))
	}
	for _, m := range methods {
		if err := s.checkBatch(truth, m.Maps, 1); err != nil {
			return fmt.Errorf("%w (method %s)", err, m.Name)
		}
	}
	hw := s.H * s.W
	ch, cw := s.H/downsample, s.W/downsample
	names := []string{"original"}
	for _, m := range methods {
		names = append(names, m.Name)
	}
	for _, m := range methods {
		names = append(names, "|"+m.Name+" err|")
	}
	// Small maps are drawn zoomed (pixel blocks) so that the column titles fit.
	widest := 0
	for _, n := range names {
		widest = max(widest, 7*len(n)+6)
	}
	zoom := 1
	for cw*zoom < widest && zoom < 4 {
		zoom++
	}
	const gap, head, left = 4, 18, 70
	cols := 1 + 2*len(methods)
	rows := len(truth) * s.C
	zh, zw := ch*zoom, cw*zoom
	img := image.NewRGBA(image.Rect(0, 0, left+cols*(zw+gap), head+rows*(zh+gap)))
	imgdraw.Draw(img, img.Bounds(), image.White, image.Point{}, imgdraw.Src)
	label := func(x, y int, text string) {
		d := font.Drawer{Dst: img, Src: image.Black, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
		d.DrawString(text)
	}
	for c, n := range names {
		label(left+c*(zw+gap), 13, n)
	}
	// Scales per channel.
	lo, hi, emax := make([]float64, s.C), make([]float64, s.C), make([]float64, s.C)
	for c := range s.C {
		lo[c], hi[c] = math.Inf(1), math.Inf(-1)
		for i, t := range truth {
			for p, v := range t[c*hw : (c+1)*hw] {
				lo[c], hi[c] = math.Min(lo[c], float64(v)), math.Max(hi[c], float64(v))
				for _, m := range methods {
					r := float64(m.Maps[i][c*hw+p])
					lo[c], hi[c] = math.Min(lo[c], r), math.Max(hi[c], r)
					emax[c] = math.Max(emax[c], math.Abs(r-float64(v)))
				}
			}
		}
	}
	cm := moreland.SmoothBlueRed()
	colour := func(v, a, b float64) color.Color {
		if b <= a {
			b = a + 1e-12
		}
		cm.SetMin(a)
		cm.SetMax(b)
		col, err := cm.At(math.Max(a, math.Min(b, v)))
		if err != nil {
			return color.Black
		}
		return col
	}
	cell := func(row, col int, val func(p int) float64, a, b float64) {
		x0, y0 := left+col*(zw+gap), head+row*(zh+gap)
		for i := range ch {
			for j := range cw {
				var sum float64
				for di := range downsample {
					for dj := range downsample {
						sum += val((i*downsample+di)*s.W + j*downsample + dj)
					}
				}
				c := colour(sum/float64(downsample*downsample), a, b)
				for zi := range zoom {
					for zj := range zoom {
						img.Set(x0+j*zoom+zj, y0+i*zoom+zi, c)
					}
				}
			}
		}
	}
	for i, t := range truth {
		for c := range s.C {
			row := i*s.C + c
			label(2, head+row*(zh+gap)+zh/2, fmt.Sprintf("%d %s", i, channels[c]))
			tc := t[c*hw : (c+1)*hw]
			cell(row, 0, func(p int) float64 { return float64(tc[p]) }, lo[c], hi[c])
			for k, m := range methods {
				rc := m.Maps[i][c*hw : (c+1)*hw]
				cell(row, 1+k, func(p int) float64 { return float64(rc[p]) }, lo[c], hi[c])
				cell(row, 1+len(methods)+k, func(p int) float64 { return math.Abs(float64(rc[p]) - float64(tc[p])) }, 0, emax[c])
			}
		}
	}
	return formats.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := png.Encode(bw, img); err != nil {
			return err
		}
		return bw.Flush()
	})
}
