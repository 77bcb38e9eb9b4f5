package preprocess

import "fmt"

// Variant is an element of the dihedral group D4 acting on a square map.
type Variant int8

// The eight D4 variants. Rotations are counter-clockwise (numpy.rot90 with k = 1, 2, 3);
// FlipH mirrors left-right (numpy.fliplr), FlipV up-down (numpy.flipud); Transpose and
// AntiTranspose complete the group for "d4".
const (
	Identity Variant = iota
	Rot90
	Rot180
	Rot270
	FlipH
	FlipV
	Transpose
	AntiTranspose
)

var variantNames = [...]string{"identity", "rot90", "rot180", "rot270", "flipH", "flipV", "transpose", "antitranspose"}

func (v Variant) String() string {
	if v >= 0 && int(v) < len(variantNames) {
		return variantNames[v]
	}
	return fmt.Sprintf("Variant(%d)", int8(v))
}

// Variants lists the variants of an augmentation mode: "none" (identity), "study" (identity,
// the three rotations and the two flips: the study's 6 per map) or "d4" (all 8).
func Variants(mode string) ([]Variant, error) {
	switch mode {
	case "none", "":
		return []Variant{Identity}, nil
	case "study":
		return []Variant{Identity, Rot90, Rot180, Rot270, FlipH, FlipV}, nil
	case "d4":
		return []Variant{Identity, Rot90, Rot180, Rot270, FlipH, FlipV, Transpose, AntiTranspose}, nil
	}
	return nil, fmt.Errorf("preprocess: augment %q, want none, study or d4", mode)
}

// ApplyVariant writes variant v of the n x n map src into dst (no aliasing). Output pixel
// (i, j) takes the source pixel given by the variant's inverse map.
func ApplyVariant(dst, src []float32, n int, v Variant) {
	if len(src) != n*n || len(dst) != n*n {
		panic(fmt.Sprintf("preprocess: ApplyVariant with len(src)=%d len(dst)=%d, want %d", len(src), len(dst), n*n))
	}
	switch v {
	case Identity:
		copy(dst, src)
	case Rot90: // out[i][j] = in[j][n-1-i]
		for i := 0; i < n; i++ {
			row := dst[i*n : i*n+n]
			c := n - 1 - i
			for j := range row {
				row[j] = src[j*n+c]
			}
		}
	case Rot180: // out[i][j] = in[n-1-i][n-1-j]
		for i := 0; i < n; i++ {
			row := dst[i*n : i*n+n]
			s := src[(n-1-i)*n : (n-i)*n]
			for j := range row {
				row[j] = s[n-1-j]
			}
		}
	case Rot270: // out[i][j] = in[n-1-j][i]
		for i := 0; i < n; i++ {
			row := dst[i*n : i*n+n]
			for j := range row {
				row[j] = src[(n-1-j)*n+i]
			}
		}
	case FlipH: // out[i][j] = in[i][n-1-j]
		for i := 0; i < n; i++ {
			row := dst[i*n : i*n+n]
			s := src[i*n : i*n+n]
			for j := range row {
				row[j] = s[n-1-j]
			}
		}
	case FlipV: // out[i][j] = in[n-1-i][j]
		for i := 0; i < n; i++ {
			copy(dst[i*n:i*n+n], src[(n-1-i)*n:(n-i)*n])
		}
	case Transpose: // out[i][j] = in[j][i]
		for i := 0; i < n; i++ {
			row := dst[i*n : i*n+n]
			for j := range row {
				row[j] = src[j*n+i]
			}
		}
	case AntiTranspose: // out[i][j] = in[n-1-j][n-1-i]
		for i := 0; i < n; i++ {
			row := dst[i*n : i*n+n]
			c := n - 1 - i
			for j := range row {
				row[j] = src[(n-1-j)*n+c]
			}
		}
	default:
		panic(fmt.Sprintf("preprocess: unknown variant %d", v))
	}
}

// placement says where variant v puts source row r of an n x n map: source pixel (r, c)
// lands at dst[base + c*step]. It is ApplyVariant's inverse map read row by row.
func placement(v Variant, n, r int) (base, step int) {
	switch v {
	case Identity:
		return r * n, 1
	case FlipV:
		return (n - 1 - r) * n, 1
	case FlipH:
		return r*n + n - 1, -1
	case Rot180:
		return (n-1-r)*n + n - 1, -1
	case Rot90:
		return (n-1)*n + r, -n
	case Rot270:
		return n - 1 - r, n
	case Transpose:
		return r, n
	case AntiTranspose:
		return (n-1)*n + n - 1 - r, -n
	}
	panic(fmt.Sprintf("preprocess: unknown variant %d", v))
}

// Column variants (rotations by 90 and 270 degrees, the transposes) turn source columns
// into destination rows. Writing columns of the (uncached, 12 MiB) batch strides by a row
// per value and costs a cache miss per store; so affineVariant instead gathers tileRows
// source columns into a tile (reading the small, cache-resident source map) and writes each
// destination row in one sequential pass. Tile rows are padded by tilePad values so that
// the gather's strided stores do not all map to the same few L1 sets.
const (
	tileRows = 16
	tilePad  = 16
)

// tileLen is the scratch affineVariant needs for n x n maps.
func tileLen(n int) int { return tileRows * (n + tilePad) }

