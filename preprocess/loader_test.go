package preprocess

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/camelsvae/camelsvae/formats"
)

// setup writes a CV (2 sims) and an LH (1 sim) set of side x side maps and opens them at size.
func setup(t testing.TB, side, size int) (*Source, *Stats, string) {
	t.Helper()
	dir := t.TempDir()
	makeSet(t, dir, "CV", 2, side, 1)
	makeSet(t, dir, "LH", 1, side, 2)
	src, err := OpenSource(testConfig(dir, size))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	maps := make([]int, 20)
	for i := range maps {
		maps[i] = i
	}
	st, err := ComputeStats(context.Background(), src, "CV", maps, 2)
	if err != nil {
		t.Fatal(err)
	}
	return src, st, dir
}

// collect runs one epoch and copies what it yields.
func collect(t *testing.T, l *Loader, epoch int) ([][]float32, [][]Item, []bool) {
	t.Helper()
	var xs [][]float32
	var items [][]Item
	var partial []bool
	for b, err := range l.Epoch(context.Background(), epoch) {
		if err != nil {
			t.Fatal(err)
		}
		if b.Rec.NumRows() != int64(b.N) || len(b.X) != b.N*3*l.src.Size*l.src.Size {
			t.Fatalf("batch %d: %d rows, N %d, len(X) %d", b.Index, b.Rec.NumRows(), b.N, len(b.X))
		}
		xs = append(xs, slices.Clone(b.X))
		items = append(items, slices.Clone(b.Items))
		partial = append(partial, b.Partial)
		b.Release()
	}
	return xs, items, partial
}

func TestLoaderDeterministic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, st, _ := setup(t, 32, 16)
	variants, _ := Variants("study")
	items := Items("CV", []int{0, 3, 7, 16, 22, 29}, variants)
	run := func(workers, prefetch int, cache int64) ([][]float32, [][]Item, []bool) {
		l, err := NewLoader(mem, src, st, items, LoaderOptions{Batch: 5, Workers: workers, Prefetch: prefetch, Shuffle: true, Seed: 100, CacheBytes: cache})
		if err != nil {
			t.Fatal(err)
		}
		if cache > 0 {
			collect(t, l, 2) // fills the cache
		}
		return collect(t, l, 3)
	}
	x1, it1, p1 := run(1, 1, 0)
	x4, it4, _ := run(4, 3, 0)
	if !reflect.DeepEqual(it1, it4) || !reflect.DeepEqual(x1, x4) {
		t.Fatal("batches differ between 1 and 4 workers")
	}
	// A cache, whole or partial (a budget of 3 maps), changes nothing.
	for _, budget := range []int64{1 << 20, 3 * 3 * 16 * 16 * 4} {
		xc, itc, _ := run(2, 2, budget)
		if !reflect.DeepEqual(it1, itc) || !reflect.DeepEqual(x1, xc) {
			t.Fatalf("batches differ with a cache of %d bytes", budget)
		}
	}
	if len(x1) != 8 || !p1[7] || p1[6] || len(it1[7]) != 1 {
		t.Errorf("36 items in batches of 5: %d batches, last partial %v with %d items", len(x1), p1[7], len(it1[7]))
	}
	// Another epoch is another order of the same items.
	l, _ := NewLoader(mem, src, st, items, LoaderOptions{Batch: 5, Workers: 2, Shuffle: true, Seed: 100})
	_, it2, _ := collect(t, l, 4)
	if reflect.DeepEqual(it1, it2) {
		t.Error("epochs 3 and 4 have the same order")
	}
	// Each row equals ReadNormalized of its item.
	n := 3 * 16 * 16
	for k, b := range it1 {
		for j, it := range b {
			want := make([]float32, n)
			if _, err := ReadNormalized(src, st, it.Set, int(it.Map), it.Variant, want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x1[k][j*n:(j+1)*n], want) {
				t.Fatalf("batch %d row %d (%+v) differs from ReadNormalized", k, j, it)
			}
		}
	}
}

func TestLoaderColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, st, _ := setup(t, 16, 16)
	items := []Item{{Set: "LH", Sim: 0, Map: 14, Variant: Rot90}, {Set: "CV", Sim: 1, Map: 20, Variant: Identity}}
	l, err := NewLoader(mem, src, st, items, LoaderOptions{Batch: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		shape, _ := formats.ImageShape(b.Rec.Schema(), "x")
		if !slices.Equal(shape, []int{3, 16, 16}) || !b.Partial || b.N != 2 {
			t.Errorf("shape %v partial %v N %d", shape, b.Partial, b.N)
		}
		vals, _, _ := formats.FSLFloat32(b.Rec.Column(0))
		if &vals[0] != &b.X[0] {
			t.Error("X is not the x column's buffer")
		}
		if s := b.Rec.Column(1).(*array.String).Value(0); s != "LH" {
			t.Errorf("set %q", s)
		}
		if m := b.Rec.Column(3).(*array.Int32).Value(1); m != 20 {
			t.Errorf("map %d", m)
		}
		if v := b.Rec.Column(4).(*array.Int8).Value(0); v != int8(Rot90) {
			t.Errorf("variant %d", v)
		}
		p, _ := src.Params("CV", 20)
		pv, _, _ := formats.FSLFloat32(b.Rec.Column(5))
		if pv[6] != float32(p[0]) || pv[7] != float32(p[1]) {
			t.Errorf("params %v, want %v", pv[6:12], p)
		}
		b.Release()
	}
}

