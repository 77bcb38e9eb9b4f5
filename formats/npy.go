package formats

// The one .npy codec: the header that CMD cubes (maps.go), .npz members (npz.go) and .npy
// outputs are read and written with.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npy"
)

// maxHeaderLen bounds the .npy header we accept; numpy writes ~128 bytes, so anything
// larger is a damaged or hostile file and must not trigger a huge allocation.
const maxHeaderLen = 1 << 16

// NpyHeader is the part of a .npy header the CMD reader needs.
type NpyHeader struct {
	Descr   string // e.g. "<f4"
	Fortran bool
	Shape   []int
	// DataOffset is the byte offset of the first element.
	DataOffset int64
}

// ParseNpyHeader parses the preamble and header dictionary of a .npy stream. The dictionary
// is parsed by npyio; the preamble is checked here first so that a damaged length field
// cannot cause a huge allocation, and npyio's parser is guarded against panics.
func ParseNpyHeader(r io.Reader) (NpyHeader, error) {
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:10]); err != nil {
		return NpyHeader{}, fmt.Errorf("npy preamble: want 10 bytes: %w", noEOF(err))
	}
	if !bytes.Equal(pre[:6], npy.Magic[:]) {
		return NpyHeader{}, fmt.Errorf("not a .npy file: magic %q, want %q", pre[:6], npy.Magic[:])
	}
	var hlen, plen int
	switch pre[6] {
	case 1:
		hlen, plen = int(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		if _, err := io.ReadFull(r, pre[10:12]); err != nil {
			return NpyHeader{}, fmt.Errorf("npy preamble: want 12 bytes: %w", noEOF(err))
		}
		hlen, plen = int(binary.LittleEndian.Uint32(pre[8:12])), 12
	default:
		return NpyHeader{}, fmt.Errorf("npy version %d.%d unsupported, want 1.x, 2.x or 3.x", pre[6], pre[7])
	}
	if hlen <= 0 || hlen > maxHeaderLen {
		return NpyHeader{}, fmt.Errorf("npy header length %d, want 1..%d", hlen, maxHeaderLen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return NpyHeader{}, fmt.Errorf("npy header: want %d bytes: %w", hlen, noEOF(err))
	}
	// npyio slices the dictionary by key positions and trusts what it finds; insist on the
	// layout numpy writes, guard its parser against panics and cross-check its result.
	s := string(hdr)
	m := npyDictRE.FindStringSubmatch(s)
	if m == nil {
		return NpyHeader{}, fmt.Errorf("npy header dictionary %q: want {'descr': '<f4', 'fortran_order': False, 'shape': (N, H, W), }", trimHeader(s))
	}
	full := append(append([]byte{}, pre[:plen]...), hdr...)
	rr, err := safeNpyReader(full)
	if err != nil {
		return NpyHeader{}, fmt.Errorf("npy header %q: %w", trimHeader(s), err)
	}
	h := NpyHeader{
		Descr:      strings.Trim(rr.Header.Descr.Type, "'\""),
		Fortran:    rr.Header.Descr.Fortran,
		Shape:      rr.Header.Descr.Shape,
		DataOffset: int64(plen + hlen),
	}
	dims := []int{} // () is a scalar, not a missing shape
	for tok := range strings.SplitSeq(m[3], ",") {
		if tok = strings.TrimSpace(tok); tok == "" {
			continue
		}
		d, err := strconv.Atoi(tok)
		if err != nil || d < 0 {
			return NpyHeader{}, fmt.Errorf("npy header shape (%s): dimension %q is not a non-negative integer", m[3], tok)
		}
		dims = append(dims, d)
	}
	if h.Descr != m[1] || h.Fortran != (m[2] == "True") || !slices.Equal(h.Shape, dims) {
		return NpyHeader{}, fmt.Errorf("npy header %q: inconsistent parse (descr %q, shape %v)", trimHeader(s), h.Descr, h.Shape)
	}
	h.Shape = dims
	return h, nil
}

// npyDictRE is the dictionary numpy writes: keys in this order, then padding and a newline.
var npyDictRE = regexp.MustCompile(`^\{'descr': '([^']*)', 'fortran_order': (True|False), 'shape': \(([0-9, ]*)\), \} *\n$`)

func safeNpyReader(b []byte) (rr *npy.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			rr, err = nil, fmt.Errorf("malformed header (%v)", p)
		}
	}()
	return npy.NewReader(bytes.NewReader(b))
}

func trimHeader(s string) string {
	s = strings.TrimRight(s, " \n")
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// NpyHeaderBytes is the .npy header of a C-order float32 array of the given shape.
func NpyHeaderBytes(shape ...int) []byte { return npyHeader("<f4", shape) }

// npyHeader is the .npy header numpy writes for an array of type descr and the given shape:
// format 1.0 (2.0 when the dictionary is too long for it), padded with spaces so that the
// data starts on a 64-byte boundary.
func npyHeader(descr string, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	st := strings.Join(dims, ", ")
	if len(shape) == 1 {
		st += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, st)
	pre, major := 10, byte(1)
	if len(dict)+1+pre > math.MaxUint16 {
		pre, major = 12, 2
	}
	total := (pre + len(dict) + 1 + 63) / 64 * 64
	hdr := make([]byte, 0, total)
	hdr = append(hdr, npy.Magic[:]...)
	hdr = append(hdr, major, 0)
	if major == 1 {
		hdr = binary.LittleEndian.AppendUint16(hdr, uint16(total-pre))
	} else {
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(total-pre))
	}
	hdr = append(hdr, dict...)
	hdr = append(hdr, bytes.Repeat([]byte{' '}, total-1-len(hdr))...)
	return append(hdr, '\n')
}

// layout returns the byte order and element size of the header's type ("<f4", ">f8", "|i8"...).
func (h NpyHeader) layout() (binary.ByteOrder, int, error) {
	d := h.Descr
	var order binary.ByteOrder
	if len(d) == 3 {
		switch d[0] {
		case '<', '|', '=':
			order = binary.LittleEndian
		case '>':
			order = binary.BigEndian
		}
	}
	elem := map[string]int{"f4": 4, "f8": 8, "i8": 8, "i4": 4}[strings.TrimLeft(d, "<>|=")]
	if order == nil || elem == 0 {
		return nil, 0, fmt.Errorf("unsupported dtype %q (want f4, f8, i8 or i4)", d)
	}
	return order, elem, nil
}

// WriteNPY writes a float32 array of the given shape (C order) as a .npy file that
// numpy.load reads, atomically.
func WriteNPY(path string, data []float32, shape ...int) error {
	s, err := StageNPY(path, data, shape...)
	if err != nil {
		return err
	}
	return s.Commit()
}

// StageNPY is WriteNPY up to the rename (see Stage).
func StageNPY(path string, data []float32, shape ...int) (*Staged, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return nil, fmt.Errorf("formats: %s: shape %v holds %d values, got %d", path, shape, n, len(data))
	}
	return Stage(path, func(w io.Writer) error { return writeNPY(w, F32Array(data, shape...)) })
}
