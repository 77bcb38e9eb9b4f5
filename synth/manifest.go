package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/formats"
)

// ManifestFile marks a folder of generated maps. Generate writes it before the first map
// (incomplete) and again after the last (complete); it lists every file synth made there, so
// that synth never writes over a file it did not create.
const ManifestFile = "camelsvae-synth.json"

// Generator and Version name the generator in the manifest. Bump Version whenever the maps a
// seed gives change: a folder made by another version is then regenerated only with --force.
const (
	Generator = "camelsvae synth"
	Version   = 1
)

// Manifest describes the generated maps in a folder.
type Manifest struct {
	Generator string `json:"generator"`
	Version   int    `json:"version"`
	Seed      int64  `json:"seed"`
	Size      int    `json:"size"`
	// Sims is the number of simulations generated per set (15 maps each).
	Sims map[string]int `json:"sims"`
	// Fields are the CMD fields generated (a manifest without them has Mgas, Vgas and B).
	Fields []string `json:"fields,omitempty"`
	// Complete is false while Generate runs, and stays false when it was stopped.
	Complete bool `json:"complete"`
	// Files are the names, inside the folder, of every file synth wrote there.
	Files []string `json:"files"`
}

// ReadManifest reads dir's manifest; it returns nil and no error when there is none.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("synth: %s: %w", path, err)
	}
	if m.Generator != Generator {
		return nil, fmt.Errorf("synth: %s: generator %q, want %q", path, m.Generator, Generator)
	}
	return &m, nil
}

func (m *Manifest) write(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := formats.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n')); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// fields returns the manifest's fields.
func (m *Manifest) fields() []string {
	if len(m.Fields) == 0 {
		return configs.Names(configs.StudyFields())
	}
	return m.Fields
}

// Same reports whether m describes maps that o would generate (complete or not): the same
// generator version, seed, size and simulations. The fields may differ: every field of a map
// derives from the same simulation, so a folder can gain fields.
func (m *Manifest) Same(o Options) bool {
	want, err := o.manifest()
	if err != nil {
		return false
	}
	if m.Version != want.Version || m.Seed != want.Seed || m.Size != want.Size || len(m.Sims) != len(want.Sims) {
		return false
	}
	for set, n := range want.Sims {
		if m.Sims[set] != n {
			return false
		}
	}
	return true
}

// Describe is the manifest's settings in words, for messages.
func (m *Manifest) Describe() string {
	var sets []string
	for set, n := range m.Sims {
		sets = append(sets, fmt.Sprintf("%s %d simulations", set, n))
	}
	slices.Sort(sets)
	return fmt.Sprintf("seed %d, %dx%d, %s, fields %s, version %d", m.Seed, m.Size, m.Size, strings.Join(sets, ", "),
		strings.Join(m.fields(), " "), m.Version)
}

// Owns reports whether synth wrote the file name in the folder.
func (m *Manifest) Owns(name string) bool { return m != nil && slices.Contains(m.Files, name) }

// rows returns the parameter rows of the simulations o generates in set.
func (o Options) rows(set string) ([]formats.Params, error) {
	rows, err := Table(set)
	if err != nil {
		return nil, err
	}
	limit := map[string]int{"CV": o.CVSims, "LH": o.LHSims}[set]
	if limit < 0 {
		return nil, fmt.Errorf("synth: %s simulations %d, want >= 0", set, limit)
	}
	if limit > 0 && limit < len(rows) {
		rows = rows[:limit]
	}
	return rows, nil
}

// manifest is the (incomplete) manifest of what o generates.
func (o Options) manifest() (*Manifest, error) {
	m := &Manifest{Generator: Generator, Version: Version, Seed: o.Seed, Size: o.Size, Sims: map[string]int{}, Fields: o.fields()}
	for _, set := range o.Sets {
		rows, err := o.rows(set)
		if err != nil {
			return nil, err
		}
		m.Sims[set] = len(rows)
		m.Files = append(m.Files, SetFiles(set, m.Fields)...)
	}
	return m, nil
}

// fields returns the fields o generates.
func (o Options) fields() []string {
	if len(o.Fields) == 0 {
		return configs.Names(configs.StudyFields())
	}
	return o.Fields
}

// SetFiles are the names of the files Generate writes for a set with these fields.
func SetFiles(set string, fields []string) []string {
	var out []string
	for _, f := range fields {
		out = append(out, filepath.Base(formats.MapPath("", f, Suite, set)))
	}
	return append(out, filepath.Base(formats.ParamsPath("", set, Suite)))
}
