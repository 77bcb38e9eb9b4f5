package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Latent analysis works on any n x d matrix of codes (VAE mu, PCA coefficients), as rows of
// float64; Float64Rows converts float32 codes.

// Float64Rows widens float32 rows.
func Float64Rows(x [][]float32) [][]float64 {
	out := make([][]float64, len(x))
	for i, r := range x {
		out[i] = make([]float64, len(r))
		for j, v := range r {
			out[i][j] = float64(v)
		}
	}
	return out
}

// rows is dims for the exported entry points: an empty or ragged matrix is an error.
func rows(x [][]float64) (n, d int, err error) {
	if len(x) == 0 {
		return 0, 0, errors.New("no rows")
	}
	d = len(x[0])
	for i, r := range x {
		if len(r) != d {
			return 0, 0, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(r), d)
		}
	}
	return len(x), d, nil
}

func dims(x [][]float64) (n, d int) {
	if len(x) == 0 {
		panic("eval: empty matrix")
	}
	d = len(x[0])
	for i, r := range x {
		if len(r) != d {
			panic(fmt.Sprintf("eval: row %d has %d values, row 0 has %d", i, len(r), d))
		}
	}
	return len(x), d
}

// columnMeans returns the mean of each column of x.
func columnMeans(x [][]float64) []float64 {
	n, d := dims(x)
	m := make([]float64, d)
	for _, r := range x {
		for j, v := range r {
			m[j] += v
		}
	}
	for j := range m {
		m[j] /= float64(n)
	}
	return m
}

// centre returns x minus its column means, as a matrix, and the means.
func centre(x [][]float64) (*mat.Dense, []float64) {
	n, d := dims(x)
	m := columnMeans(x)
	xc := mat.NewDense(n, d, nil)
	for i, r := range x {
		for j, v := range r {
			xc.Set(i, j, v-m[j])
		}
	}
	return xc, m
}

// Standardizer holds per-column mean and standard deviation (divisor n, as scikit-learn's
// StandardScaler); a constant column gets scale 1.
type Standardizer struct {
	Mean, Scale []float64
}

// FitStandardizer computes the column statistics of x (fit on training rows only).
func FitStandardizer(x [][]float64) Standardizer {
	n, d := dims(x)
	s := Standardizer{Mean: columnMeans(x), Scale: make([]float64, d)}
	for _, r := range x {
		for j, v := range r {
			s.Scale[j] += (v - s.Mean[j]) * (v - s.Mean[j])
		}
	}
	for j := range s.Scale {
		s.Scale[j] = math.Sqrt(s.Scale[j] / float64(n))
		if s.Scale[j] == 0 {
			s.Scale[j] = 1
		}
	}
	return s
}

// Apply returns (x - Mean) / Scale as new rows.
func (s Standardizer) Apply(x [][]float64) [][]float64 {
	out := make([][]float64, len(x))
	for i, r := range x {
		if len(r) != len(s.Mean) {
			panic(fmt.Sprintf("eval: row %d has %d values, standardizer %d", i, len(r), len(s.Mean)))
		}
		out[i] = make([]float64, len(r))
		for j, v := range r {
			out[i][j] = (v - s.Mean[j]) / s.Scale[j]
		}
	}
	return out
}

func pick[T any](x []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = x[j]
	}
	return out
}

