package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/trainer"
)

// Shard is one part of an encode split for a cluster scheduler's array of tasks: part K of
// N, K from 0. Each part holds whole simulations, and the parts in K order hold the rows of
// the unsharded table in its order.
type Shard struct{ K, N int }

// Metadata keys of a part, beside trainer.MetaEncoder and trainer.MetaSet.
const (
	MetaShard = "camelsvae.shard"       // "K/N"
	MetaMaps  = "camelsvae.maps_sha256" // the map indices of the part
)

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// File is the part's file name, part-K-of-N.parquet.
func (s Shard) File() string { return fmt.Sprintf("part-%d-of-%d.parquet", s.K, s.N) }

// ParseShard reads --shard: "K/N" (0 <= K < N), or "auto" from the scheduler's environment
// (getenv): a Slurm job array (SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT: K is the task's
// position in the array) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with shards as N).
// shards, when not 0, must agree with N.
func ParseShard(arg string, shards int, getenv func(string) string) (Shard, error) {
	if arg != "auto" {
		k, n, ok := strings.Cut(arg, "/")
		ki, err1 := strconv.Atoi(k)
		ni, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || ni < 1 || ki < 0 || ki >= ni {
			return Shard{}, fmt.Errorf("--shard %q: want K/N with 0 <= K < N (part-K-of-N), or auto", arg)
		}
		if shards != 0 && shards != ni {
			return Shard{}, fmt.Errorf("--shard %s and --shards %d disagree", arg, shards)
		}
		return Shard{ki, ni}, nil
	}
	num := func(key string, def int) (int, error) {
		v := getenv(key)
		if v == "" {
			return def, nil
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("--shard auto: %s=%q is not an integer", key, v)
		}
		return i, nil
	}
	if getenv("SLURM_ARRAY_TASK_ID") != "" {
		v := map[string]int{}
		for _, key := range []string{"ID", "MIN", "STEP", "COUNT"} {
			def := 0
			if key == "STEP" {
				def = 1
			}
			var err error
			if v[key], err = num("SLURM_ARRAY_TASK_"+key, def); err != nil {
				return Shard{}, err
			}
		}
		id, lo, step, n := v["ID"], v["MIN"], v["STEP"], v["COUNT"]
		if n < 1 || step < 1 || (id-lo)%step != 0 || (id-lo)/step >= n || id < lo {
			return Shard{}, fmt.Errorf("--shard auto: Slurm task %d of an array from %d by %d with %d tasks is not one of its tasks", id, lo, step, n)
		}
		if shards != 0 && shards != n {
			return Shard{}, fmt.Errorf("--shard auto: the Slurm array has %d tasks, --shards says %d", n, shards)
		}
		return Shard{(id - lo) / step, n}, nil
	}
	if getenv("JOB_COMPLETION_INDEX") != "" {
		k, err := num("JOB_COMPLETION_INDEX", 0)
		if err != nil {
			return Shard{}, err
		}
		if shards < 1 {
			return Shard{}, errors.New("--shard auto in a Kubernetes Indexed Job needs --shards N (the Job's completions)")
		}
		if k < 0 || k >= shards {
			return Shard{}, fmt.Errorf("--shard auto: JOB_COMPLETION_INDEX %d, want 0 <= index < --shards %d", k, shards)
		}
		return Shard{k, shards}, nil
	}
	return Shard{}, errors.New("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard K/N")
}

// Maps keeps the maps of the part's simulations: the distinct simulations, in order of first
// appearance, are cut into N contiguous blocks whose sizes differ by at most one.
func (s Shard) Maps(maps []int) []int {
	var sims []int
	seen := map[int]bool{}
	for _, m := range maps {
		if sim := m / formats.MapsPerSim; !seen[sim] {
			seen[sim] = true
			sims = append(sims, sim)
		}
	}
	lo, hi := s.K*len(sims)/s.N, (s.K+1)*len(sims)/s.N
	mine := map[int]bool{}
	for _, sim := range sims[lo:hi] {
		mine[sim] = true
	}
	var out []int
	for _, m := range maps {
		if mine[m/formats.MapsPerSim] {
			out = append(out, m)
		}
	}
	return out
}

// mapsDigest identifies a list of map indices.
func mapsDigest(maps []int) string {
	h := sha256.New()
	for _, m := range maps {
		fmt.Fprintf(h, "%d,", m)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// partDone says whether path already holds this part, complete: its metadata names the same
// encoder, set, shard and maps. A part made by another model or for other maps is an error,
// never overwritten; a file that is not a latents table is an error too.
func partDone(path string, want map[string]string) (bool, error) {
	meta, err := formats.ReadLatentsMeta(memory.DefaultAllocator, path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: not a latents part; remove it or choose another --out", err)
	}
	for _, k := range []string{trainer.MetaEncoder, trainer.MetaSet, MetaShard, MetaMaps} {
		if meta[k] != want[k] {
			what := map[string]string{trainer.MetaEncoder: "another model's encoder", trainer.MetaSet: "another set",
				MetaShard: "another split into parts", MetaMaps: "other maps"}[k]
			return false, fmt.Errorf("%s was written by %s (%s %q, this run %q): remove it or choose another --out",
				path, what, k, short(meta[k]), short(want[k]))
		}
	}
	return true, nil
}

// short shortens a digest for a message.
func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// partsDone counts the complete parts of n in dir (by their file's presence: a part is only
// ever renamed into place whole).
func partsDone(dir string, n int) int {
	done := 0
	for k := range n {
		if _, err := os.Stat(filepath.Join(dir, Shard{k, n}.File())); err == nil {
			done++
		}
	}
	return done
}
