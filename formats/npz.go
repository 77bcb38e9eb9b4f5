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
	"strconv"
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
		if err := npzWriteNPY(fw, a); err != nil {
			return fmt.Errorf("array %q: %w", n, err)
		}
	}
	return zw.Close()
}

// npzWriteNPY writes a as an .npy stream, format version 1.0 (2.0 when the header is too
// long), with the header padded so the data starts on a 64-byte boundary as numpy does.
func npzWriteNPY(w io.Writer, a Array) error {
	shape := make([]string, len(a.Shape))
	for i, s := range a.Shape {
		shape[i] = strconv.Itoa(s)
	}
	st := strings.Join(shape, ", ")
	if len(a.Shape) == 1 {
		st += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", a.DType(), st)
	pre := 10
	major := byte(1)
	if len(dict)+1+pre > math.MaxUint16 {
		pre, major = 12, 2
	}
	total := (pre + len(dict) + 1 + 63) / 64 * 64
	hdr := make([]byte, 0, total)
	hdr = append(hdr, "\x93NUMPY"...)
	hdr = append(hdr, major, 0)
	hl := total - pre
	if major == 1 {
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(hl))
	} else {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(hl))
	}
	hdr = append(hdr, dict...)
	for len(hdr) < total-1 {
		hdr = append(hdr, ' ')
	}
	hdr = append(hdr, '\n')
	if _, err := w.Write(hdr); err != nil {
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

// npzReadHeader parses an .npy header and returns an Array with a zeroed data slice of the
// right type and size, the byte order and the element size in bytes. A shape that needs more
// than limit bytes is refused before anything is allocated.
func npzReadHeader(r io.Reader, limit uint64) (Array, binary.ByteOrder, int, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return Array{}, nil, 0, fmt.Errorf("npy preamble: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return Array{}, nil, 0, fmt.Errorf("bad npy magic %q", pre[:6])
	}
	var hl int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, nil, 0, fmt.Errorf("npy header length: %w", err)
		}
		hl = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return Array{}, nil, 0, fmt.Errorf("npy header length: %w", err)
		}
		hl = int(binary.LittleEndian.Uint32(b[:]))
		if hl > 1<<24 {
			return Array{}, nil, 0, fmt.Errorf("npy header length %d too large", hl)
		}
	default:
		return Array{}, nil, 0, fmt.Errorf("unsupported npy version %d.%d", pre[6], pre[7])
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(r, hb); err != nil {
		return Array{}, nil, 0, fmt.Errorf("npy header: %w", err)
	}
	descr, fortran, shape, err := npzParseDict(string(hb))
	if err != nil {
		return Array{}, nil, 0, fmt.Errorf("npy header %q: %w", strings.TrimSpace(string(hb)), err)
	}
	if fortran {
		return Array{}, nil, 0, errors.New("fortran_order arrays are not supported")
	}
	a := Array{Shape: shape}
	n := 1
	for _, s := range shape {
		if s < 0 || (s > 0 && n > (1<<40)/s) {
			return Array{}, nil, 0, fmt.Errorf("bad shape %v", shape)
		}
		n *= s
	}
	if len(descr) != 3 {
		return Array{}, nil, 0, fmt.Errorf("unsupported dtype %q", descr)
	}
	var order binary.ByteOrder
	switch descr[0] {
	case '<', '|', '=':
		order = binary.LittleEndian
	case '>':
		order = binary.BigEndian
	default:
		return Array{}, nil, 0, fmt.Errorf("unsupported dtype %q", descr)
	}
	elem := map[string]int{"f4": 4, "f8": 8, "i8": 8, "i4": 4}[descr[1:]]
	if elem == 0 {
		return Array{}, nil, 0, fmt.Errorf("unsupported dtype %q (want f4, f8, i8 or i4)", descr)
	}
	if need := uint64(n) * uint64(elem); need > limit {
		return Array{}, nil, 0, fmt.Errorf("shape %v needs %d bytes, member holds %d", shape, need, limit)
	}
	switch descr[1:] {
	case "f4":
		a.F32 = make([]float32, n)
	case "f8":
		a.F64 = make([]float64, n)
	default:
		a.I64 = make([]int64, n)
	}
	return a, order, elem, nil
}

// npzParseDict parses the Python dict literal of an .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func npzParseDict(s string) (descr string, fortran bool, shape []int, err error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return "", false, nil, errors.New("not a dict")
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	var gotD, gotF, gotS bool
	for s != "" {
		var key string
		key, s, err = npzQuoted(s)
		if err != nil {
			return "", false, nil, err
		}
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, ":") {
			return "", false, nil, fmt.Errorf("missing ':' after %q", key)
		}
		s = strings.TrimSpace(s[1:])
		switch key {
		case "descr":
			descr, s, err = npzQuoted(s)
			if err != nil {
				return "", false, nil, err
			}
			gotD = true
		case "fortran_order":
			switch {
			case strings.HasPrefix(s, "False"):
				fortran, s = false, s[5:]
			case strings.HasPrefix(s, "True"):
				fortran, s = true, s[4:]
			default:
				return "", false, nil, errors.New("fortran_order is not True or False")
			}
			gotF = true
		case "shape":
			end := strings.IndexByte(s, ')')
			if !strings.HasPrefix(s, "(") || end < 0 {
				return "", false, nil, errors.New("shape is not a tuple")
			}
			shape = []int{}
			for _, f := range strings.Split(s[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				f = strings.TrimSuffix(f, "L")
				v, perr := strconv.Atoi(f)
				if perr != nil {
					return "", false, nil, fmt.Errorf("shape: %w", perr)
				}
				shape = append(shape, v)
			}
			s = s[end+1:]
			gotS = true
		default:
			return "", false, nil, fmt.Errorf("unknown key %q", key)
		}
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, ",") {
			s = strings.TrimSpace(s[1:])
		} else if s != "" {
			return "", false, nil, errors.New("missing ',' between entries")
		}
	}
	if !gotD || !gotF || !gotS {
		return "", false, nil, errors.New("needs descr, fortran_order and shape")
	}
	return descr, fortran, shape, nil
}

// npzQuoted cuts a single- or double-quoted string from the start of s.
func npzQuoted(s string) (string, string, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", s, errors.New("expected a quoted string")
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, errors.New("unterminated string")
	}
	return s[1 : 1+end], s[2+end:], nil
}
