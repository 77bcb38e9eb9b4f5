package synth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/lock"
)

// Options say what Generate writes.
type Options struct {
	// Dir receives Maps_{field}_IllustrisTNG_{set}_z=0.00.npy and params_{set}_IllustrisTNG.txt.
	Dir string
	// Fields to generate (default Mgas, Vgas, B): any CMD field (see fields.go).
	Fields []string
	// Sets to generate: "CV" and/or "LH".
	Sets []string
	// LHSims and CVSims are how many simulations (table rows, from the first) to generate;
	// 0 means the whole table (1000 and 27).
	LHSims, CVSims int
	// Size is the map side, a power of two >= 8.
	Size int
	Seed int64
	// Workers bounds the goroutines generating maps; the output does not depend on it.
	Workers int
	// Force replaces maps that synth generated in Dir with other settings. A file synth did
	// not create is never written over, with or without it.
	Force bool
}

// setID numbers the sets inside per-map seeds.
var setID = map[string]uint64{"CV": 1, "LH": 2}

// mapSeed derives the generator stream of map k of simulation sim of a set.
func mapSeed(set string, sim, k int) uint64 {
	return setID[set]<<48 | uint64(sim)<<8 | uint64(k)
}

// Generate writes the requested sets, 15 maps per simulation, with the parameter rows of the
// generated simulations, and the folder's manifest. It never writes over a file that it did
// not create (one its manifest does not list), and replaces maps generated with other
// settings only with o.Force. Files are written atomically (a cancelled or failed run leaves
// no partial cube, and an incomplete manifest). progress, if not nil, is called after each
// map with the count done and the total, from one goroutine at a time.
func Generate(ctx context.Context, o Options, progress func(done, total int)) error {
	if o.Size < 8 || o.Size&(o.Size-1) != 0 {
		return fmt.Errorf("synth: size %d, want a power of two >= 8", o.Size)
	}
	if len(o.Sets) == 0 {
		return errors.New("synth: no sets to generate")
	}
	for _, f := range o.fields() {
		if !CanGenerate(f) {
			return fmt.Errorf("synth: no generator for the field %q", f)
		}
	}
	want, err := o.manifest()
	if err != nil {
		return err
	}
	// Refuse before creating anything (the lock file included), then again under the lock.
	if _, err := o.check(want); err != nil {
		return err
	}
	l, err := lock.Acquire(o.Dir, "synth")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer l.Release()
	old, err := o.check(want)
	if err != nil {
		return err
	}
	// Maps of the same simulations keep their fields: the folder gains the new ones.
	if old != nil && old.Same(o) {
		fields := slices.Clone(old.fields())
		for _, f := range o.fields() {
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
		o.Fields = fields
		if want, err = o.manifest(); err != nil {
			return err
		}
		if _, err := o.check(want); err != nil {
			return err
		}
	}

	// The old generation's files that this one does not make are removed (with Force), and
	// the incomplete manifest lists them until they are gone.
	made := want.Files
	var stale []string
	if old != nil {
		for _, f := range old.Files {
			if !slices.Contains(made, f) {
				stale = append(stale, f)
			}
		}
	}
	all := append(slices.Clone(made), stale...)
	if _, err := formats.RemoveStaleTemps(o.Dir, all...); err != nil {
		return err
	}
	want.Files = all
	if err := want.write(o.Dir); err != nil {
		return err
	}
	for _, f := range stale {
		if err := os.Remove(filepath.Join(o.Dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("synth: %w", err)
		}
	}
	want.Files = made
	total := 0
	for _, set := range o.Sets {
		total += want.Sims[set] * formats.MapsPerSim
	}
	var mu sync.Mutex
	done := 0
	for _, set := range o.Sets {
		rows, err := o.rows(set)
		if err != nil {
			return err
		}
		if err := generateSet(ctx, o, set, rows, func() {
			mu.Lock()
			defer mu.Unlock()
			done++
			if progress != nil {
				progress(done, total)
			}
		}); err != nil {
			return err
		}
	}
	want.Complete = true
	return want.write(o.Dir)
}

// SettingsError reports a folder of maps that synth generated with other settings: they are
// replaced only when asked (Options.Force).
type SettingsError struct{ Dir, Have, Want string }

func (e *SettingsError) Error() string {
	return fmt.Sprintf("synth: %s holds maps generated with other settings (%s; asked for %s)", e.Dir, e.Have, e.Want)
}

// check returns o.Dir's manifest after making sure that generating want there overwrites no
// file synth did not create and, without o.Force, no maps of other settings.
func (o Options) check(want *Manifest) (*Manifest, error) {
	old, err := ReadManifest(o.Dir)
	if err != nil {
		return nil, err
	}
	for _, name := range want.Files {
		path := filepath.Join(o.Dir, name)
		_, err := os.Lstat(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("synth: %w", err)
		}
		if err == nil && !old.Owns(name) {
			return nil, fmt.Errorf("synth: %s exists and synth did not create it (no %s lists it): refusing to write over it; move it away or generate into another folder",
				path, ManifestFile)
		}
	}
	if old != nil && !old.Same(o) && !o.Force {
		return nil, &SettingsError{Dir: o.Dir, Have: old.Describe(), Want: want.Describe()}
	}
	return old, nil
}

func generateSet(ctx context.Context, o Options, set string, rows []formats.Params, tick func()) (err error) {
	n := len(rows) * formats.MapsPerSim
	fields := o.fields()
	writers := make([]*formats.MapWriter, len(fields))
	defer func() {
		if err != nil {
			for _, w := range writers {
				if w != nil {
					w.Abort()
				}
			}
		}
	}()
	for c, field := range fields {
		w, err := formats.CreateMaps(formats.MapPath(o.Dir, field, Suite, set), n, o.Size, o.Size)
		if err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		writers[c] = w
	}
	spaces := sync.Pool{New: func() any { return newWorkspace(o.Size) }}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, o.Workers))
	for m := 0; m < n; m++ {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			sim, k := m/formats.MapsPerSim, m%formats.MapsPerSim
			ws := spaces.Get().(*workspace)
			defer spaces.Put(ws)
			maps, err := ws.fields(rows[sim], [2]uint64{uint64(o.Seed), mapSeed(set, sim, k)}, fields)
			if err != nil {
				return err
			}
			for c, f := range fields {
				if err := writers[c].WriteMap(m, maps[f]); err != nil {
					return fmt.Errorf("synth: %w", err)
				}
			}
			tick()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for c, w := range writers {
		if err := w.Close(); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		writers[c] = nil
	}
	if err := formats.WriteParams(formats.ParamsPath(o.Dir, set, Suite), rows); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