// columnSource says, for a column variant, which source column feeds destination row i
// (col = c0 + i*dc) and whether its values run down (+1) or up (-1) the source rows.
func columnSource(v Variant, n int) (c0, dc, dir int) {
	switch v {
	case Rot90: // out[i][j] = in[j][n-1-i]
		return n - 1, -1, 1
	case Rot270: // out[i][j] = in[n-1-j][i]
		return 0, 1, -1
	case Transpose: // out[i][j] = in[j][i]
		return 0, 1, 1
	case AntiTranspose: // out[i][j] = in[n-1-j][n-1-i]
		return n - 1, -1, -1
	}
	panic(fmt.Sprintf("preprocess: %s is not a column variant", v))
}

// affineVariant writes variant v of t(src)*a + b (n x n maps) into dst: transform, z-score
// and augmentation in one pass, without a full-size temporary, writing dst sequentially.
// Variants that keep rows as rows go row by row (reversed through tile where needed);
// column variants gather through tile (len >= tileLen(n)), see tileRows. A bad value is
// reported as affine would on src: the first in row-major order.
func (t Transform) affineVariant(dst, src, tile []float32, n int, v Variant, floor, a, b float64) (floored int, bad *badValue) {
	if len(src) != n*n || len(dst) != n*n || len(tile) < tileLen(n) {
		panic(fmt.Sprintf("preprocess: affineVariant with len(src)=%d len(dst)=%d len(tile)=%d, want %d, %d, >= %d",
			len(src), len(dst), len(tile), n*n, n*n, tileLen(n)))
	}
	var k rowKernel
	k.init(t, floor, a, b)
	if _, step := placement(v, n, 0); step == 1 || step == -1 {
		row := tile[:n]
		for r := 0; r < n; r++ {
			base, step := placement(v, n, r)
			out := row
			if step == 1 {
				out = dst[base : base+n]
			}
			f, bv := k.apply(out, src[r*n:r*n+n])
			floored += f
			if bv != nil {
				bv.pixel += r * n
				return floored, bv
			}
			if step == -1 {
				reverseInto(dst[base-n+1:base+1], row)
			}
		}
		return floored, nil
	}
	c0, dc, dir := columnSource(v, n)
	ts := n + tilePad
	for i0 := 0; i0 < n; i0 += tileRows {
		rows := min(tileRows, n-i0)
		// Tile row ii holds source column c0 + (i0+ii)*dc in destination order. The columns
		// of a block are contiguous in each source row: lo .. lo+rows-1.
		lo := c0 + i0*dc
		if dc < 0 {
			lo -= rows - 1
		}
		gatherColumns(tile, src, n, lo, rows, dc, dir)
		for ii := 0; ii < rows; ii++ {
			i := i0 + ii
			f, bv := k.apply(dst[i*n:i*n+n], tile[ii*ts:ii*ts+n])
			floored += f
			if bv != nil {
				return k.firstBad(src, n)
			}
		}
	}
	return floored, nil
}

// reverseInto writes d[len(d)-1-j] = row[j].
func reverseInto(d, row []float32) {
	n := len(row)
	d = d[:n]
	j0 := 0
	if useAVX2 && n >= 8 {
		j0 = n &^ 7
		reverseAVX2(&d[n-j0], &row[0], j0)
	}
	for j := j0; j < n; j++ {
		d[n-1-j] = row[j]
	}
}

// gatherColumns fills tile row ii (stride n + tilePad) with source column lo + ii (dc > 0)
// or lo + rows-1-ii (dc < 0) of the n x n map src, running down the source rows (dir > 0)
// or up them (dir < 0). With AVX2 and n a multiple of 8 it moves 8x8 blocks through
// registers; otherwise it stores one value at a time, striding across the tile rows.
func gatherColumns(tile, src []float32, n, lo, rows, dc, dir int) {
	ts := n + tilePad
	_ = tile[(rows-1)*ts+n-1]
	_ = src[(n-1)*n+lo+rows-1]
	if useAVX2 && n%8 == 0 && rows%8 == 0 {
		for sub := 0; sub < rows; sub += 8 {
			// Tile rows for source columns c .. c+7, and the step between them.
			c, row0, ds := lo+sub, sub, ts
			if dc < 0 {
				row0, ds = rows-1-sub, -ts
			}
			for r := 0; r < n; r += 8 {
				if dir > 0 { // source row r+p goes to tile column r+p
					transpose8AVX2(&tile[row0*ts+r], ds, &src[r*n+c], n)
				} else { // source row r+7-p goes to tile column n-8-r+p
					transpose8AVX2(&tile[row0*ts+n-8-r], ds, &src[(r+7)*n+c], -n)
				}
			}
		}
		return
	}
	for r := 0; r < n; r++ {
		j := r
		if dir < 0 {
			j = n - 1 - r
		}
		seg := src[r*n+lo : r*n+lo+rows]
		if dc > 0 {
			for ii, x := range seg {
				tile[ii*ts+j] = x
			}
		} else {
			for ii, x := range seg {
				tile[(rows-1-ii)*ts+j] = x
			}
		}
	}
}

// firstBad rescans src row by row for the first value k refuses, to report it (and the
// floored count before it) as affine would.
func (k *rowKernel) firstBad(src []float32, n int) (floored int, bad *badValue) {
	row := make([]float32, n)
	for r := 0; r < n; r++ {
		f, bv := k.apply(row, src[r*n:r*n+n])
		floored += f
		if bv != nil {
			bv.pixel += r * n
			return floored, bv
		}
	}
	panic("preprocess: a bad value seen in a column pass is not found in rows")
}
