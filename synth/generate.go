package synth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/camelsvae/camelsvae/formats"
)

// Options say what Generate writes.
type Options struct {
	// Dir receives Maps_{Mgas,Vgas,B}_IllustrisTNG_{set}_z=0.00.npy and params_{set}_IllustrisTNG.txt.
	Dir string
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
}

// setID numbers the sets inside per-map seeds.
var setID = map[string]uint64{"CV": 1, "LH": 2}

// mapSeed derives the generator stream of map k of simulation sim of a set.
func mapSeed(set string, sim, k int) uint64 {
	return setID[set]<<48 | uint64(sim)<<8 | uint64(k)
}

// Generate writes the requested sets, 15 maps per simulation, with the parameter rows of the
// generated simulations. Files are written atomically (a cancelled or failed run leaves no
// partial cube). progress, if not nil, is called after each map with the count done and the
// total, from one goroutine at a time.
func Generate(ctx context.Context, o Options, progress func(done, total int)) error {
	if o.Size < 8 || o.Size&(o.Size-1) != 0 {
		return fmt.Errorf("synth: size %d, want a power of two >= 8", o.Size)
	}
	if len(o.Sets) == 0 {
		return errors.New("synth: no sets to generate")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	type job struct {
		set  string
		rows []formats.Params
	}
	var jobs []job
	total := 0
	for _, set := range o.Sets {
		rows, err := Table(set)
		if err != nil {
			return err
		}
		limit := map[string]int{"CV": o.CVSims, "LH": o.LHSims}[set]
		if limit < 0 {
			return fmt.Errorf("synth: %s simulations %d, want >= 0", set, limit)
		}
		if limit > 0 && limit < len(rows) {
			rows = rows[:limit]
		}
		jobs = append(jobs, job{set, rows})
		total += len(rows) * formats.MapsPerSim
	}
	var mu sync.Mutex
	done := 0
	for _, j := range jobs {
		if err := generateSet(ctx, o, j.set, j.rows, func() {
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
	return nil
}

func generateSet(ctx context.Context, o Options, set string, rows []formats.Params, tick func()) (err error) {
	n := len(rows) * formats.MapsPerSim
	var writers [3]*formats.MapWriter
	defer func() {
		if err != nil {
			for _, w := range writers {
				if w != nil {
					w.Abort()
				}
			}
		}
	}()
	for c, field := range formats.Fields {
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
			maps := ws.generate(rows[sim], rand.New(rand.NewPCG(uint64(o.Seed), mapSeed(set, sim, k))))
			for c, f := range [3][]float32{maps.Mgas, maps.Vgas, maps.B} {
				if err := writers[c].WriteMap(m, f); err != nil {
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
