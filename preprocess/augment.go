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
