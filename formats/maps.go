package formats

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"unsafe"
)

// MapsPerSim is how many maps CMD cuts from each simulation (3 axes x 5 slabs).
const MapsPerSim = 15

// MapPath is the CMD file name of one field of a set, e.g.
// Maps_Mgas_IllustrisTNG_LH_z=0.00.npy.
func MapPath(dir, field, suite, set string) string {
	return filepath.Join(dir, fmt.Sprintf("Maps_%s_%s_%s_z=0.00.npy", field, suite, set))
}

// ParamsPath is the CMD parameter table of a set, e.g. params_LH_IllustrisTNG.txt.
func ParamsPath(dir, set, suite string) string {
	return filepath.Join(dir, fmt.Sprintf("params_%s_%s.txt", set, suite))
}

// MapReader reads single maps of a CMD cube (N, H, W) by file offset, so a 3.9 GB LH file
// is never loaded whole. ReadMap is safe for concurrent use: it only calls ReadAt.
type MapReader struct {
	f      *os.File
	path   string
	n, h   int
	w      int
	dtype  string // "f4" or "f8"
	order  binary.ByteOrder
	offset int64 // byte offset of map 0
	bufs   sync.Pool
}

// OpenMaps opens a CMD cube: a C-order (N, H, W) array of float32 or float64. It checks
// the header and that the file holds all N maps; a short, 2-D or wrongly typed file is an
// error naming the file and what was expected.
func OpenMaps(path string) (*MapReader, error) {
	if err := CheckRegular(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("formats: open maps: %w", err)
	}
	r, err := newMapReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// CheckRegular refuses a path that is not a regular file (after symlinks) before it is
// opened: opening a FIFO blocks until a writer appears, and a directory or device is not
// data. A missing file is left to the open that follows, for its usual error.
func CheckRegular(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil
	}
	what := "not a regular file"
	switch t := fi.Mode().Type(); {
	case t&os.ModeDir != 0:
		what = "a directory"
	case t&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case t&os.ModeSocket != 0:
		what = "a socket"
	case t&os.ModeCharDevice != 0:
		what = "a character device"
	case t&os.ModeDevice != 0:
		what = "a block device"
	}
	return fmt.Errorf("formats: %s is %s, want a regular file", path, what)
}

func newMapReader(f *os.File, path string) (*MapReader, error) {
	h, err := ParseNpyHeader(io.NewSectionReader(f, 0, 12+maxHeaderLen))
	if err != nil {
		return nil, fmt.Errorf("formats: %w", fileError(path, "%v", err))
	}
	r := &MapReader{f: f, path: path, offset: h.DataOffset}
	switch h.Descr {
	case "<f4", "|f4", "=f4":
		r.dtype, r.order = "f4", binary.LittleEndian
	case ">f4":
		r.dtype, r.order = "f4", binary.BigEndian
	case "<f8", "=f8":
		r.dtype, r.order = "f8", binary.LittleEndian
	case ">f8":
		r.dtype, r.order = "f8", binary.BigEndian
	default:
		return nil, fmt.Errorf("formats: %w", fileError(path, "dtype %q, want float32 ('<f4') or float64 ('<f8')", h.Descr))
	}
	if h.Fortran {
		return nil, fmt.Errorf("formats: %w", fileError(path, "Fortran-order array, want C order"))
	}
	if len(h.Shape) != 3 {
		return nil, fmt.Errorf("formats: %w", fileError(path, "shape %v is %d-D, want 3-D (N, H, W)", h.Shape, len(h.Shape)))
	}
	r.n, r.h, r.w = h.Shape[0], h.Shape[1], h.Shape[2]
	if r.h <= 0 || r.w <= 0 {
		return nil, fmt.Errorf("formats: %w", fileError(path, "shape %v has an empty map, want H, W > 0", h.Shape))
	}
	if r.n > 0 && (r.h > math.MaxInt32/r.w || int64(r.n) > math.MaxInt64/int64(r.h*r.w*8)) {
		return nil, fmt.Errorf("formats: %w", fileError(path, "shape %v too large", h.Shape))
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("formats: %s: %w", path, err)
	}
	want := r.offset + int64(r.n)*r.mapBytes()
	if fi.Size() < want {
		return nil, fmt.Errorf("formats: %w", fileError(path, "truncated: %d bytes, want %d for shape %v %s (%d complete maps)",
			fi.Size(), want, h.Shape, h.Descr, max(0, (fi.Size()-r.offset)/r.mapBytes())))
	}
	return r, nil
}

