package fatbin

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// entry is one synthetic fatbin entry.
type entry struct {
	kind    uint16
	arch    uint32
	hsize   int // 64 or 112, as in ONNX Runtime's CUDA provider
	payload int
}

// payloadSpan is where one entry's payload lies, relative to the start of its section.
type payloadSpan struct {
	off, n int
	kind   uint16
	arch   uint32
}

// buildContainers lays out containers of the given entries (each container followed by zero
// padding to 8 bytes) and returns their bytes, the container offsets and the payload spans.
func buildContainers(rng *rand.Rand, containers [][]entry) ([]byte, []int, []payloadSpan) {
	le := binary.LittleEndian
	var out []byte
	var starts []int
	var spans []payloadSpan
	for _, c := range containers {
		start := len(out)
		starts = append(starts, start)
		total := 0
		for _, e := range c {
			total += e.hsize + e.payload
		}
		h := make([]byte, containerHeaderSize)
		le.PutUint32(h, containerMagic)
		le.PutUint16(h[4:], 1)
		le.PutUint16(h[6:], containerHeaderSize)
		le.PutUint64(h[8:], uint64(total))
		out = append(out, h...)
		for _, e := range c {
			eh := make([]byte, e.hsize)
			le.PutUint16(eh, e.kind)
			le.PutUint16(eh[2:], 0x0101)
			le.PutUint32(eh[4:], uint32(e.hsize))
			le.PutUint64(eh[8:], uint64(e.payload))
			le.PutUint32(eh[16:], uint32(e.payload))
			le.PutUint32(eh[28:], e.arch)
			le.PutUint64(eh[40:], 0x8011)
			out = append(out, eh...)
			spans = append(spans, payloadSpan{len(out), e.payload, e.kind, e.arch})
			for range e.payload {
				out = append(out, byte(1+rng.IntN(255))) // never zero
			}
		}
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		_ = start
	}
	return out, starts, spans
}

// cBytes is b as a C initializer list.
func cBytes(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i%32 == 0 {
			s.WriteString("\n")
		}
		fmt.Fprintf(&s, "%d,", c)
	}
	return s.String()
}

type synthLib struct {
	path      string
	data      []byte
	nvSpans   []payloadSpan // relative to .nv_fatbin
	relSpans  []payloadSpan // relative to __nv_relfatbin
	nvStarts  []int
	wrapperAt []int // .nvFatBinSegment offsets of the wrappers (relative to the section)
}

// buildLib compiles, with gcc, a shared library whose .nv_fatbin section holds crafted
// containers (cubins for sm_75/80/90/120, one PTX, 64- and 112-byte entry headers, one
// container without sm_90), an __nv_relfatbin section with one more, and a .nvFatBinSegment
// with a wrapper pointing at each .nv_fatbin container, as nvcc lays them out.
func buildLib(t *testing.T) synthLib {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nv, starts, nvSpans := buildContainers(rng, [][]entry{
		{{KindCubin, 75, 64, 40}, {KindCubin, 80, 64, 56}, {KindCubin, 90, 64, 64}, {KindCubin, 120, 112, 72}},
		{{KindCubin, 80, 64, 36}, {KindCubin, 90, 64, 24}, {KindPTX, 80, 64, 48}}, // 300 bytes: 4 bytes of padding follow
		{{KindCubin, 120, 112, 24}},
		{{KindCubin, 90, 64, 8}},
	})
	rel, _, relSpans := buildContainers(rng, [][]entry{{{KindCubin, 86, 64, 32}, {KindCubin, 90, 64, 16}}})
	var src strings.Builder
	src.WriteString("struct wrapper { int magic, version; const void *data; void *unused; };\n")
	fmt.Fprintf(&src, "__attribute__((section(\".nv_fatbin\"), aligned(8), used)) static const unsigned char nv[%d] = {%s};\n", len(nv), cBytes(nv))
	fmt.Fprintf(&src, "__attribute__((section(\"__nv_relfatbin\"), aligned(8), used)) static const unsigned char rel[%d] = {%s};\n", len(rel), cBytes(rel))
	fmt.Fprintf(&src, "__attribute__((section(\".nvFatBinSegment\"), aligned(8), used)) struct wrapper wrappers[%d] = {", len(starts))
	var wrapperAt []int
	for i, s := range starts {
		fmt.Fprintf(&src, "{0x466243b1, 1, nv + %d, 0},", s)
		wrapperAt = append(wrapperAt, i*wrapperSize)
	}
	src.WriteString("};\nint answer(void) { return 42; }\n")
	dir := t.TempDir()
	c, so := filepath.Join(dir, "lib.c"), filepath.Join(dir, "libsynth.so")
	if err := os.WriteFile(c, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-shared", "-fPIC", "-O1", "-o", so, c).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	data, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	return synthLib{so, data, nvSpans, relSpans, starts, wrapperAt}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func section(t *testing.T, b []byte, name string) *elf.Section {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Section(name)
	if s == nil {
		t.Fatalf("no section %s", name)
	}
	return s
}

func headers(t *testing.T, b []byte) ([]elf.SectionHeader, []elf.ProgHeader) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("result does not parse: %v", err)
	}
	var sh []elf.SectionHeader
	for _, s := range f.Sections {
		sh = append(sh, s.SectionHeader)
	}
	var ph []elf.ProgHeader
	for _, p := range f.Progs {
		ph = append(ph, p.ProgHeader)
	}
	return sh, ph
}

