package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
)

// The fields of a CMD map beyond Mgas, Vgas and B come from the same simulation: the same
// deposited matter, gas density and feedback, plus one extra scatter field. They are toy
// relations with CMD's units and rough value ranges, chosen so that the fields correlate
// as in CMD (dark matter, gas, stars and temperature all trace one density field):
//   - Mcdm: the deposited dark matter, lightly smoothed, times the mean dark matter column
//     (Omega_m - Omega_b) rho_crit 5 Mpc/h, in (Msun/h)/(Mpc/h)^2;
//   - Vcdm: its mass-weighted Zel'dovich speed with a dispersion growing with density, km/s;
//   - Mstar: stars where the gas density exceeds 6 times the mean, fewer with stronger
//     feedback (A_SN1^-0.8 A_AGN1^-0.3); zero elsewhere, as in CMD;
//   - Mtot = Mcdm + Mgas + Mstar; Mtot_Nbody: the N-body counterpart, all matter following
//     the dark matter, Omega_m rho_crit 5 Mpc/h times the same deposit;
//   - T: 1e4 K g^0.6 below the mean gas density and g^1.8 above (g the gas density over its
//     mean: photoheated voids, shock-heated knots), with log-normal scatter, heated inside B's
//     AGN bubbles (A_AGN2) and by supernovae (A_SN1), in Kelvin;
//   - P: the gas density times k T / (0.59 m_p), in (Msun/h)(km/s)^2/(Mpc/h)^3;
//   - HI: the neutral fraction of photoionisation equilibrium (~ g T^-0.75), self-shielded
//     above ~60 times the mean, times 0.76 Mgas, in (Msun/h)/(Mpc/h)^2;
//   - ne: the electron density of the ionised hydrogen and helium, in cm^-3;
//   - Z: metal mass fraction, from the stars spread by winds (A_SN2), 2e-5 to ~0.02;
//   - MgFe: the Mg/Fe mass ratio, alpha-enhanced where the enrichment is young and by A_SN1.

// CanGenerate reports whether synth generates the CMD field name: every one of
// configs.CMDFields (TestFieldStatistics generates each).
func CanGenerate(name string) bool { return slices.Contains(configs.CMDFields, name) }

// derived computes the fields of one generated map on demand, each once.
type derived struct {
	ws   *workspace
	p    formats.Params
	core Maps
	seed [2]uint64
	done map[string][]float64
	aux  []float64
}

// fields generates the named fields of one map for parameters p from the seed pair. The
// core three come from generate with the PCG stream (seed[0], seed[1]), so they do not
// depend on which other fields are asked for; every other field derives from them and one
// scatter field of its own stream.
func (ws *workspace) fields(p formats.Params, seed [2]uint64, names []string) (map[string][]float32, error) {
	d := &derived{ws: ws, p: p, seed: seed, done: map[string][]float64{},
		core: ws.generate(p, rand.New(rand.NewPCG(seed[0], seed[1])))}
	out := make(map[string][]float32, len(names))
	for _, name := range names {
		switch name {
		case "Mgas":
			out[name] = d.core.Mgas
		case "Vgas":
			out[name] = d.core.Vgas
		case "B":
			out[name] = d.core.B
		default:
			v, err := d.get(name)
			if err != nil {
				return nil, err
			}
			f := make([]float32, len(v))
			for i, x := range v {
				f[i] = float32(x)
			}
			out[name] = f
		}
	}
	return out, nil
}

// get returns field name in float64, computing what it needs first.
func (d *derived) get(name string) ([]float64, error) {
	if v, ok := d.done[name]; ok {
		return v, nil
	}
	make1 := map[string]func() ([]float64, error){
		"Mgas": func() ([]float64, error) { return widen(d.core.Mgas), nil },
		"Mcdm": d.mcdm, "Vcdm": d.vcdm, "Mstar": d.mstar, "Mtot": d.mtot, "Mtot_Nbody": d.mtotNbody,
		"T": d.temperature, "P": d.pressure, "HI": d.hi, "ne": d.ne, "Z": d.metals, "MgFe": d.mgFe,
	}[name]
	if make1 == nil {
		return nil, fmt.Errorf("synth: no generator for field %q", name)
	}
	v, err := make1()
	if err != nil {
		return nil, err
	}
	d.done[name] = v
	return v, nil
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// smooth returns x convolved with a Gaussian of radius r (Mpc/h).
func (d *derived) smooth(x []float64, r float64) []float64 {
	a := d.ws.a
	for i, v := range x {
		a[i] = complex(v, 0)
	}
	d.ws.gaussSmooth(a, r)
	out := make([]float64, len(x))
	for i := range out {
		out[i] = real(a[i])
	}
	return out
}

// gas is the smoothed gas density over its mean (what generate left in rho).
func (d *derived) gas() []float64 { return d.ws.rho }

// scatter is a unit-variance Gaussian field with a 0.5 Mpc/h correlation length, from its
// own stream of the map's seed.
func (d *derived) scatter() []float64 {
	if d.aux != nil {
		return d.aux
	}
	rng := rand.New(rand.NewPCG(d.seed[0], d.seed[1]^0xa0c5_7e3f))
	x := make([]float64, len(d.ws.rho))
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	x = d.smooth(x, 0.5)
	var s2 float64
	for _, v := range x {
		s2 += v * v
	}
	sd := math.Sqrt(s2/float64(len(x))) + 1e-30
	for i := range x {
		x[i] /= sd
	}
	d.aux = x
	return x
}

// dmDeposit is the deposited matter over its mean, smoothed by most of a pixel so that
// no cell is empty.
func (d *derived) dmDeposit() []float64 {
	if v, ok := d.done["dm"]; ok {
		return v
	}
	v := d.smooth(d.ws.dm, 0.7*boxSize/float64(d.ws.n))
	for i := range v {
		v[i] = math.Max(v[i], 0) + 1e-3
	}
	d.done["dm"] = v
	return v
}

// critColumn is rho_crit times the slab depth, (Msun/h)/(Mpc/h)^2 per unit Omega.
const critColumn = 2.775e11 * slabDepth

func (d *derived) mcdm() ([]float64, error) {
	dm := d.dmDeposit()
	out := make([]float64, len(dm))
	for i, v := range dm {
		out[i] = (d.p[0] - omegaB) * critColumn * v
	}
	return out, nil
}

func (d *derived) mtotNbody() ([]float64, error) {
	dm := d.dmDeposit()
	out := make([]float64, len(dm))
	for i, v := range dm {
		out[i] = d.p[0] * critColumn * v
	}
	return out, nil
}

func (d *derived) vcdm() ([]float64, error) {
	r := 0.7 * boxSize / float64(d.ws.n)
	mass, mom := d.smooth(d.ws.dm, r), d.smooth(d.ws.dmMom, r)
	dm := d.dmDeposit()
	out := make([]float64, len(dm))
	for i := range out {
		v := math.Max(mom[i], 0) / math.Max(mass[i], 1e-3)
		sigma := 120 * math.Cbrt(dm[i])
		out[i] = math.Sqrt(v*v + sigma*sigma)
	}
	return out, nil
}

func (d *derived) mstar() ([]float64, error) {
	g := d.gas()
	eff := 3e-3 * math.Pow(d.p[2], -0.8) * math.Pow(d.p[3], -0.3)
	out := make([]float64, len(g))
	for i, v := range g {
		if e := v - 6; e > 0 {
			out[i] = meanMgas * eff * math.Pow(e, 1.4)
		}
	}
	return out, nil
}

func (d *derived) mtot() ([]float64, error) {
	mc, err := d.get("Mcdm")
	if err != nil {
		return nil, err
	}
	ms, err := d.get("Mstar")
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(mc))
	for i := range out {
		out[i] = mc[i] + float64(d.core.Mgas[i]) + ms[i]
	}
	return out, nil
}