func sqDist(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// KMeansResult is a clustering: a label per row, the centres and the inertia (sum of squared
// distances to the assigned centre).
type KMeansResult struct {
	Labels  []int       `json:"-"`
	Centres [][]float64 `json:"-"`
	Inertia float64     `json:"inertia"`
	Sizes   []int       `json:"sizes"`
}

// KMeans clusters the rows of x into k groups: k-means++ seeding (Arthur and Vassilvitskii
// 2007) from seed, then Lloyd iterations until no label changes or maxIter; the best of nInit
// runs by inertia is returned. An empty cluster takes the point farthest from its centre.
// Fewer rows than clusters is an error. It is long because it keeps scikit-learn's algorithm
// whole (k-means++ seeding, Lloyd iterations, the best of nInit runs), which its tests compare
// against.
func KMeans(x [][]float64, k int, seed uint64, nInit, maxIter int) (KMeansResult, error) {
	n, d, err := rows(x)
	if err != nil {
		return KMeansResult{}, fmt.Errorf("eval: K-means: %w", err)
	}
	if k < 1 || k > n {
		return KMeansResult{}, fmt.Errorf("eval: K-means: %d clusters for %d rows, want 1 <= clusters <= rows", k, n)
	}
	rng := rand.New(rand.NewPCG(seed, 0xc1a5))
	best := KMeansResult{Inertia: math.Inf(1)}
	for range max(1, nInit) {
		// k-means++ seeding.
		centres := make([][]float64, 0, k)
		centres = append(centres, slices.Clone(x[rng.IntN(n)]))
		dist := make([]float64, n)
		for i := range x {
			dist[i] = sqDist(x[i], centres[0])
		}
		for len(centres) < k {
			var tot float64
			for _, v := range dist {
				tot += v
			}
			r := rng.Float64() * tot
			pickI := n - 1
			for i, v := range dist {
				if r < v {
					pickI = i
					break
				}
				r -= v
			}
			c := slices.Clone(x[pickI])
			centres = append(centres, c)
			for i := range x {
				dist[i] = math.Min(dist[i], sqDist(x[i], c))
			}
		}
		labels := make([]int, n)
		for i := range labels {
			labels[i] = -1
		}
		var inertia float64
		for iter := 0; iter < max(1, maxIter); iter++ {
			changed := false
			inertia = 0
			for i, r := range x {
				bl, bd := 0, math.Inf(1)
				for c, cen := range centres {
					if dd := sqDist(r, cen); dd < bd {
						bl, bd = c, dd
					}
				}
				if labels[i] != bl {
					labels[i], changed = bl, true
				}
				dist[i] = bd
				inertia += bd
			}
			if !changed {
				break
			}
			counts := make([]int, k)
			for c := range centres {
				clear(centres[c])
			}
			for i, r := range x {
				counts[labels[i]]++
				for j, v := range r {
					centres[labels[i]][j] += v
				}
			}
			for c := range centres {
				if counts[c] == 0 {
					far := 0
					for i := range dist {
						if dist[i] > dist[far] {
							far = i
						}
					}
					copy(centres[c], x[far])
					dist[far] = 0
					continue
				}
				for j := range d {
					centres[c][j] /= float64(counts[c])
				}
			}
		}
		if inertia < best.Inertia {
			best = KMeansResult{Labels: labels, Centres: centres, Inertia: inertia}
		}
	}
	best.Sizes = make([]int, k)
	for _, l := range best.Labels {
		best.Sizes[l]++
	}
	return best, nil
}

// Silhouette is the mean silhouette coefficient of a clustering (scikit-learn's
// silhouette_score, Euclidean): for each row, (b - a)/max(a, b) with a the mean distance to
// the other members of its cluster and b the smallest mean distance to another cluster; 0
// for a row alone in its cluster. It costs O(n^2 d) and runs over all cores. An empty or
// ragged x, or labels that are not one non-negative label per row, are an error.
func Silhouette(x [][]float64, labels []int) (float64, error) {
	n, _, err := rows(x)
	if err != nil {
		return 0, fmt.Errorf("eval: silhouette: %w", err)
	}
	if len(labels) != n {
		return 0, fmt.Errorf("eval: silhouette: %d labels for %d rows, want one per row", len(labels), n)
	}
	if slices.Min(labels) < 0 {
		return 0, fmt.Errorf("eval: silhouette: label %d, want labels >= 0", slices.Min(labels))
	}
	k := slices.Max(labels) + 1
	counts := make([]int, k)
	for _, l := range labels {
		counts[l]++
	}
	s := make([]float64, n)
	parallelFor(n, 0, func() func(int) {
		sums := make([]float64, k)
		return func(i int) {
			clear(sums)
			for j, r := range x {
				if j != i {
					sums[labels[j]] += math.Sqrt(sqDist(x[i], r))
				}
			}
			own := labels[i]
			if counts[own] < 2 {
				s[i] = 0
				return
			}
			a := sums[own] / float64(counts[own]-1)
			b := math.Inf(1)
			for c := range k {
				if c != own && counts[c] > 0 {
					b = math.Min(b, sums[c]/float64(counts[c]))
				}
			}
			if math.IsInf(b, 1) {
				s[i] = 0
				return
			}
			s[i] = (b - a) / math.Max(a, b)
		}
	})
	var tot float64
	for _, v := range s {
		tot += v
	}
	return tot / float64(n), nil
}

// Ridge is a linear model y = X Coef + Intercept.
type Ridge struct {
	Coef      []float64
	Intercept float64
}

// FitRidge minimises ||y - X w - b||^2 + alpha ||w||^2 (scikit-learn's Ridge: the intercept is
// not penalised) by solving (Xc^T Xc + alpha I) w = Xc^T yc on centred data.
func FitRidge(x [][]float64, y []float64, alpha float64) (Ridge, error) {
	n, d := dims(x)
	if len(y) != n {
		panic("eval: FitRidge: one target per row")
	}
	xc, xm := centre(x)
	var ym float64
	for _, v := range y {
		ym += v
	}
	ym /= float64(n)
	yc := mat.NewVecDense(n, nil)
	for i, v := range y {
		yc.SetVec(i, v-ym)
	}
	a := mat.NewSymDense(d, nil)
	a.SymRankK(a, 1, xc.T())
	for j := range d {
		a.SetSym(j, j, a.At(j, j)+alpha)
	}
	var rhs mat.VecDense
	rhs.MulVec(xc.T(), yc)
	var ch mat.Cholesky
	var w mat.VecDense
	if ch.Factorize(a) {
		if err := ch.SolveVecTo(&w, &rhs); err != nil {
			return Ridge{}, fmt.Errorf("eval: ridge solve: %w", err)
		}
	} else if err := w.SolveVec(a, &rhs); err != nil { // alpha = 0 and singular: least squares
		return Ridge{}, fmt.Errorf("eval: ridge solve: %w", err)
	}
	r := Ridge{Coef: make([]float64, d), Intercept: ym}
	for j := range d {
		r.Coef[j] = w.AtVec(j)
		r.Intercept -= r.Coef[j] * xm[j]
	}
	return r, nil
}

// Predict returns X Coef + Intercept.
func (r Ridge) Predict(x [][]float64) []float64 {
	out := make([]float64, len(x))
	for i, row := range x {
		v := r.Intercept
		for j, c := range r.Coef {
			v += c * row[j]
		}
		out[i] = v
	}
	return out
}

// R2 is the coefficient of determination 1 - SS_res/SS_tot (scikit-learn's r2_score).
func R2(y, pred []float64) float64 {
	if len(y) != len(pred) || len(y) == 0 {
		panic("eval: R2: length mismatch or empty")
	}
	var m float64
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	var res, tot float64
	for i, v := range y {
		res += (v - pred[i]) * (v - pred[i])
		tot += (v - m) * (v - m)
	}
	if tot == 0 {
		return math.NaN()
	}
	return 1 - res/tot
}

// Logistic is a multinomial (softmax) logistic regression: class scores W x + B.
type Logistic struct {
	W [][]float64 // classes x d
	B []float64
}

// FitLogistic minimises the mean cross-entropy plus (l2/2)||W||^2 (biases not penalised) with
// L-BFGS (gonum optimize). Labels are 0 .. classes-1.
func FitLogistic(x [][]float64, y []int, classes int, l2 float64) (*Logistic, error) {
	n, d := dims(x)
	if len(y) != n || classes < 2 {
		panic("eval: FitLogistic: one label per row and at least 2 classes")
	}
	for _, c := range y {
		if c < 0 || c >= classes {
			panic(fmt.Sprintf("eval: FitLogistic: label %d outside [0, %d)", c, classes))
		}
	}
	np := classes * (d + 1) // per class: d weights then the bias
	p := make([]float64, classes)
	fg := func(grad, w []float64) float64 {
		if grad != nil {
			clear(grad)
		}
		var loss float64
		for i, r := range x {
			mx := math.Inf(-1)
			for c := range classes {
				wc := w[c*(d+1) : (c+1)*(d+1)]
				s := wc[d]
				for j, v := range r {
					s += wc[j] * v
				}
				p[c] = s
				mx = math.Max(mx, s)
			}
			var z float64
			for c := range p {
				p[c] = math.Exp(p[c] - mx)
				z += p[c]
			}
			loss -= math.Log(p[y[i]] / z)
			if grad != nil {
				for c := range classes {
					g := p[c] / z
					if c == y[i] {
						g--
					}
					gc := grad[c*(d+1) : (c+1)*(d+1)]
					for j, v := range r {
						gc[j] += g * v
					}
					gc[d] += g
				}
			}
		}
		loss /= float64(n)
		for c := range classes {
			for j := range d {
				wv := w[c*(d+1)+j]
				loss += 0.5 * l2 * wv * wv
			}
		}
		if grad != nil {
			for i := range grad {
				grad[i] /= float64(n)
			}
			for c := range classes {
				for j := range d {
					grad[c*(d+1)+j] += l2 * w[c*(d+1)+j]
				}
			}
		}
		return loss
	}
	w, err := minimizeSmooth(fg, make([]float64, np), 5000, 1e-9)
	if err != nil {
		return nil, fmt.Errorf("eval: logistic regression: %w", err)
	}
	m := &Logistic{W: make([][]float64, classes), B: make([]float64, classes)}
	for c := range classes {
		m.W[c] = slices.Clone(w[c*(d+1) : c*(d+1)+d])
		m.B[c] = w[c*(d+1)+d]
	}
	return m, nil
}

// Predict returns the most probable class of each row.
func (m *Logistic) Predict(x [][]float64) []int {
	out := make([]int, len(x))
	for i, r := range x {
		best, bs := 0, math.Inf(-1)
		for c, w := range m.W {
			s := m.B[c]
			for j, v := range r {
				s += w[j] * v
			}
			if s > bs {
				best, bs = c, s
			}
		}
		out[i] = best
	}
	return out
}

// Tertiles returns the 1/3 and 2/3 quantiles of v (linear interpolation, numpy's default);
// TertileLabels maps values below lo to 0, below hi to 1, else 2.
func Tertiles(v []float64) (lo, hi float64) {
	s := slices.Sorted(slices.Values(v))
	return quantileSorted(s, 1.0/3), quantileSorted(s, 2.0/3)
}

// TertileLabels: see Tertiles.
func TertileLabels(v []float64, lo, hi float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		switch {
		case x < lo:
			out[i] = 0
		case x < hi:
			out[i] = 1
		default:
			out[i] = 2
		}
	}
	return out
}

