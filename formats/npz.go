package formats

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Array is one named n-dimensional array of an .npz archive, in C (row-major) order.
// Exactly one of F32, F64 and I64 holds the data, and its length is the product of Shape
// (an empty Shape is a scalar holding one element).
type Array struct {
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
}

// F32Array returns an Array over data (not copied) with the given shape.
func F32Array(data []float32, shape ...int) Array { return Array{Shape: shape, F32: data} }

// F64Array returns an Array over data (not copied) with the given shape.
func F64Array(data []float64, shape ...int) Array { return Array{Shape: shape, F64: data} }

// I64Array returns an Array over data (not copied) with the given shape.
func I64Array(data []int64, shape ...int) Array { return Array{Shape: shape, I64: data} }

// DType is the numpy type string of a's data: "<f4", "<f8" or "<i8"; "" when a holds no data
// slice or more than one.
func (a Array) DType() string {
	var d string
	n := 0
	if a.F32 != nil {
		d, n = "<f4", n+1
	}
	if a.F64 != nil {
		d, n = "<f8", n+1
	}
	if a.I64 != nil {
		d, n = "<i8", n+1
	}
	if n != 1 {
		return ""
	}
	return d
}

// Size is the number of elements that Shape implies.
func (a Array) Size() int {
	n := 1
	for _, s := range a.Shape {
		n *= s
	}
	return n
}

func (a Array) dataLen() int {
	switch {
	case a.F32 != nil:
		return len(a.F32)
	case a.F64 != nil:
		return len(a.F64)
	default:
		return len(a.I64)
	}
}

// npzEpoch is the fixed modification time of every member, so that equal arrays give equal
// bytes (zip cannot store times before 1980).
var npzEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteNPZ writes arrays to path as an uncompressed .npz archive (what numpy.savez writes),
// one member "<name>.npy" per name in the order of names; a nil names writes every array in
// sorted name order. The file is replaced atomically (WriteFileAtomic), and the bytes depend
// only on the arrays, never on the clock.
func WriteNPZ(path string, names []string, arrays map[string]Array) error {
	if names == nil {
		for k := range arrays {
			names = append(names, k)
		}
		sort.Strings(names)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		a, ok := arrays[n]
		switch {
		case n == "":
			return fmt.Errorf("formats: write %s: empty array name", path)
		case seen[n]:
			return fmt.Errorf("formats: write %s: array %q named twice", path, n)
		case !ok:
			return fmt.Errorf("formats: write %s: array %q not in the map", path, n)
		}
		seen[n] = true
		if err := a.check(); err != nil {
			return fmt.Errorf("formats: write %s: array %q: %w", path, n, err)
		}
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		return EncodeNPZ(w, names, arrays)
	})
}

func (a Array) check() error {
	if a.DType() == "" {
		return errors.New("exactly one of F32, F64, I64 must be set")
	}
	for _, s := range a.Shape {
		if s < 0 {
			return fmt.Errorf("negative dimension in shape %v", a.Shape)
		}
	}
	if a.Size() != a.dataLen() {
		return fmt.Errorf("shape %v needs %d elements, data has %d", a.Shape, a.Size(), a.dataLen())
	}
	return nil
}

// EncodeNPZ writes the .npz bytes of the named arrays to w (see WriteNPZ, which checks the
// arrays first and should be preferred for files).
func EncodeNPZ(w io.Writer, names []string, arrays map[string]Array) error {
	zw := zip.NewWriter(w)
	for _, n := range names {
		a := arrays[n]
		if err := a.check(); err != nil {
			return fmt.Errorf("array %q: %w", n, err)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: n + ".npy", Method: zip.Store, Modified: npzEpoch})
		if err != nil {
			return fmt.Errorf("array %q: %w", n, err)
		}
		if err := writeNPY(fw, a); err != nil {
			return fmt.Errorf("array %q: %w", n, err)
		}
	}
	return zw.Close()
}