func (r *MapReader) itemSize() int64 {
	if r.dtype == "f8" {
		return 8
	}
	return 4
}

func (r *MapReader) mapBytes() int64 { return int64(r.h) * int64(r.w) * r.itemSize() }

// Path is the file the reader was opened on.
func (r *MapReader) Path() string { return r.path }

// Len is the number of maps N.
func (r *MapReader) Len() int { return r.n }

// Shape returns (N, H, W).
func (r *MapReader) Shape() (n, h, w int) { return r.n, r.h, r.w }

// Dtype is "f4" or "f8", the element type on disk.
func (r *MapReader) Dtype() string { return r.dtype }

// Close closes the file.
func (r *MapReader) Close() error { return r.f.Close() }

// ReadMap reads map i into dst (len H*W), converting to float32. It reads only that map's
// bytes at its offset and is safe to call from many goroutines at once.
func (r *MapReader) ReadMap(i int, dst []float32) error {
	if i < 0 || i >= r.n {
		return fmt.Errorf("formats: %s: map %d out of range [0, %d)", r.path, i, r.n)
	}
	if len(dst) != r.h*r.w {
		return fmt.Errorf("formats: %s: map %d: dst has %d elements, want %d (%dx%d)", r.path, i, len(dst), r.h*r.w, r.h, r.w)
	}
	off := r.offset + int64(i)*r.mapBytes()
	if r.dtype == "f4" && r.order == binary.LittleEndian && nativeLittle {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(dst)*4)
		if _, err := r.f.ReadAt(b, off); err != nil {
			return fmt.Errorf("formats: %s: map %d at offset %d: %w", r.path, i, off, noEOF(err))
		}
		return nil
	}
	bp, _ := r.bufs.Get().(*[]byte)
	if bp == nil || len(*bp) != int(r.mapBytes()) {
		b := make([]byte, r.mapBytes())
		bp = &b
	}
	defer r.bufs.Put(bp)
	b := *bp
	if _, err := r.f.ReadAt(b, off); err != nil {
		return fmt.Errorf("formats: %s: map %d at offset %d: %w", r.path, i, off, noEOF(err))
	}
	if r.dtype == "f4" {
		for j := range dst {
			dst[j] = math.Float32frombits(r.order.Uint32(b[4*j:]))
		}
		return nil
	}
	for j := range dst {
		dst[j] = float32(math.Float64frombits(r.order.Uint64(b[8*j:])))
	}
	return nil
}

var nativeLittle = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// MapSet is the channel files of one CMD set, one per field.
type MapSet struct {
	Set, Suite string
	// Names are the fields and Fields their readers, in channel order.
	Names  []string
	Fields []*MapReader
}

