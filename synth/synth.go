// Package synth generates CAMELS-like maps in the CMD file format, standing in for the real
// data that cannot be downloaded here.
//
// Each map is a 2-D slab of a 25 Mpc/h box: a Gaussian density field with an LCDM-shaped
// power spectrum (BBKS transfer function with shape Gamma = Omega_m h, amplitude set by
// sigma_8), particles on the grid moved by the Zel'dovich displacement, and cloud-in-cell
// deposition, which gives filaments, knots and voids. From that density:
//   - Mgas: the density smoothed on a feedback scale that grows with A_SN1, A_AGN1 (and
//     mildly A_SN2, A_AGN2), raised to a power, in (Msun/h)/(Mpc/h)^2 with the cosmic
//     baryon mean of a 5 Mpc/h slab;
//   - Vgas: the mass-weighted Zel'dovich speed 100 f(Omega_m) |psi| km/s combined with a
//     density-dependent dispersion, so it is positive (tens to ~1000 km/s);
//   - B: a power of the gas density with log-normal scatter, plus AGN-blown bubbles around
//     knots whose size and strength follow A_AGN1 and A_AGN2, in Gauss.
//
// Every map has its own generator seeded by (seed, set, simulation, map), and results go
// into slots by index, so the output depends on the seed only, not on the worker count.
package synth

import (
	"embed"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"

	"github.com/camelsvae/camelsvae/formats"
)

//go:embed params/*.txt
var paramFiles embed.FS

// Suite is the simulation suite whose parameter tables are embedded.
const Suite = "IllustrisTNG"

// Table returns the embedded CAMELS parameter table of a set ("CV": 27 rows at the fiducial
// cosmology, "LH": 1000 rows of the Latin hypercube).
func Table(set string) ([]formats.Params, error) {
	name := fmt.Sprintf("params/params_%s_%s.txt", set, Suite)
	f, err := paramFiles.Open(name)
	if err != nil {
		return nil, fmt.Errorf("synth: no embedded parameter table for set %q (have CV, LH)", set)
	}
	defer f.Close()
	return formats.ParseParams(f, name)
}

// Physical constants of the generated boxes.
const (
	boxSize   = 25.0   // Mpc/h, the CAMELS box
	hubble    = 0.6711 // h of the CAMELS cosmology
	slabDepth = 5.0    // Mpc/h, CMD slab thickness
	// meanMgas is Omega_b rho_crit times the slab depth: 0.049 * 2.775e11 * 5 (Msun/h)/(Mpc/h)^2.
	meanMgas = 0.049 * 2.775e11 * slabDepth
	omegaB   = 0.049
)

// Tuning of the toy model (chosen so the fiducial maps match CMD's value ranges).
const (
	sigmaScale   = 1.0  // rms of the linear density at the normalisation scale, per unit sigma_8
	normRadius   = 2.0  // Mpc/h, Gaussian radius where that rms is set
	truncRadius  = 0.22 // Mpc/h, truncation of the linear field (truncated Zel'dovich)
	feedbackBase = 0.07 // Mpc/h, gas smoothing at A_SN = A_AGN = 1
	voidFloor    = 0.04 // minimal gas density in units of the mean
	gasPower     = 1.8  // Mgas ~ rho_gas^gasPower
	bPower       = 1.8  // B ~ rho_gas^bPower
	bScatter     = 0.5  // natural-log scatter of B
	bMean        = 1e-13
	bBubble      = 2e-10
	vDispersion  = 70.0 // km/s at mean density
)

// bbks is the BBKS transfer function at q = k / Gamma.
func bbks(q float64) float64 {
	if q < 1e-8 {
		return 1
	}
	return math.Log(1+2.34*q) / (2.34 * q) * math.Pow(1+3.89*q+math.Pow(16.1*q, 2)+math.Pow(5.46*q, 3)+math.Pow(6.71*q, 4), -0.25)
}

// spectrum returns the 2-D linear power P(k) (k in h/Mpc) normalised so that the field's
// rms after a Gaussian filter of normRadius is sigmaScale*sigma_8.
func spectrum(omegaM, sigma8 float64) func(k float64) float64 {
	gamma := omegaM * hubble
	shape := func(k float64) float64 { t := bbks(k / gamma); return k * t * t }
	// sigma^2(R) = int k dk / (2 pi) P(k) exp(-k^2 R^2), on a log grid.
	var s2 float64
	const steps = 400
	lo, hi := math.Log(1e-3), math.Log(1e2)
	dl := (hi - lo) / steps
	for i := 0; i < steps; i++ {
		k := math.Exp(lo + (float64(i)+0.5)*dl)
		s2 += k * k * shape(k) * math.Exp(-k*k*normRadius*normRadius) / (2 * math.Pi) * dl
	}
	a := math.Pow(sigmaScale*sigma8, 2) / s2
	return func(k float64) float64 { return a * shape(k) }
}