// expectStripped is orig with the payloads of the cubins not in keep zeroed.
func expectStripped(t *testing.T, lib synthLib, keep map[uint32]bool) []byte {
	want := bytes.Clone(lib.data)
	for _, sec := range []struct {
		name  string
		spans []payloadSpan
	}{{".nv_fatbin", lib.nvSpans}, {"__nv_relfatbin", lib.relSpans}} {
		base := int(section(t, lib.data, sec.name).Offset)
		for _, s := range sec.spans {
			if s.kind == KindCubin && !keep[s.arch] {
				clear(want[base+s.off : base+s.off+s.n])
			}
		}
	}
	return want
}

func TestStripSynthetic(t *testing.T) {
	lib := buildLib(t)
	for _, keep := range [][]uint32{{90}, {80, 120}, {61}} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			b := bytes.Clone(lib.data)
			rep, err := Strip(b, keep...)
			if err != nil {
				t.Fatal(err)
			}
			keepSet := map[uint32]bool{}
			for _, k := range keep {
				keepSet[k] = true
			}
			if want := expectStripped(t, lib, keepSet); !bytes.Equal(b, want) {
				for i := range b {
					if b[i] != want[i] {
						t.Fatalf("byte %#x is %#x, want %#x", i, b[i], want[i])
					}
				}
			}
			sh0, ph0 := headers(t, lib.data)
			sh1, ph1 := headers(t, b)
			if !reflect.DeepEqual(sh0, sh1) || !reflect.DeepEqual(ph0, ph1) {
				t.Fatal("section or program headers changed")
			}
			// The report counts what the layout holds.
			kept, zeroed := map[string]int{}, map[string]int{}
			var keptBytes, zeroedBytes int64
			for _, s := range append(append([]payloadSpan(nil), lib.nvSpans...), lib.relSpans...) {
				switch {
				case s.kind == KindPTX:
					kept[fmt.Sprintf("compute_%d", s.arch)]++
					keptBytes += int64(s.n)
				case keepSet[s.arch]:
					kept[fmt.Sprintf("sm_%d", s.arch)]++
					keptBytes += int64(s.n)
				default:
					zeroed[fmt.Sprintf("sm_%d", s.arch)]++
					zeroedBytes += int64(s.n)
				}
			}
			if rep.Containers != 5 || rep.Wrappers != 4 || !reflect.DeepEqual(rep.Kept, kept) || !reflect.DeepEqual(rep.Zeroed, zeroed) ||
				rep.KeptBytes != keptBytes || rep.ZeroedBytes != zeroedBytes || !reflect.DeepEqual(sorted(rep.Sections), []string{".nv_fatbin", "__nv_relfatbin"}) {
				t.Fatalf("report %+v; want kept %v zeroed %v (%d/%d bytes)", rep, kept, zeroed, keptBytes, zeroedBytes)
			}
			// Stripping again changes nothing.
			again := bytes.Clone(b)
			if _, err := Strip(again, keep...); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("second strip: %v, changed %v", err, !bytes.Equal(again, b))
			}
		})
	}
}