// minimizeSmooth minimises a smooth convex f (fg returns f and, when grad is non-nil, fills
// the gradient) from x0 by L-BFGS (Nocedal and Wright, algorithm 7.4: the last 10 steps and
// gradient changes, the two-loop recursion, an Armijo backtracking line search), until the
// gradient's max-norm falls below gtol, three steps in a row leave f unchanged (rounding), or
// maxIter steps. It is used instead of gonum/optimize, whose import graph needs a module this
// project does not carry; the accelerated gradient it replaced took thousands of steps where
// this takes about a hundred.
func minimizeSmooth(fg func(grad, x []float64) float64, x0 []float64, maxIter int, gtol float64) ([]float64, error) {
	const memory, c1 = 10, 1e-4
	n := len(x0)
	x, g := slices.Clone(x0), make([]float64, n)
	xn, gn, d := make([]float64, n), make([]float64, n), make([]float64, n)
	var ss, ys [][]float64
	var rho []float64
	alpha := make([]float64, memory)
	dot := func(a, b []float64) float64 {
		var s float64
		for i, v := range a {
			s += v * b[i]
		}
		return s
	}
	f := fg(g, x)
	stalls := 0
	for range maxIter {
		if math.IsNaN(f) {
			return nil, fmt.Errorf("objective is NaN")
		}
		gmax := 0.0
		for _, v := range g {
			gmax = math.Max(gmax, math.Abs(v))
		}
		if gmax < gtol {
			break
		}
		// d = -H g by the two-loop recursion, H0 = (s.y / y.y) I from the latest pair.
		for i, v := range g {
			d[i] = -v
		}
		for k := len(ss) - 1; k >= 0; k-- {
			alpha[k] = rho[k] * dot(ss[k], d)
			for i := range d {
				d[i] -= alpha[k] * ys[k][i]
			}
		}
		step := 1.0
		if k := len(ss) - 1; k >= 0 {
			gamma := dot(ss[k], ys[k]) / dot(ys[k], ys[k])
			for i := range d {
				d[i] *= gamma
			}
		} else {
			step = 1 / math.Max(1, math.Sqrt(dot(g, g))) // first step: length at most 1
		}
		for k := range ss {
			beta := rho[k] * dot(ys[k], d)
			for i := range d {
				d[i] += (alpha[k] - beta) * ss[k][i]
			}
		}
		dg := dot(d, g)
		if !(dg < 0) { // not a descent direction: forget the curvature pairs
			ss, ys, rho = ss[:0], ys[:0], rho[:0]
			for i, v := range g {
				d[i] = -v
			}
			dg = -dot(g, g)
		}
		var fn float64
		for {
			for i := range xn {
				xn[i] = x[i] + step*d[i]
			}
			fn = fg(gn, xn)
			if fn <= f+c1*step*dg || step < 1e-20 {
				break
			}
			step *= 0.5
		}
		// Near the optimum, rounding can leave f unchanged: stop after three such steps.
		if step < 1e-20 || !(fn < f) {
			if stalls++; stalls == 3 {
				break
			}
			if fn > f {
				continue
			}
		} else {
			stalls = 0
		}
		s, y := make([]float64, n), make([]float64, n)
		for i := range s {
			s[i], y[i] = xn[i]-x[i], gn[i]-g[i]
		}
		if sy := dot(s, y); sy > 1e-12*dot(y, y) {
			if len(ss) == memory {
				ss, ys, rho = ss[1:], ys[1:], rho[1:]
			}
			ss, ys, rho = append(ss, s), append(ys, y), append(rho, 1/sy)
		}
		copy(x, xn)
		copy(g, gn)
		f = fn
	}
	return x, nil
}