// OpenSet opens Maps_{field}_{suite}_{set}_z=0.00.npy in dir for each field and checks that
// the files agree on N, H and W.
func OpenSet(dir, suite, set string, fields []string) (*MapSet, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("formats: set %s: no fields to open", set)
	}
	s := &MapSet{Set: set, Suite: suite, Names: slices.Clone(fields), Fields: make([]*MapReader, len(fields))}
	for c, field := range fields {
		r, err := OpenMaps(MapPath(dir, field, suite, set))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Fields[c] = r
	}
	n0, h0, w0 := s.Fields[0].Shape()
	for _, r := range s.Fields[1:] {
		if n, h, w := r.Shape(); n != n0 || h != h0 || w != w0 {
			err := fmt.Errorf("formats: set %s: %s has shape (%d, %d, %d), want (%d, %d, %d) as in %s",
				set, r.Path(), n, h, w, n0, h0, w0, s.Fields[0].Path())
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Len is the number of maps in each channel file.
func (s *MapSet) Len() int { return s.Fields[0].Len() }

// Side returns the map height and width.
func (s *MapSet) Side() (h, w int) { _, h, w = s.Fields[0].Shape(); return h, w }

// Close closes the files that are open.
func (s *MapSet) Close() error {
	var errs []error
	for i, r := range s.Fields {
		if r != nil {
			errs = append(errs, r.Close())
			s.Fields[i] = nil
		}
	}
	return errors.Join(errs...)
}

// MapWriter writes a float32 CMD cube (N, H, W). Maps may be written in any order and from
// many goroutines (WriteAt into a pre-sized temporary file); Close checks that every map
// was written, syncs and renames the file into place, so a reader never sees a partial cube.
type MapWriter struct {
	f       *os.File
	path    string
	n, h, w int
	offset  int64
	mu      sync.Mutex
	written []bool
	count   int
	done    bool
}

// CreateMaps starts a cube of n maps of h x w float32 at path (written on Close).
func CreateMaps(path string, n, h, w int) (*MapWriter, error) {
	if n < 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("formats: create %s: shape (%d, %d, %d), want N >= 0, H, W > 0", path, n, h, w)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPattern(base))
	if err != nil {
		return nil, fmt.Errorf("formats: create %s: %w", path, err)
	}
	hdr := NpyHeaderBytes(n, h, w)
	mw := &MapWriter{f: f, path: path, n: n, h: h, w: w, offset: int64(len(hdr)), written: make([]bool, n)}
	if _, err = f.Write(hdr); err == nil {
		err = f.Truncate(mw.offset + int64(n)*int64(h*w*4))
	}
	if err != nil {
		mw.Abort()
		return nil, fmt.Errorf("formats: create %s: %w", path, err)
	}
	return mw, nil
}

// WriteMap writes map i (len H*W). Safe for concurrent use with distinct or equal i.
func (mw *MapWriter) WriteMap(i int, m []float32) error {
	if i < 0 || i >= mw.n {
		return fmt.Errorf("formats: write %s: map %d out of range [0, %d)", mw.path, i, mw.n)
	}
	if len(m) != mw.h*mw.w {
		return fmt.Errorf("formats: write %s: map %d has %d values, want %d", mw.path, i, len(m), mw.h*mw.w)
	}
	b := make([]byte, 4*len(m))
	for j, v := range m {
		binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
	}
	if _, err := mw.f.WriteAt(b, mw.offset+int64(i)*int64(len(b))); err != nil {
		return fmt.Errorf("formats: write %s: map %d: %w", mw.path, i, err)
	}
	mw.mu.Lock()
	if !mw.written[i] {
		mw.written[i] = true
		mw.count++
	}
	mw.mu.Unlock()
	return nil
}

// Close finishes the cube: every map must have been written; the temporary file is synced
// and renamed to the final path. On error the temporary file is removed.
func (mw *MapWriter) Close() error {
	if mw.done {
		return nil
	}
	if mw.count != mw.n {
		missing := -1
		for i, ok := range mw.written {
			if !ok {
				missing = i
				break
			}
		}
		mw.Abort()
		return fmt.Errorf("formats: write %s: %d of %d maps written (first missing: %d)", mw.path, mw.count, mw.n, missing)
	}
	mw.done = true
	tmp := mw.f.Name()
	err := mw.f.Sync()
	if cerr := mw.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, mw.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("formats: write %s: %w", mw.path, err)
	}
	return nil
}

// Abort discards the temporary file; the final path is untouched. Safe after Close.
func (mw *MapWriter) Abort() {
	if mw.done {
		return
	}
	mw.done = true
	mw.f.Close()
	os.Remove(mw.f.Name())
}