// writeNPY writes a as an .npy stream (npyHeader, then the data).
func writeNPY(w io.Writer, a Array) error {
	if _, err := w.Write(npyHeader(a.DType(), a.Shape)); err != nil {
		return err
	}
	// Encode in chunks: one Write per 64 KiB rather than per element.
	const chunk = 8192
	buf := make([]byte, 0, chunk*8)
	flush := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	n := a.dataLen()
	for i := 0; i < n; i++ {
		switch {
		case a.F32 != nil:
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(a.F32[i]))
		case a.F64 != nil:
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(a.F64[i]))
		default:
			buf = binary.LittleEndian.AppendUint64(buf, uint64(a.I64[i]))
		}
		if len(buf) == cap(buf) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// ReadNPZ reads every array of the .npz archive at path (stored or deflated members, as
// numpy.savez and numpy.savez_compressed write them). Supported member types: float32,
// float64 and int64 in either byte order, C order; int32 is widened to I64. Any damage gives
// a one-line error naming the file and the member.
func ReadNPZ(path string) (map[string]Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("formats: read %s: %w", path, err)
	}
	defer zr.Close()
	out := make(map[string]Array, len(zr.File))
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			return nil, fmt.Errorf("formats: read %s: member %q: not an .npy member", path, f.Name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("formats: read %s: member %q: appears twice", path, f.Name)
		}
		a, err := npzReadMember(f)
		if err != nil {
			return nil, fmt.Errorf("formats: read %s: member %q: %w", path, f.Name, err)
		}
		out[name] = a
	}
	return out, nil
}

func npzReadMember(f *zip.File) (Array, error) {
	rc, err := f.Open()
	if err != nil {
		return Array{}, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<16)
	a, order, elem, err := npzReadHeader(br, f.UncompressedSize64)
	if err != nil {
		return Array{}, err
	}
	n := a.Size()
	// Decode in chunks of whole elements.
	buf := make([]byte, 8192*elem)
	for i := 0; i < n; {
		m := min(n-i, 8192)
		if _, err := io.ReadFull(br, buf[:m*elem]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Array{}, fmt.Errorf("data for shape %v: %w", a.Shape, err)
		}
		for j := 0; j < m; j++ {
			b := buf[j*elem : (j+1)*elem]
			switch {
			case a.F32 != nil:
				a.F32[i+j] = math.Float32frombits(order.Uint32(b))
			case a.F64 != nil:
				a.F64[i+j] = math.Float64frombits(order.Uint64(b))
			case elem == 4:
				a.I64[i+j] = int64(int32(order.Uint32(b)))
			default:
				a.I64[i+j] = int64(order.Uint64(b))
			}
		}
		i += m
	}
	// Reading to the end makes archive/zip verify the CRC-32.
	if extra, err := io.Copy(io.Discard, br); err != nil {
		return Array{}, err
	} else if extra != 0 {
		return Array{}, fmt.Errorf("%d bytes after the data for shape %v", extra, a.Shape)
	}
	return a, nil
}

// npzReadHeader parses an .npy header (ParseNpyHeader) and returns an Array with a zeroed
// data slice of the right type and size, the byte order and the element size in bytes. A
// shape that needs more than limit bytes is refused before anything is allocated.
func npzReadHeader(r io.Reader, limit uint64) (Array, binary.ByteOrder, int, error) {
	h, err := ParseNpyHeader(r)
	if err != nil {
		return Array{}, nil, 0, err
	}
	if h.Fortran {
		return Array{}, nil, 0, errors.New("fortran_order arrays are not supported")
	}
	order, elem, err := h.layout()
	if err != nil {
		return Array{}, nil, 0, err
	}
	a := Array{Shape: h.Shape}
	n := 1
	for _, s := range h.Shape {
		if s < 0 || (s > 0 && n > (1<<40)/s) {
			return Array{}, nil, 0, fmt.Errorf("bad shape %v", h.Shape)
		}
		n *= s
	}
	if need := uint64(n) * uint64(elem); need > limit {
		return Array{}, nil, 0, fmt.Errorf("shape %v needs %d bytes, member holds %d", h.Shape, need, limit)
	}
	switch strings.TrimLeft(h.Descr, "<>|=") {
	case "f4":
		a.F32 = make([]float32, n)
	case "f8":
		a.F64 = make([]float64, n)
	default:
		a.I64 = make([]int64, n)
	}
	return a, order, elem, nil
}