// workspace holds one worker's buffers for maps of side n.
type workspace struct {
	n             int
	f             *fft2
	a, noise      []complex128
	rho, mom, pow []float64
	// dm, dmMom and bubble keep what the other fields derive from (fields.go): the
	// deposited mass and speed before the gas smoothing, and B's bubble field.
	dm, dmMom, bubble []float64
	// k2 is kx^2 + ky^2 in units of the fundamental mode, per grid cell.
	k2 []int32
	// disp[k2] is the displacement filter sqrt(P) n/L exp(-k^2 rt^2/2) / k^2 of dispFor.
	disp    []float64
	dispFor [2]float64
}

func newWorkspace(n int) *workspace {
	ws := &workspace{n: n, f: newFFT2(n), a: make([]complex128, n*n), noise: make([]complex128, n*n),
		rho: make([]float64, n*n), mom: make([]float64, n*n), pow: make([]float64, n*n), k2: make([]int32, n*n),
		dm: make([]float64, n*n), dmMom: make([]float64, n*n), bubble: make([]float64, n*n),
		disp: make([]float64, n*n/2+1)}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			ki, kj := waveNumber(i, n), waveNumber(j, n)
			ws.k2[i*n+j] = int32(ki*ki + kj*kj)
		}
	}
	return ws
}

// dispFilter returns the displacement filter for (Omega_m, sigma_8) by integer k^2, reusing
// the last one: consecutive maps of a worker mostly belong to the same simulation.
func (ws *workspace) dispFilter(omegaM, sigma8 float64) []float64 {
	if ws.dispFor == [2]float64{omegaM, sigma8} {
		return ws.disp
	}
	pk := spectrum(omegaM, sigma8)
	kf := 2 * math.Pi / boxSize
	amp := float64(ws.n) / boxSize
	ws.disp[0] = 0
	for q := 1; q < len(ws.disp); q++ {
		k2 := float64(q) * kf * kf
		ws.disp[q] = math.Sqrt(pk(math.Sqrt(k2))) * amp * math.Exp(-k2*truncRadius*truncRadius/2) / k2
	}
	ws.dispFor = [2]float64{omegaM, sigma8}
	return ws.disp
}

// gauss1D returns exp(-k^2 r^2 / 2) per frequency index, so a 2-D Gaussian filter is the
// product of two table entries.
func gauss1D(n int, r float64) []float64 {
	kf := 2 * math.Pi / boxSize
	g := make([]float64, n)
	for i := range g {
		k := float64(waveNumber(i, n)) * kf
		g[i] = math.Exp(-k * k * r * r / 2)
	}
	return g
}

// Maps are the three fields of one generated map, each n*n, row-major.
type Maps struct {
	Mgas, Vgas, B []float32
}

// GenerateMap makes one map of side n (a power of two >= 8) for parameters p from seed.
func GenerateMap(p formats.Params, n int, seed uint64) Maps {
	return newWorkspace(n).generate(p, rand.New(rand.NewPCG(seed, 0x5eed)))
}

