package preprocess

import (
	"errors"
	"fmt"
	"sync"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
)

// Source is the open CMD sets of a run with the fields, their transforms and the output
// size of its config. Its read methods are safe for concurrent use.
type Source struct {
	Dir, Suite string
	// Size is the side of the maps it returns; files may be a multiple of it.
	Size int
	// Fields are the CMD fields stacked as channels, and Transforms theirs.
	Fields     []string
	Transforms []Transform
	LogFloor   float64
	sets       map[string]*openSet
	pool       sync.Pool // *scratch
}

type openSet struct {
	maps   *formats.MapSet
	params []formats.Params
	side   int // file side
	k      int // downsampling factor: side / Size
}

type scratch struct{ raw, small, row []float32 } // row: affineVariant's tile

// OpenSource opens the named sets (default: cfg.TrainSet and cfg.TestSet) in cfg.Dir with
// their parameter tables, checking N_maps = 15 x rows and that each file's side is a
// multiple of cfg.Size.
func OpenSource(cfg configs.Data, sets ...string) (*Source, error) {
	s := &Source{Dir: cfg.Dir, Suite: cfg.Suite, Size: cfg.Size, LogFloor: cfg.LogFloor, sets: map[string]*openSet{}}
	if s.Size <= 0 {
		return nil, fmt.Errorf("preprocess: data.size must be > 0, got %d", s.Size)
	}
	if len(cfg.Fields) == 0 {
		return nil, fmt.Errorf("preprocess: data.fields is empty")
	}
	for c, f := range cfg.Fields {
		t, err := ParseTransform(f.Transform)
		if err != nil {
			return nil, fmt.Errorf("preprocess: data.fields[%d] (%s): %w", c, f.Name, err)
		}
		s.Fields = append(s.Fields, f.Name)
		s.Transforms = append(s.Transforms, t)
	}
	if len(sets) == 0 {
		sets = []string{cfg.TrainSet}
		if cfg.TestSet != cfg.TrainSet {
			sets = append(sets, cfg.TestSet)
		}
	}
	for _, set := range sets {
		if s.sets[set] != nil {
			continue
		}
		if err := s.open(set); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Source) open(set string) error {
	ms, err := formats.OpenSet(s.Dir, s.Suite, set, s.Fields)
	if err != nil {
		return fmt.Errorf("preprocess: %w", err)
	}
	h, w := ms.Side()
	path := ms.Fields[0].Path()
	if h != w || h < s.Size || h%s.Size != 0 {
		ms.Close()
		return fmt.Errorf("preprocess: %s: maps are %dx%d, want square with a side that is a multiple of data.size %d",
			path, h, w, s.Size)
	}
	pp := formats.ParamsPath(s.Dir, set, s.Suite)
	params, err := formats.ReadParams(pp)
	if err == nil {
		err = formats.CheckMapsParams(ms.Len(), len(params), path, pp)
	}
	if err != nil {
		ms.Close()
		return fmt.Errorf("preprocess: %w", err)
	}
	s.sets[set] = &openSet{maps: ms, params: params, side: h, k: h / s.Size}
	return nil
}

// Close closes every file.
func (s *Source) Close() error {
	var errs []error
	for _, o := range s.sets {
		errs = append(errs, o.maps.Close())
	}
	s.sets = nil
	return errors.Join(errs...)
}

func (s *Source) set(name string) (*openSet, error) {
	o := s.sets[name]
	if o == nil {
		return nil, fmt.Errorf("preprocess: set %q is not open in %s", name, s.Dir)
	}
	return o, nil
}

// Len is the number of maps of a set (0 when the set is not open).
func (s *Source) Len(set string) int {
	if o := s.sets[set]; o != nil {
		return o.maps.Len()
	}
	return 0
}

// Params returns the parameter row of map m of a set (simulation m / 15).
func (s *Source) Params(set string, m int) (formats.Params, error) {
	o, err := s.set(set)
	if err != nil {
		return formats.Params{}, err
	}
	sim := m / formats.MapsPerSim
	if m < 0 || sim >= len(o.params) {
		return formats.Params{}, fmt.Errorf("preprocess: set %s: map %d has no parameter row (%d simulations)", set, m, len(o.params))
	}
	return o.params[sim], nil
}

// FileSide is the side of a set's maps on disk.
func (s *Source) FileSide(set string) int {
	if o := s.sets[set]; o != nil {
		return o.side
	}
	return 0
}

func (s *Source) getScratch(o *openSet) *scratch {
	sc, _ := s.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	if n := o.side * o.side; cap(sc.raw) < n {
		sc.raw = make([]float32, n)
	}
	sc.raw = sc.raw[:o.side*o.side]
	if n := s.Size * s.Size; cap(sc.small) < n {
		sc.small = make([]float32, n)
	}
	sc.small = sc.small[:s.Size*s.Size]
	if n := tileLen(s.Size); cap(sc.row) < n {
		sc.row = make([]float32, n)
	}
	sc.row = sc.row[:tileLen(s.Size)]
	return sc
}

// Channels is the number of fields stacked per map.
func (s *Source) Channels() int { return len(s.Fields) }

// ReadRaw reads map m of a set into dst (len Channels*Size*Size, channel-major) in physical units,
// area-averaged down to Size when the file is larger. It does not check values.
func (s *Source) ReadRaw(set string, m int, dst []float32) error {
	o, err := s.set(set)
	if err != nil {
		return err
	}
	n := s.Size * s.Size
	if len(dst) != s.Channels()*n {
		return fmt.Errorf("preprocess: ReadRaw dst has %d values, want %d", len(dst), s.Channels()*n)
	}
	sc := s.getScratch(o)
	defer s.pool.Put(sc)
	for c := range s.Channels() {
		if err := s.readChannel(o, c, m, dst[c*n:(c+1)*n], sc); err != nil {
			return err
		}
	}
	return nil
}

func (s *Source) readChannel(o *openSet, c, m int, dst []float32, sc *scratch) error {
	r := o.maps.Fields[c]
	if o.k == 1 {
		if err := r.ReadMap(m, dst); err != nil {
			return fmt.Errorf("preprocess: field %s: %w", s.Fields[c], err)
		}
		return nil
	}
	if err := r.ReadMap(m, sc.raw); err != nil {
		return fmt.Errorf("preprocess: field %s: %w", s.Fields[c], err)
	}
	downsample(dst, sc.raw, o.side, o.k)
	return nil
}

// downsample averages k x k blocks of the side x side map src into dst. Sums run in
// float64 so that values spanning many decades (Mgas, B) keep float32 precision.
func downsample(dst, src []float32, side, k int) {
	out := side / k
	acc := make([]float64, out)
	inv := 1 / float64(k*k)
	for i := 0; i < out; i++ {
		clear(acc)
		for di := 0; di < k; di++ {
			row := src[(i*k+di)*side : (i*k+di+1)*side]
			for j := range acc {
				b := row[j*k : j*k+k]
				var sum float64
				for _, v := range b {
					sum += float64(v)
				}
				acc[j] += sum
			}
		}
		d := dst[i*out : (i+1)*out]
		for j, a := range acc {
			d[j] = float32(a * inv)
		}
	}
}

// ReadTransformed reads map m of a set into dst (len Channels*Size*Size) with each channel's
// transform applied, but not z-scored. It returns how many values were floored; a
// non-finite value, or a non-positive one in a log10 channel without a floor, is an error
// naming the file, the map, the field and the pixel.
func (s *Source) ReadTransformed(set string, m int, dst []float32) (floored int, err error) {
	coef := make([][2]float64, s.Channels())
	for c := range coef {
		coef[c] = [2]float64{1, 0}
	}
	return s.readAffine(set, m, Identity, coef, dst)
}

// readAffine reads map m of a set into dst (len Channels*Size*Size) as variant v of
// t_c(x)*coef[c][0] + coef[c][1] per channel c: read, transform, z-score and augmentation
// in one pass over each channel. Bad values are reported as by ReadTransformed, with the
// pixel in the file's (unaugmented) map.
func (s *Source) readAffine(set string, m int, v Variant, coef [][2]float64, dst []float32) (floored int, err error) {
	o, err := s.set(set)
	if err != nil {
		return 0, err
	}
	n := s.Size * s.Size
	if len(dst) != s.Channels()*n {
		return 0, fmt.Errorf("preprocess: read of map %d of set %s: dst has %d values, want %d", m, set, len(dst), s.Channels()*n)
	}
	sc := s.getScratch(o)
	defer s.pool.Put(sc)
	for c := range s.Channels() {
		if err := s.readChannel(o, c, m, sc.small, sc); err != nil {
			return floored, err
		}
		f, bad := s.Transforms[c].affineVariant(dst[c*n:(c+1)*n], sc.small, sc.row, s.Size, v, s.LogFloor, coef[c][0], coef[c][1])
		floored += f
		if bad != nil {
			return floored, s.badErr(o, c, m, bad)
		}
	}
	return floored, nil
}

func (s *Source) badErr(o *openSet, c, m int, bad *badValue) error {
	where := fmt.Sprintf("pixel %d (row %d, col %d)", bad.pixel, bad.pixel/s.Size, bad.pixel%s.Size)
	if o.k > 1 {
		where += fmt.Sprintf(" of the %dx%d block average", o.k, o.k)
	}
	return fmt.Errorf("preprocess: %w", &formats.DataError{Path: o.maps.Fields[c].Path(), Map: m, Pixel: bad.pixel,
		Field: s.Fields[c], Msg: fmt.Sprintf("%s = %g: %s", where, bad.value, bad.why)})
}