func TestStats(t *testing.T) {
	src, st, _ := setup(t, 32, 16)
	// Direct float64 two-pass computation over the same 20 maps.
	n := 3 * 16 * 16
	var all [3][]float64
	buf := make([]float32, n)
	for m := 0; m < 20; m++ {
		if _, err := src.ReadTransformed("CV", m, buf); err != nil {
			t.Fatal(err)
		}
		for c := 0; c < 3; c++ {
			for _, v := range buf[c*256 : (c+1)*256] {
				all[c] = append(all[c], float64(v))
			}
		}
	}
	for c := 0; c < 3; c++ {
		var s, s2 float64
		for _, v := range all[c] {
			s += v
		}
		mean := s / float64(len(all[c]))
		for _, v := range all[c] {
			s2 += (v - mean) * (v - mean)
		}
		std := math.Sqrt(s2 / float64(len(all[c])))
		// 1e-12 relative: both are float64 sums of the same float32 values.
		if math.Abs(st.Mean[c]-mean) > 1e-12*math.Abs(mean)+1e-12 || math.Abs(st.Std[c]-std) > 1e-12*std {
			t.Errorf("channel %d: mean %g std %g, want %g %g", c, st.Mean[c], st.Std[c], mean, std)
		}
	}
	// Mgas is log10 of 10^(10.4 + 0.5 N(0,1)) averaged over 2x2 blocks: mean ~10.5, std < 0.5.
	if st.Mean[0] < 10.3 || st.Mean[0] > 10.7 || st.Std[0] > 0.5 {
		t.Errorf("Mgas stats %g %g", st.Mean[0], st.Std[0])
	}
	path := filepath.Join(t.TempDir(), "stats.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadStats(path)
	if err != nil || !reflect.DeepEqual(back, st) {
		t.Errorf("LoadStats: %v %+v", err, back)
	}
	// Normalised then back to physical is the downsampled raw map.
	x := make([]float32, n)
	raw := make([]float32, n)
	ReadNormalized(src, st, "CV", 5, Identity, x)
	src.ReadRaw("CV", 5, raw)
	st.ToPhysical(x)
	for i := range x {
		if math.Abs(float64(x[i]/raw[i]-1)) > 1e-4 {
			t.Fatalf("pixel %d: %g, want %g", i, x[i], raw[i])
		}
	}
}

// corrupt rewrites one value of map m of a field file.
func corrupt(t *testing.T, path string, m, pixel, side int, v float32) {
	t.Helper()
	r, err := formats.OpenMaps(path)
	if err != nil {
		t.Fatal(err)
	}
	n, _, _ := r.Shape()
	cube := make([]float32, n*side*side)
	for i := 0; i < n; i++ {
		r.ReadMap(i, cube[i*side*side:(i+1)*side*side])
	}
	r.Close()
	cube[m*side*side+pixel] = v
	mw, _ := formats.CreateMaps(path, n, side, side)
	for i := 0; i < n; i++ {
		mw.WriteMap(i, cube[i*side*side:(i+1)*side*side])
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoaderBadValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, st, dir := setup(t, 16, 16)
	src.Close()
	mg := formats.MapPath(dir, "Mgas", "IllustrisTNG", "CV")
	vg := formats.MapPath(dir, "Vgas", "IllustrisTNG", "CV")
	corrupt(t, mg, 7, 33, 16, 0)
	corrupt(t, vg, 9, 5, 16, float32(math.NaN()))
	cfg := testConfig(dir, 16)
	for _, tc := range []struct {
		floor       float64
		m           int
		want        string
		path, field string
		pixel       int
	}{
		{0, 7, mg + ": map 7: field Mgas: pixel 33 (row 2, col 1) = 0: not > 0 for log10", mg, "Mgas", 33},
		{0, 9, vg + ": map 9: field Vgas: pixel 5 (row 0, col 5) = NaN: not finite", vg, "Vgas", 5},
		{1e-3, 9, vg + ": map 9: field Vgas: pixel 5", vg, "Vgas", 5},
	} {
		cfg.LogFloor = tc.floor
		src, err := OpenSource(cfg)
		if err != nil {
			t.Fatal(err)
		}
		items := Items("CV", []int{0, 1, 2, 3, tc.m, 12, 13}, []Variant{Identity})
		l, err := NewLoader(mem, src, st, items, LoaderOptions{Batch: 2, Workers: 3, Prefetch: 2, Shuffle: true})
		if err != nil {
			t.Fatal(err)
		}
		var got error
		for b, err := range l.Epoch(context.Background(), 0) {
			if err != nil {
				got = err
				break
			}
			b.Release()
		}
		if got == nil || !strings.Contains(got.Error(), tc.want) || strings.Contains(got.Error(), "\n") {
			t.Errorf("floor %g map %d: error %v, want %q", tc.floor, tc.m, got, tc.want)
		}
		var de *formats.DataError
		if !errors.As(got, &de) || de.Path != tc.path || de.Map != tc.m || de.Field != tc.field || de.Pixel != tc.pixel {
			t.Errorf("floor %g map %d: %#v, want a DataError at %s map %d field %s pixel %d", tc.floor, tc.m, de, tc.path, tc.m, tc.field, tc.pixel)
		}
		src.Close()
	}
	// With a floor, the zero Mgas pixel is replaced and counted.
	cfg.LogFloor = 1e-3
	src, _ = OpenSource(cfg)
	defer src.Close()
	l, _ := NewLoader(mem, src, st, Items("CV", []int{7}, []Variant{Identity}), LoaderOptions{Batch: 1})
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		if want := float32((-3 - st.Mean[0]) / st.Std[0]); math.Abs(float64(b.X[33]-want)) > 1e-5 {
			t.Errorf("floored pixel %g, want %g", b.X[33], want)
		}
		b.Release()
	}
	if l.Floored() != 1 {
		t.Errorf("floored %d, want 1", l.Floored())
	}
}

func TestLoaderCancelAndBreak(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, st, _ := setup(t, 16, 16)
	variants, _ := Variants("d4")
	all := make([]int, 30)
	for i := range all {
		all[i] = i
	}
	l, _ := NewLoader(mem, src, st, Items("CV", all, variants), LoaderOptions{Batch: 4, Workers: 4, Prefetch: 2, Shuffle: true})
	k := 0
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
		if k++; k == 3 {
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got error
	k = 0
	for b, err := range l.Epoch(ctx, 1) {
		if err != nil {
			got = err
			break
		}
		b.Release()
		if k++; k == 2 {
			cancel()
		}
	}
	if !errors.Is(got, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", got)
	}
}

func TestSourceErrors(t *testing.T) {
	dir := t.TempDir()
	makeSet(t, dir, "CV", 1, 16, 1)
	makeSet(t, dir, "LH", 1, 16, 1)
	if _, err := OpenSource(testConfig(dir, 32)); err == nil || !strings.Contains(err.Error(), "multiple of data.size 32") {
		t.Errorf("size 32 from 16: %v", err)
	}
	if _, err := OpenSource(testConfig(dir, 16), "1P"); err == nil || !strings.Contains(err.Error(), "Maps_Mgas_IllustrisTNG_1P_z=0.00.npy") {
		t.Errorf("missing set: %v", err)
	}
	// Params with 2 rows for 15 maps.
	pp := formats.ParamsPath(dir, "LH", "IllustrisTNG")
	os.WriteFile(pp, []byte("0.3 0.8 1 1 1 1\n0.3 0.8 1 1 1 1\n"), 0o644)
	if _, err := OpenSource(testConfig(dir, 16)); err == nil || !strings.Contains(err.Error(), "has 15 maps, want 15 x 2 = 30") {
		t.Errorf("params rows: %v", err)
	}
}

// TestNormalizedReference checks the fused read path end to end against a float64
// reference built from the raw maps: log10 or asinh, (y - mean)/std and the variant, all in
// float64. The difference must stay below 1e-5 (float32 rounding of |y| <~ 10 is ~5e-7).
func TestNormalizedReference(t *testing.T) {
	for _, sides := range [][2]int{{16, 16}, {32, 16}} {
		src, st, _ := setup(t, sides[0], sides[1])
		size := src.Size
		n := size * size
		// idx[p] is the source pixel that variant v puts at p.
		all, _ := Variants("d4")
		idx := map[Variant][]float32{}
		ident := make([]float32, n)
		for i := range ident {
			ident[i] = float32(i)
		}
		for _, v := range all {
			idx[v] = make([]float32, n)
			ApplyVariant(idx[v], ident, size, v)
		}
		raw, got := make([]float32, 3*n), make([]float32, 3*n)
		ref := make([]float64, 3*n)
		var worst float64
		for _, m := range []int{0, 7, 29} {
			if err := src.ReadRaw("CV", m, raw); err != nil {
				t.Fatal(err)
			}
			for i, x := range raw {
				c := i / n
				y := math.Log10(float64(x))
				if src.Transforms[c] == Asinh {
					y = math.Asinh(float64(x))
				}
				ref[i] = (y - st.Mean[c]) / st.Std[c]
			}
			for _, v := range all {
				if _, err := ReadNormalized(src, st, "CV", m, v, got); err != nil {
					t.Fatal(err)
				}
				for i, g := range got {
					c, p := i/n, i%n
					d := math.Abs(float64(g) - ref[c*n+int(idx[v][p])])
					worst = max(worst, d)
					if d > 1e-5 {
						t.Fatalf("side %d: map %d %s channel %d pixel %d: %g, float64 reference %g", sides[0], m, v, c, p, g, ref[c*n+int(idx[v][p])])
					}
				}
			}
		}
		t.Logf("file side %d, size %d: max |normalised - float64 reference| = %.2g", sides[0], size, worst)
	}
}

// TestLoaderRecyclesX checks that released x buffers are reused (not zeroed) and that a
// reused buffer, holding the previous batch's values, still yields the same batches.
func TestLoaderRecyclesX(t *testing.T) {
	src, st, _ := setup(t, 16, 16)
	variants, _ := Variants("study")
	items := Items("CV", []int{0, 1, 2, 5, 9}, variants)
	l, err := NewLoader(memory.NewGoAllocator(), src, st, items, LoaderOptions{Batch: 4, Workers: 2, Prefetch: 2, Shuffle: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := collect(t, l, 0)
	if len(l.xbufs.free) == 0 {
		t.Fatal("no x buffer came back to the pool")
	}
	// Scribble on the pooled buffers: a batch must not depend on what they held.
	for _, b := range l.xbufs.free {
		for i := range b {
			b[i] = 0xff
		}
	}
	again, _, _ := collect(t, l, 0)
	if !reflect.DeepEqual(first, again) {
		t.Fatal("an epoch on recycled x buffers differs from the first")
	}
}
