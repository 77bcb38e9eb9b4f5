// Package fatbin strips the CUDA device code of other GPU architectures out of an ELF shared
// library, in place: the payloads of their fatbin entries are zeroed while every header, offset
// and the file's size stay as they are, so the library loads as before on the kept
// architectures and compresses to a fraction of its size (ONNX Runtime's CUDA provider carries
// cubins for six architectures; a GPU machine needs one).
//
// Layout relied on (checked on ONNX Runtime 1.29's libonnxruntime_providers_cuda.so, CUDA 13):
// the .nv_fatbin section is a sequence of containers, each a 16-byte header (magic 0xBA55ED50,
// version u16 = 1, header size u16, size of the entries u64) followed by entries that fill that
// size exactly; each entry has a header (kind u16: 1 PTX, 2 cubin; version u16; header size
// u32; payload size u64; ...; arch u32 at offset 28) and then its payload. Anything else is
// refused, unchanged.
package fatbin

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

const (
	containerMagic = 0xBA55ED50 // fatbin container
	wrapperMagic   = 0x466243b1 // __fatBinC_Wrapper_t in .nvFatBinSegment

	containerHeaderSize = 16
	minEntryHeaderSize  = 64 // every entry header seen is 64 or 112 bytes
	wrapperSize         = 24 // int magic, int version, void *data, void *filename_or_fatbins

	KindPTX   = 1 // entry kind: PTX text, kept whatever its arch
	KindCubin = 2 // entry kind: a cubin (ELF) for one arch
)

// Sections that hold fatbin containers: .nv_fatbin (nvcc's default) and __nv_relfatbin
// (relocatable device code, -rdc).
var containerSections = []string{".nv_fatbin", "__nv_relfatbin"}

// Report says what Strip found and did.
type Report struct {
	Sections    []string       // fatbin sections walked
	Containers  int            // fatbin containers in them
	Wrappers    int            // .nvFatBinSegment wrappers checked against the containers
	Kept        map[string]int // entries kept, by "sm_90" (cubin) or "compute_90" (PTX)
	Zeroed      map[string]int // entries whose payload was zeroed, by arch
	KeptBytes   int64          // payload bytes kept
	ZeroedBytes int64          // payload bytes zeroed
}

// String is a one-line summary with the entries per arch.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d containers in %s; kept", r.Containers, strings.Join(r.Sections, ","))
	for _, k := range sortedKeys(r.Kept) {
		fmt.Fprintf(&b, " %s:%d", k, r.Kept[k])
	}
	b.WriteString("; zeroed")
	for _, k := range sortedKeys(r.Zeroed) {
		fmt.Fprintf(&b, " %s:%d", k, r.Zeroed[k])
	}
	fmt.Fprintf(&b, "; %d payload bytes kept, %d zeroed", r.KeptBytes, r.ZeroedBytes)
	return b.String()
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ParseArch reads "sm_90", "compute_90" or "90" as 90.
func ParseArch(s string) (uint32, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sm_"), "compute_")
	n, err := strconv.ParseUint(t, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("fatbin: architecture %q: want sm_NN", s)
	}
	return uint32(n), nil
}

type span struct{ off, n uint64 }

// Strip zeroes, in b, the payloads of the cubin entries whose arch is not in keep, in every
// fatbin container of b's fatbin sections. PTX entries are kept whatever their arch (the
// driver can compile them for a newer GPU). b must be a little-endian ELF64 file; on any error
// b is left unchanged. Stripping a stripped file again changes nothing.
func Strip(b []byte, keep ...uint32) (Report, error) {
	rep := Report{Kept: map[string]int{}, Zeroed: map[string]int{}}
	if len(keep) == 0 {
		return rep, fmt.Errorf("fatbin: no architecture to keep")
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return rep, fmt.Errorf("fatbin: %w", err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return rep, fmt.Errorf("fatbin: only little-endian ELF64 files are handled (%v, %v)", f.Class, f.Data)
	}
	size := uint64(len(b))
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS && (s.Offset > size || s.Size > size-s.Offset) {
			return rep, fmt.Errorf("fatbin: section %s [%#x, +%#x) is outside the file (%#x bytes)", s.Name, s.Offset, s.Size, size)
		}
	}
	keepSet := map[uint32]bool{}
	for _, a := range keep {
		keepSet[a] = true
	}
	var zero []span
	starts := map[uint64]bool{} // file offsets of the containers
	for _, s := range f.Sections {
		if !isContainerSection(s.Name) {
			continue
		}
		if s.Type == elf.SHT_NOBITS {
			return rep, fmt.Errorf("fatbin: section %s has no file data", s.Name)
		}
		rep.Sections = append(rep.Sections, s.Name)
		z, n, err := walkSection(b[s.Offset:s.Offset+s.Size], s.Offset, s.Addralign, keepSet, &rep, starts)
		if err != nil {
			return rep, fmt.Errorf("fatbin: section %s: %w", s.Name, err)
		}
		zero = append(zero, z...)
		rep.Containers += n
	}
	if err := checkWrappers(f, b, starts, &rep); err != nil {
		return rep, err
	}
	for _, z := range zero {
		clear(b[z.off : z.off+z.n])
	}
	return rep, nil
}

func isContainerSection(name string) bool {
	for _, n := range containerSections {
		if name == n {
			return true
		}
	}
	return false
}

