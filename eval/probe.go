package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// The latent probes ask what a method's codes carry about the cosmology: a ridge regression
// for Omega_m and sigma_8 and a logistic classifier of Omega_m's tertile. Each is scored on
// simulations it was not fitted on, by repeated grouped K-fold cross-validation: every
// repeat splits the simulations into K folds afresh, each fold is predicted by a model fitted
// on the others (its standardisation, tertile edges and ridge penalty included), and the
// repeat's score is that of the pooled out-of-fold predictions. The reported score is the
// mean over repeats, with a simulation-bootstrap interval.

// LatentOptions configure AnalyseLatents.
type LatentOptions struct {
	Clusters int     // K-means k (the study: 5)
	Ridge    float64 // ridge alpha on standardised codes; <= 0 chooses it by inner cross-validation
	L2       float64 // logistic regression L2 penalty
	// Folds and Repeats of the grouped cross-validation (folds capped by the simulations).
	Folds, Repeats int
	// Resamples and Level of the simulation-bootstrap intervals.
	Resamples int
	Level     float64
	Seed      uint64
}

// Probe is one probe's score: the mean over repeats of the out-of-fold score, the
// simulation-bootstrap interval of that mean, and each repeat's score.
type Probe struct {
	Mean    Num      `json:"mean"`
	CI      Interval `json:"ci"`
	Repeats []Num    `json:"repeats"`
}

// LatentAnalysis holds what the codes of one method carry.
type LatentAnalysis struct {
	N           int `json:"n"`
	Dim         int `json:"dim"`
	Simulations int `json:"simulations"`
	// Folds and Repeats of the cross-validation the probes were scored by.
	Folds   int `json:"folds"`
	Repeats int `json:"repeats"`
	// Silhouette and Inertia of K-means on the codes of all maps, standardised.
	ClusterSizes []int `json:"cluster_sizes"`
	Silhouette   Num   `json:"silhouette"`
	Inertia      Num   `json:"inertia"`
	// TertileAccuracy of the Omega_m tertile classifier (chance 1/3); the tertile edges come
	// from each fold's training maps.
	TertileAccuracy Probe `json:"tertile_accuracy"`
	// R2OmegaM and R2Sigma8 of the ridge regressions.
	R2OmegaM Probe `json:"r2_omega_m"`
	R2Sigma8 Probe `json:"r2_sigma_8"`
	// The ridge penalties used, one per repeat and fold (chosen by inner grouped
	// cross-validation when LatentOptions.Ridge <= 0).
	RidgeAlphasOmegaM []Num `json:"ridge_alphas_omega_m"`
	RidgeAlphasSigma8 []Num `json:"ridge_alphas_sigma_8"`
	// Labels are the K-means clusters (for the latent scatter), not serialised.
	Labels []int `json:"-"`
}

// foldPlan assigns simulations to folds: fold[r][c] is the fold of simulation ids[c] in
// repeat r.
type foldPlan struct {
	ids   []int
	folds int
	fold  [][]int
}

// newFoldPlan shuffles the distinct simulations of sim per repeat (from seed) and deals them
// into folds in turn, so fold sizes differ by at most one simulation.
func newFoldPlan(sim []int, folds, repeats int, seed uint64) foldPlan {
	ids := slices.Compact(slices.Sorted(slices.Values(sim)))
	p := foldPlan{ids: ids, folds: min(folds, len(ids)), fold: make([][]int, repeats)}
	rng := rand.New(rand.NewPCG(seed, 0xf01d))
	for r := range p.fold {
		order := rng.Perm(len(ids))
		p.fold[r] = make([]int, len(ids))
		for pos, c := range order {
			p.fold[r][c] = pos % p.folds
		}
	}
	return p
}

// rows returns the rows of repeat r's fold f (test) and of the other folds (train).
func (p foldPlan) rows(sim []int, r, f int) (train, test []int) {
	for i, s := range sim {
		c, _ := slices.BinarySearch(p.ids, s)
		if p.fold[r][c] == f {
			test = append(test, i)
		} else {
			train = append(train, i)
		}
	}
	return train, test
}