// generate draws one simulation's map (Mgas, Vgas, B) for the parameters p from rng. It is
// long because the physics is one sequence of steps over the workspace's buffers, each reading
// the previous one's.
func (ws *workspace) generate(p formats.Params, rng *rand.Rand) Maps {
	n := ws.n
	nn := n * n
	dx := boxSize / float64(n)
	kf := 2 * math.Pi / boxSize
	omegaM, sigma8 := p[0], p[1]
	aSN1, aAGN1, aSN2, aAGN2 := p[2], p[3], p[4], p[5]

	// Two white-noise fields at once: real part seeds the density, imaginary part B's scatter.
	a := ws.a
	for i := range a {
		a[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	ws.f.forward(a)
	copy(ws.noise, a)
	// Split the transform of the real part, W_k = (A_k + conj(A_-k))/2, and build the packed
	// displacement psi_x + i psi_y = (i kx - ky) delta_k / k^2.
	disp := ws.dispFilter(omegaM, sigma8)
	for i := 0; i < n; i++ {
		ky := float64(waveNumber(i, n)) * kf
		im := (n - i) % n
		for j := 0; j < n; j++ {
			kx := float64(waveNumber(j, n)) * kf
			w := (ws.noise[i*n+j] + cmplx.Conj(ws.noise[im*n+(n-j)%n])) / 2
			a[i*n+j] = complex(-ky, kx) * w * complex(disp[ws.k2[i*n+j]], 0)
		}
	}
	ws.f.inverse(a)

	// Zel'dovich move and cloud-in-cell deposit of mass and mass-weighted speed.
	f := math.Pow(omegaM, 0.55)
	rho, mom := ws.rho, ws.mom
	clear(rho)
	clear(mom)
	fn := float64(n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			psi := a[i*n+j]
			speed := 100 * f * math.Sqrt(real(psi)*real(psi)+imag(psi)*imag(psi)) // km/s; psi in Mpc/h
			x := float64(j) + real(psi)/dx
			y := float64(i) + imag(psi)/dx
			x -= fn * math.Floor(x/fn)
			y -= fn * math.Floor(y/fn)
			x0, y0 := int(x), int(y)
			tx, ty := x-float64(x0), y-float64(y0)
			x0 %= n
			y0 %= n
			x1, y1 := (x0+1)%n, (y0+1)%n
			w00, w01, w10, w11 := (1-tx)*(1-ty), tx*(1-ty), (1-tx)*ty, tx*ty
			rho[y0*n+x0] += w00
			rho[y0*n+x1] += w01
			rho[y1*n+x0] += w10
			rho[y1*n+x1] += w11
			mom[y0*n+x0] += w00 * speed
			mom[y0*n+x1] += w01 * speed
			mom[y1*n+x0] += w10 * speed
			mom[y1*n+x1] += w11 * speed
		}
	}

	// Feedback smoothing of gas density and momentum together (a real, even kernel keeps
	// the packed real and imaginary parts apart).
	rfb := feedbackBase * math.Pow(aSN1, 0.25) * math.Pow(aAGN1, 0.2) * math.Pow(aSN2, 0.08) * math.Pow(aAGN2, 0.08)
	rfb = math.Hypot(rfb, dx) // at least a pixel: one particle per cell leaves CIC aliasing
	copy(ws.dm, rho)
	copy(ws.dmMom, mom)
	for i := range a {
		a[i] = complex(rho[i], mom[i])
	}
	ws.gaussSmooth(a, rfb)
	out := Maps{Mgas: make([]float32, nn), Vgas: make([]float32, nn), B: make([]float32, nn)}
	var norm float64
	lg := ws.pow
	for i := range a {
		g := math.Max(real(a[i]), 0) + voidFloor
		rho[i] = g
		lg[i] = math.Log(g)
		gp := math.Exp(gasPower * lg[i])
		mom[i] = gp
		norm += gp
		vb := math.Max(imag(a[i]), 0) / g
		out.Vgas[i] = float32(math.Sqrt(vb*vb + vDispersion*vDispersion*g))
	}
	scale := meanMgas * float64(nn) / norm
	for i, gp := range mom {
		out.Mgas[i] = float32(scale * gp)
	}

	// B: knots blow bubbles (size and strength from AGN feedback) over a power of the gas
	// density with log-normal scatter from the second noise field.
	for i, g := range rho {
		e := math.Max(g-3, 0)
		a[i] = complex(e*e, 0)
	}
	ws.f.forward(a)
	rb := 0.3 * math.Pow(aAGN1, 0.3)
	rs := 0.5 // Mpc/h, correlation length of the scatter
	gb, gs := gauss1D(n, rb), gauss1D(n, rs)
	for i := 0; i < n; i++ {
		im := (n - i) % n
		for j := 0; j < n; j++ {
			v := (ws.noise[i*n+j] - cmplx.Conj(ws.noise[im*n+(n-j)%n])) / 2i
			// The scatter field is filtered white noise, scaled to unit variance below.
			a[i*n+j] = a[i*n+j]*complex(gb[i]*gb[j], 0) + 1i*v*complex(gs[i]*gs[j], 0)
		}
	}
	ws.f.inverse(a)
	var sv float64
	for i := range a {
		sv += imag(a[i]) * imag(a[i])
	}
	sstd := math.Sqrt(sv/float64(nn)) + 1e-30
	bub := bBubble * math.Sqrt(aAGN2)
	for i := range rho {
		ws.bubble[i] = math.Max(real(a[i]), 0)
		b := bMean*math.Exp(bPower*lg[i]+bScatter*imag(a[i])/sstd) + bub*ws.bubble[i]
		out.B[i] = float32(b)
	}
	return out
}

// gaussSmooth convolves the packed grid a with a Gaussian of radius r (Mpc/h).
func (ws *workspace) gaussSmooth(a []complex128, r float64) {
	n := ws.n
	g := gauss1D(n, r)
	ws.f.forward(a)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			a[i*n+j] *= complex(g[i]*g[j], 0)
		}
	}
	ws.f.inverse(a)
}