// TestStripRefuses: every malformed layout is an error and leaves the bytes as they were.
func TestStripRefuses(t *testing.T) {
	lib := buildLib(t)
	le := binary.LittleEndian
	nv := int(section(t, lib.data, ".nv_fatbin").Offset)
	seg := int(section(t, lib.data, ".nvFatBinSegment").Offset)
	f, err := elf.NewFile(bytes.NewReader(lib.data))
	if err != nil {
		t.Fatal(err)
	}
	shdr := func(name string) int { // file offset of a section's header
		for i, s := range f.Sections {
			if s.Name == name {
				return int(le.Uint64(lib.data[0x28:])) + i*int(le.Uint16(lib.data[0x3a:]))
			}
		}
		t.Fatalf("no section %s", name)
		return 0
	}
	c1 := nv + lib.nvStarts[1]     // second container
	e1 := c1 + containerHeaderSize // its first entry
	last := nv + lib.nvStarts[3]   // last container
	cases := map[string]func(b []byte){
		"container magic":    func(b []byte) { b[c1] ^= 1 },
		"container version":  func(b []byte) { le.PutUint16(b[c1+4:], 2) },
		"container too long": func(b []byte) { le.PutUint64(b[last+8:], le.Uint64(b[last+8:])+8) },
		"container header":   func(b []byte) { le.PutUint16(b[c1+6:], 8) },
		"entry overruns":     func(b []byte) { le.PutUint64(b[e1+8:], le.Uint64(b[e1+8:])+8) },
		"entry falls short":  func(b []byte) { le.PutUint64(b[e1+8:], le.Uint64(b[e1+8:])-8) },
		"entry header size":  func(b []byte) { le.PutUint32(b[e1+4:], 32) },
		"entry kind":         func(b []byte) { le.PutUint16(b[e1:], 7) },
		"garbage after":      func(b []byte) { b[nv+lib.nvStarts[2]-1] = 1 }, // padding of container 1
		"section past end": func(b []byte) {
			le.PutUint64(b[shdr(".nv_fatbin")+32:], uint64(len(b)))
		},
		"section offset": func(b []byte) {
			le.PutUint64(b[shdr(".nv_fatbin")+24:], uint64(len(b))+8)
		},
		"wrapper magic": func(b []byte) { b[seg] ^= 1 },
		"not elf":       func(b []byte) { b[1] = 'X' },
	}
	if le.Uint64(lib.data[seg+8:]) != 0 { // the linker wrote the pointers in place (GNU ld does)
		cases["wrapper target"] = func(b []byte) { le.PutUint64(b[seg+lib.wrapperAt[1]+8:], le.Uint64(b[seg+lib.wrapperAt[1]+8:])+16) }
	} else {
		t.Log("wrapper pointers are left to the dynamic loader: their check is not exercised")
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(lib.data)
			mutate(b)
			before := bytes.Clone(b)
			rep, err := Strip(b, 90)
			if err == nil {
				t.Fatalf("accepted: %v", rep)
			}
			if !bytes.Equal(b, before) {
				t.Fatalf("refused (%v) but changed the bytes", err)
			}
			t.Log(err)
		})
	}
}

func TestParseArch(t *testing.T) {
	for s, want := range map[string]uint32{"sm_90": 90, "SM_120": 120, "compute_80": 80, "86": 86} {
		if got, err := ParseArch(s); err != nil || got != want {
			t.Errorf("ParseArch(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "sm_", "sm_x", "0"} {
		if _, err := ParseArch(s); err == nil {
			t.Errorf("ParseArch(%q) accepted", s)
		}
	}
}

// TestStripRealProvider strips ONNX Runtime's CUDA provider (make ort-cuda) to sm_90: only
// sm_90 cubins keep their payloads, every header byte stays, and every other entry is zero.
func TestStripRealProvider(t *testing.T) {
	path := filepath.Join("..", "..", "third_party", "onnxruntime-cuda", "libonnxruntime_providers_cuda.so")
	orig, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("no %s (make ort-cuda)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Clone(orig)
	rep, err := Strip(b, 90)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	if len(rep.Kept) != 1 || rep.Kept["sm_90"] == 0 || len(rep.Zeroed) == 0 || rep.Containers == 0 || rep.Wrappers != rep.Containers {
		t.Fatalf("report %v", rep)
	}
	sh0, ph0 := headers(t, orig)
	sh1, ph1 := headers(t, b)
	if !reflect.DeepEqual(sh0, sh1) || !reflect.DeepEqual(ph0, ph1) {
		t.Fatal("section or program headers changed")
	}
	// An independent walk: outside the payloads of non-sm_90 cubins nothing changed, inside
	// them everything is zero.
	want := bytes.Clone(orig)
	s := section(t, orig, ".nv_fatbin")
	le := binary.LittleEndian
	for p := s.Offset; p < s.Offset+s.Size; {
		hs, total := uint64(le.Uint16(orig[p+6:])), le.Uint64(orig[p+8:])
		for q := p + hs; q < p+hs+total; {
			eh, ps := uint64(le.Uint32(orig[q+4:])), le.Uint64(orig[q+8:])
			if le.Uint16(orig[q:]) == KindCubin && le.Uint32(orig[q+28:]) != 90 {
				clear(want[q+eh : q+eh+ps])
			}
			q += eh + ps
		}
		p += hs + total
	}
	if !bytes.Equal(b, want) {
		t.Fatal("stripped bytes differ from the independent walk")
	}
	if xz, err := exec.LookPath("xz"); err == nil && !testing.Short() {
		cmd := exec.Command(xz, "-T0", "-1", "-c")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("stripped to sm_90: %d bytes; xz -1: %d bytes (gpu-bundle uses a stronger setting)", len(b), len(out))
	}
}