// AnalyseLatents runs the latent probes on codes z (one row per map) with each map's
// Omega_m, sigma_8 and simulation id: K-means and the silhouette on all rows (standardised),
// and the tertile classifier and ridge regressions scored by repeated grouped
// cross-validation over simulations (see the comment at the top of this file).
//
// Inputs it cannot analyse are an error, not a panic: fewer maps than opt.Clusters (or than
// two), fewer than two simulations, or mismatched lengths.
func AnalyseLatents(z [][]float64, omegaM, sigma8 []float64, sim []int, opt LatentOptions) (LatentAnalysis, error) {
	n, d, err := rows(z)
	if err != nil {
		return LatentAnalysis{}, fmt.Errorf("eval: latent analysis: %w", err)
	}
	if len(omegaM) != n || len(sigma8) != n || len(sim) != n {
		return LatentAnalysis{}, fmt.Errorf("eval: latent analysis: %d codes with %d Omega_m, %d sigma_8 and %d simulation ids, want one each per code",
			n, len(omegaM), len(sigma8), len(sim))
	}
	if opt.Clusters < 2 || n < opt.Clusters {
		return LatentAnalysis{}, fmt.Errorf("eval: latent analysis: %d maps for %d K-means clusters (eval.clusters), want 2 <= clusters <= maps", n, opt.Clusters)
	}
	if opt.Folds < 2 || opt.Repeats < 1 {
		return LatentAnalysis{}, fmt.Errorf("eval: latent analysis: %d folds and %d repeats, want at least 2 folds and 1 repeat", opt.Folds, opt.Repeats)
	}
	if sims := len(slices.Compact(slices.Sorted(slices.Values(sim)))); sims < 2 {
		return LatentAnalysis{}, fmt.Errorf("eval: latent analysis: the %d maps come from %d simulation, want at least 2 (the probes hold out whole simulations)", n, sims)
	}
	zs := FitStandardizer(z).Apply(z)
	km, err := KMeans(zs, opt.Clusters, opt.Seed, 10, 300)
	if err != nil {
		return LatentAnalysis{}, err
	}
	plan := newFoldPlan(sim, opt.Folds, opt.Repeats, opt.Seed)
	out := LatentAnalysis{N: n, Dim: d, Simulations: len(plan.ids), Folds: plan.folds, Repeats: opt.Repeats,
		ClusterSizes: km.Sizes, Inertia: Num(km.Inertia), Labels: km.Labels}
	sil, err := Silhouette(zs, km.Labels)
	if err != nil {
		return out, err
	}
	out.Silhouette = Num(sil)
	cv, err := crossValidate(z, [][]float64{omegaM, sigma8}, sim, plan, opt)
	if err != nil {
		return out, err
	}
	draws := bootstrapDraws(len(plan.ids), opt.Resamples, opt.Seed)
	out.TertileAccuracy = probeScore(cv.hits, nil, sim, plan.ids, draws, opt.Level)
	out.R2OmegaM = probeScore(cv.pred[0], omegaM, sim, plan.ids, draws, opt.Level)
	out.R2Sigma8 = probeScore(cv.pred[1], sigma8, sim, plan.ids, draws, opt.Level)
	out.RidgeAlphasOmegaM, out.RidgeAlphasSigma8 = Nums(cv.alphas[0]), Nums(cv.alphas[1])
	return out, nil
}

// cvResult holds the out-of-fold results of every repeat: pred[t][r][i] is target t's
// prediction for row i in repeat r, hits[r][i] is 1 where the tertile classifier was right
// (else 0), alphas[t] the penalty of each (repeat, fold).
type cvResult struct {
	pred   [][][]float64
	hits   [][]float64
	alphas [][]float64
}