func (d *derived) temperature() ([]float64, error) {
	g, s := d.gas(), d.scatter()
	var bmax float64
	for _, b := range d.ws.bubble {
		bmax = math.Max(bmax, b)
	}
	heat := 2 * math.Sqrt(d.p[5])
	out := make([]float64, len(g))
	for i, v := range g {
		bub := 0.0
		if bmax > 0 {
			bub = d.ws.bubble[i] / bmax
		}
		// Photoheated gas follows g^0.6 below the mean; shocks heat denser gas as g^1.8
		// (1e7 K in the knots).
		slope := 0.6
		if v > 1 {
			slope = 1.8
		}
		out[i] = 1e4 * math.Pow(v, slope) * math.Pow(d.p[2], 0.1) * math.Exp(0.25*s[i]) * (1 + heat*bub)
	}
	return out, nil
}

func (d *derived) pressure() ([]float64, error) {
	t, err := d.get("T")
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(t))
	for i, v := range t {
		// Mgas over the slab depth is the 3-D density; k T / (0.59 m_p) = 0.01399 T (km/s)^2.
		out[i] = float64(d.core.Mgas[i]) / slabDepth * 0.01399 * v
	}
	return out, nil
}

// neutral is the neutral hydrogen fraction.
func (d *derived) neutral() ([]float64, error) {
	t, err := d.get("T")
	if err != nil {
		return nil, err
	}
	g := d.gas()
	out := make([]float64, len(g))
	for i, v := range g {
		out[i] = math.Min(0.95, 3e-6*v*math.Pow(t[i]/1e4, -0.75)*(1+math.Pow(v/60, 2)))
	}
	return out, nil
}

func (d *derived) hi() ([]float64, error) {
	x, err := d.neutral()
	if err != nil {
		return nil, err
	}
	for i := range x {
		x[i] *= 0.76 * float64(d.core.Mgas[i])
	}
	return x, nil
}

func (d *derived) ne() ([]float64, error) {
	x, err := d.neutral()
	if err != nil {
		return nil, err
	}
	g := d.gas()
	for i := range x {
		// Mean hydrogen density at z = 0, 1.89e-7 cm^-3; helium adds 16% of the electrons.
		x[i] = 1.89e-7 * g[i] * 1.16 * (1 - x[i])
	}
	return x, nil
}

// enrichment is the stellar mass spread by winds over the gas mass.
func (d *derived) enrichment() ([]float64, error) {
	ms, err := d.get("Mstar")
	if err != nil {
		return nil, err
	}
	r := math.Hypot(0.15*math.Sqrt(d.p[4]), boxSize/float64(d.ws.n))
	spread := d.smooth(ms, r)
	out := make([]float64, len(spread))
	for i, v := range spread {
		out[i] = math.Max(v, 0) / float64(d.core.Mgas[i])
	}
	return out, nil
}

func (d *derived) metals() ([]float64, error) {
	e, err := d.enrichment()
	if err != nil {
		return nil, err
	}
	for i, v := range e {
		e[i] = 2e-5 + 0.02*(1-math.Exp(-v/0.02))
	}
	return e, nil
}

func (d *derived) mgFe() ([]float64, error) {
	e, err := d.enrichment()
	if err != nil {
		return nil, err
	}
	s := d.scatter()
	base := math.Pow(d.p[2], 0.15)
	for i, v := range e {
		e[i] = base * (1 + 0.5*math.Exp(-v/0.02)) * math.Exp(0.05*s[i])
	}
	return e, nil
}