// walkSection parses the containers of one section (sec, at file offset base) and returns the
// payload spans to zero and the number of containers. Between containers only zero padding
// up to the section's alignment is allowed.
func walkSection(sec []byte, base, align uint64, keep map[uint32]bool, rep *Report, starts map[uint64]bool) ([]span, int, error) {
	if align == 0 {
		align = 1
	}
	le := binary.LittleEndian
	end := uint64(len(sec))
	var zero []span
	n := 0
	for p := uint64(0); p < end; {
		if end-p < containerHeaderSize || le.Uint32(sec[p:]) != containerMagic {
			// Alignment padding: fewer than align zero bytes, up to an aligned offset or the end.
			q := min((p+align-1)/align*align, end)
			if q > p && q-p < align && allZero(sec[p:q]) && (q == end || le.Uint32(sec[q:]) == containerMagic) {
				p = q
				continue
			}
			switch {
			case end-p < 4:
				return nil, 0, fmt.Errorf("%d stray bytes at the end (offset %#x)", end-p, base+p)
			case le.Uint32(sec[p:]) == containerMagic:
				return nil, 0, fmt.Errorf("container at %#x: truncated header (%d bytes left)", base+p, end-p)
			}
			return nil, 0, fmt.Errorf("unknown magic %#x at offset %#x", le.Uint32(sec[p:]), base+p)
		}
		version, hsize, total := le.Uint16(sec[p+4:]), uint64(le.Uint16(sec[p+6:])), le.Uint64(sec[p+8:])
		if version != 1 {
			return nil, 0, fmt.Errorf("container at %#x: version %d, want 1", base+p, version)
		}
		if hsize < containerHeaderSize || hsize > end-p || total > end-p-hsize {
			return nil, 0, fmt.Errorf("container at %#x: header %d + size %d bytes run past the section end", base+p, hsize, total)
		}
		cend := p + hsize + total
		q := p + hsize
		for q < cend {
			if cend-q < minEntryHeaderSize {
				return nil, 0, fmt.Errorf("container at %#x: %d bytes left at %#x, too few for an entry header", base+p, cend-q, base+q)
			}
			kind, ehsize, psize := le.Uint16(sec[q:]), uint64(le.Uint32(sec[q+4:])), le.Uint64(sec[q+8:])
			arch := le.Uint32(sec[q+28:])
			if ehsize < minEntryHeaderSize || ehsize > cend-q || psize > cend-q-ehsize {
				return nil, 0, fmt.Errorf("container at %#x: entry at %#x (header %d, payload %d bytes) does not fit the container's %d bytes", base+p, base+q, ehsize, psize, total)
			}
			switch kind {
			case KindCubin:
				name := "sm_" + strconv.FormatUint(uint64(arch), 10)
				if keep[arch] {
					rep.Kept[name]++
					rep.KeptBytes += int64(psize)
				} else {
					rep.Zeroed[name]++
					rep.ZeroedBytes += int64(psize)
					zero = append(zero, span{base + q + ehsize, psize})
				}
			case KindPTX:
				rep.Kept["compute_"+strconv.FormatUint(uint64(arch), 10)]++
				rep.KeptBytes += int64(psize)
			default:
				return nil, 0, fmt.Errorf("container at %#x: entry at %#x of unknown kind %d", base+p, base+q, kind)
			}
			q += ehsize + psize
		}
		starts[base+p] = true
		n++
		p = cend
	}
	return zero, n, nil
}

// checkWrappers checks the .nvFatBinSegment section, if any: each wrapper the CUDA runtime
// registers at load time must point at a container Strip walked (a pointer left zero for the
// dynamic loader to fill cannot be checked and is accepted).
func checkWrappers(f *elf.File, b []byte, starts map[uint64]bool, rep *Report) error {
	s := f.Section(".nvFatBinSegment")
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil
	}
	if s.Size%wrapperSize != 0 {
		return fmt.Errorf("fatbin: .nvFatBinSegment is %d bytes, not a whole number of %d-byte wrappers", s.Size, wrapperSize)
	}
	le := binary.LittleEndian
	for i := uint64(0); i < s.Size; i += wrapperSize {
		w := b[s.Offset+i:]
		magic, version, data := le.Uint32(w), le.Uint32(w[4:]), le.Uint64(w[8:])
		if magic != wrapperMagic || (version != 1 && version != 2) {
			return fmt.Errorf("fatbin: .nvFatBinSegment wrapper at %#x: magic %#x version %d, want %#x version 1 or 2", s.Offset+i, magic, version, uint32(wrapperMagic))
		}
		rep.Wrappers++
		if data == 0 {
			continue
		}
		off, ok := fileOffset(f, data)
		if !ok || !starts[off] {
			return fmt.Errorf("fatbin: .nvFatBinSegment wrapper at %#x points at %#x, which is no fatbin container walked", s.Offset+i, data)
		}
	}
	return nil
}

// fileOffset maps a virtual address to its file offset through the allocated sections.
func fileOffset(f *elf.File, addr uint64) (uint64, bool) {
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 || s.Type == elf.SHT_NOBITS || s.Addr == 0 {
			continue
		}
		if addr >= s.Addr && addr-s.Addr < s.Size {
			return s.Offset + (addr - s.Addr), true
		}
	}
	return 0, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