// crossValidate fits the probes on every (repeat, fold) of plan, spread over the cores.
// ys[0] is Omega_m, whose tertiles the classifier predicts.
func crossValidate(z [][]float64, ys [][]float64, sim []int, plan foldPlan, opt LatentOptions) (cvResult, error) {
	repeats, folds := len(plan.fold), plan.folds
	res := cvResult{pred: make([][][]float64, len(ys)), hits: make([][]float64, repeats), alphas: make([][]float64, len(ys))}
	for t := range ys {
		res.pred[t] = make([][]float64, repeats)
		res.alphas[t] = make([]float64, repeats*folds)
		for r := range repeats {
			res.pred[t][r] = make([]float64, len(z))
		}
	}
	for r := range repeats {
		res.hits[r] = make([]float64, len(z))
	}
	errs := make([]error, repeats*folds)
	parallelFor(repeats*folds, 0, func() func(int) {
		return func(job int) {
			r, f := job/folds, job%folds
			tr, te := plan.rows(sim, r, f)
			errs[job] = fitFold(z, ys, sim, tr, te, opt, func(t int, alpha float64, pred []float64) {
				res.alphas[t][job] = alpha
				for k, i := range te {
					res.pred[t][r][i] = pred[k]
				}
			}, func(hit []bool) {
				for k, i := range te {
					if hit[k] {
						res.hits[r][i] = 1
					}
				}
			})
		}
	})
	for _, err := range errs {
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// fitFold fits the probes on rows tr and predicts rows te: standardise with tr's
// statistics, the tertile classifier with tr's tertile edges, a ridge per target with its
// penalty chosen on tr alone.
func fitFold(z [][]float64, ys [][]float64, sim []int, tr, te []int, opt LatentOptions,
	ridgeOut func(t int, alpha float64, pred []float64), tertileOut func(hit []bool)) error {
	ztr := pick(z, tr)
	st := FitStandardizer(ztr)
	xtr, xte := st.Apply(ztr), st.Apply(pick(z, te))
	lo, hi := Tertiles(pick(ys[0], tr))
	lg, err := FitLogistic(xtr, TertileLabels(pick(ys[0], tr), lo, hi), 3, opt.L2)
	if err != nil {
		return err
	}
	want := TertileLabels(pick(ys[0], te), lo, hi)
	hit := make([]bool, len(te))
	for k, p := range lg.Predict(xte) {
		hit[k] = p == want[k]
	}
	tertileOut(hit)
	ytr := make([][]float64, len(ys))
	for t := range ys {
		ytr[t] = pick(ys[t], tr)
	}
	alphas := make([]float64, len(ys))
	for t := range alphas {
		alphas[t] = opt.Ridge
	}
	if opt.Ridge <= 0 {
		if alphas, err = chooseRidgeAlphas(ztr, ytr, pick(sim, tr)); err != nil {
			return err
		}
	}
	path, err := newRidgePath(xtr, ytr)
	if err != nil {
		return err
	}
	for t := range ys {
		ridgeOut(t, alphas[t], path.predict(xte, []float64{alphas[t]})[0][t])
	}
	return nil
}

// RidgeAlphas is the grid the inner cross-validation searches.
var RidgeAlphas = []float64{1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5}

// innerFolds is the number of folds of the inner cross-validation that chooses the penalty.
const innerFolds = 4

// chooseRidgeAlphas picks each target's ridge penalty from RidgeAlphas by the best mean R^2
// over a grouped cross-validation on the rows given (raw codes x, targets ys): the
// simulations, in ascending id order, are dealt into min(4, simulations) folds in turn, and
// each fold is standardised with its own training rows' statistics (scikit-learn's
// GridSearchCV over a StandardScaler + Ridge pipeline with GroupKFold). Ties go to the
// smaller penalty. With one simulation it returns 1.
func chooseRidgeAlphas(x [][]float64, ys [][]float64, sim []int) ([]float64, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(sim)))
	best := make([]float64, len(ys))
	folds := min(innerFolds, len(ids))
	if folds < 2 {
		for t := range best {
			best[t] = 1
		}
		return best, nil
	}
	score := make([][]float64, len(ys))
	for t := range score {
		score[t] = make([]float64, len(RidgeAlphas))
	}
	for f := range folds {
		var tr, va []int
		for i, s := range sim {
			if c, _ := slices.BinarySearch(ids, s); c%folds == f {
				va = append(va, i)
			} else {
				tr = append(tr, i)
			}
		}
		st := FitStandardizer(pick(x, tr))
		ytr := make([][]float64, len(ys))
		for t := range ys {
			ytr[t] = pick(ys[t], tr)
		}
		path, err := newRidgePath(st.Apply(pick(x, tr)), ytr)
		if err != nil {
			return nil, err
		}
		pred := path.predict(st.Apply(pick(x, va)), RidgeAlphas)
		for a := range RidgeAlphas {
			for t := range ys {
				score[t][a] += R2(pick(ys[t], va), pred[a][t])
			}
		}
	}
	for t := range ys {
		bi := 0
		for a, s := range score[t] {
			if s > score[t][bi] {
				bi = a
			}
		}
		best[t] = RidgeAlphas[bi]
	}
	return best, nil
}

// ridgePath solves the ridge regressions of several targets on one training matrix for any
// penalty from one eigendecomposition: of Xc^T Xc when there are at least as many rows as
// columns, else of the Gram matrix Xc Xc^T (Xc the centred rows). The intercept is not
// penalised, as in FitRidge and scikit-learn's Ridge.
type ridgePath struct {
	xm, ym []float64
	dual   bool
	xc     *mat.Dense // centred training rows (dual form)
	vecs   *mat.Dense
	vals   []float64
	proj   [][]float64 // per target: V^T Xc^T yc (primal) or U^T yc (dual)
}

func newRidgePath(x [][]float64, ys [][]float64) (*ridgePath, error) {
	n, d := dims(x)
	xc, xm := centre(x)
	p := &ridgePath{xm: xm, ym: make([]float64, len(ys)), dual: n < d}
	m := d
	if p.dual {
		m = n
	}
	gram := mat.NewSymDense(m, nil)
	if p.dual {
		gram.SymOuterK(1, xc)
	} else {
		gram.SymRankK(gram, 1, xc.T())
	}
	var eig mat.EigenSym
	if !eig.Factorize(gram, true) {
		return nil, fmt.Errorf("eval: ridge: eigendecomposition of a %dx%d matrix did not converge", m, m)
	}
	p.vals = eig.Values(nil)
	p.vecs = new(mat.Dense)
	eig.VectorsTo(p.vecs)
	p.xc = xc
	for t, y := range ys {
		if len(y) != n {
			panic(fmt.Sprintf("eval: ridge: target %d has %d values for %d rows", t, len(y), n))
		}
		yc := mat.NewVecDense(n, nil)
		for _, v := range y {
			p.ym[t] += v
		}
		p.ym[t] /= float64(n)
		for i, v := range y {
			yc.SetVec(i, v-p.ym[t])
		}
		var proj mat.VecDense
		if p.dual {
			proj.MulVec(p.vecs.T(), yc)
		} else {
			var xty mat.VecDense
			xty.MulVec(xc.T(), yc)
			proj.MulVec(p.vecs.T(), &xty)
		}
		p.proj = append(p.proj, proj.RawVector().Data)
	}
	return p, nil
}

