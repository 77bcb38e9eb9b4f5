package synth

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"

	"github.com/camelsvae/camelsvae/formats"
)

// WriteFigure renders one generated map per parameter row (one row of the figure each) as
// log10 Mgas, Vgas and log10 B panels of side n, with per-channel colour limits shared
// across rows so the rows compare, and writes a PNG to w.
func WriteFigure(w io.Writer, rows []formats.Params, n int, seed uint64) error {
	if len(rows) == 0 {
		return fmt.Errorf("synth: figure needs at least one parameter row")
	}
	const gap = 4
	img := image.NewRGBA(image.Rect(0, 0, 3*n+2*gap, len(rows)*n+(len(rows)-1)*gap))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	fields := make([][3][]float64, len(rows))
	var lo, hi [3]float64
	for c := range lo {
		lo[c], hi[c] = math.Inf(1), math.Inf(-1)
	}
	for r, p := range rows {
		m := GenerateMap(p, n, seed)
		for c, src := range [3][]float32{m.Mgas, m.Vgas, m.B} {
			v := make([]float64, len(src))
			for i, x := range src {
				if c == 1 {
					v[i] = float64(x)
				} else {
					v[i] = math.Log10(float64(x))
				}
			}
			fields[r][c] = v
			l, h := percentile(v, 0.005), percentile(v, 0.995)
			lo[c], hi[c] = math.Min(lo[c], l), math.Max(hi[c], h)
		}
	}
	maps := [3]func(t float64) color.RGBA{hot, viridisLike, cividisLike}
	for r := range rows {
		for c := 0; c < 3; c++ {
			x0, y0 := c*(n+gap), r*(n+gap)
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					t := (fields[r][c][i*n+j] - lo[c]) / (hi[c] - lo[c])
					img.SetRGBA(x0+j, y0+i, maps[c](math.Max(0, math.Min(1, t))))
				}
			}
		}
	}
	return png.Encode(w, img)
}

func percentile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func lerp(a, b, t float64) uint8 { return uint8(math.Round(255 * (a + (b-a)*t))) }

// hot is black -> red -> yellow -> white, like matplotlib's "hot" used for CMD's Mgas.
func hot(t float64) color.RGBA {
	return color.RGBA{lerp(0, 1, math.Min(1, t/0.4)), lerp(0, 1, math.Max(0, math.Min(1, (t-0.4)/0.4))),
		lerp(0, 1, math.Max(0, (t-0.8)/0.2)), 255}
}

// viridisLike is a dark blue -> teal -> yellow ramp for Vgas.
func viridisLike(t float64) color.RGBA {
	if t < 0.5 {
		u := t / 0.5
		return color.RGBA{lerp(0.27, 0.13, u), lerp(0.0, 0.57, u), lerp(0.33, 0.55, u), 255}
	}
	u := (t - 0.5) / 0.5
	return color.RGBA{lerp(0.13, 0.99, u), lerp(0.57, 0.91, u), lerp(0.55, 0.14, u), 255}
}

// cividisLike is a navy -> grey -> yellow ramp for B, like the CMD renders.
func cividisLike(t float64) color.RGBA {
	if t < 0.5 {
		u := t / 0.5
		return color.RGBA{lerp(0.0, 0.49, u), lerp(0.13, 0.48, u), lerp(0.3, 0.47, u), 255}
	}
	u := (t - 0.5) / 0.5
	return color.RGBA{lerp(0.49, 1.0, u), lerp(0.48, 0.92, u), lerp(0.47, 0.22, u), 255}
}