// predict returns the predictions for rows x at each penalty: [alpha][target][row].
func (p *ridgePath) predict(x [][]float64, alphas []float64) [][][]float64 {
	m := len(x)
	xt := mat.NewDense(max(m, 1), len(p.xm), nil)
	for i, r := range x {
		for j, v := range r {
			xt.Set(i, j, v-p.xm[j])
		}
	}
	// b is the rows in the eigenbasis: (x - xm) V, or (x - xm) Xc^T U in the dual form.
	var b mat.Dense
	if p.dual {
		var k mat.Dense
		k.Mul(xt, p.xc.T())
		b.Mul(&k, p.vecs)
	} else {
		b.Mul(xt, p.vecs)
	}
	out := make([][][]float64, len(alphas))
	w := make([]float64, len(p.vals))
	for a, alpha := range alphas {
		out[a] = make([][]float64, len(p.proj))
		for t, proj := range p.proj {
			for j, l := range p.vals {
				w[j] = proj[j] / (math.Max(l, 0) + alpha)
			}
			pred := make([]float64, m)
			for i := range m {
				s := p.ym[t]
				row := b.RawRowView(i)
				for j, v := range row {
					s += v * w[j]
				}
				pred[i] = s
			}
			out[a][t] = pred
		}
	}
	return out
}

// probeScore summarises out-of-fold results per repeat: with y nil, vals[r] holds 1 for each
// correct row and the score is the accuracy; else vals[r] holds predictions of y and the
// score is R^2. The interval resamples simulations with the given draws (indices into ids)
// and averages each draw's score over the repeats.
func probeScore(vals [][]float64, y []float64, sim []int, ids []int, draws [][]int, level float64) Probe {
	// Per simulation and repeat: the row count, sum and sum of squares of y, and the sum of
	// hits or of squared residuals. Every draw's score follows from these.
	k, repeats := len(ids), len(vals)
	cnt := make([]float64, k)
	sy, syy := make([]float64, k), make([]float64, k)
	acc := make([][]float64, repeats)
	for r := range acc {
		acc[r] = make([]float64, k)
	}
	for i, s := range sim {
		c, _ := slices.BinarySearch(ids, s)
		cnt[c]++
		if y != nil {
			sy[c] += y[i]
			syy[c] += y[i] * y[i]
		}
		for r := range repeats {
			if y == nil {
				acc[r][c] += vals[r][i]
			} else {
				e := y[i] - vals[r][i]
				acc[r][c] += e * e
			}
		}
	}
	score := func(mult []float64) float64 {
		var n, s1, s2 float64
		for c, m := range mult {
			n += m * cnt[c]
			s1 += m * sy[c]
			s2 += m * syy[c]
		}
		var mean float64
		for r := range repeats {
			var a float64
			for c, m := range mult {
				a += m * acc[r][c]
			}
			if y == nil {
				mean += a / n
				continue
			}
			// SS_tot from the sums. y is constant within a CMD simulation, so a draw of
			// one simulation repeated has no spread: its R^2 is undefined (NaN, left out).
			ssTot := s2 - s1*s1/n
			if !(ssTot > 1e-12*s2) {
				return math.NaN()
			}
			mean += 1 - a/ssTot
		}
		return mean / float64(repeats)
	}
	p := Probe{Repeats: make([]Num, repeats)}
	ones := make([]float64, k)
	for c := range ones {
		ones[c] = 1
	}
	for r := range repeats {
		if y == nil {
			var a float64
			for c := range k {
				a += acc[r][c]
			}
			p.Repeats[r] = Num(a / float64(len(sim)))
		} else {
			p.Repeats[r] = Num(R2(y, vals[r]))
		}
		p.Mean += p.Repeats[r]
	}
	p.Mean /= Num(repeats)
	boot := make([]float64, len(draws))
	mult := make([]float64, k)
	for b, d := range draws {
		clear(mult)
		for _, c := range d {
			mult[c]++
		}
		boot[b] = score(mult)
	}
	p.CI = percentileInterval(boot, level, k)
	return p
}
