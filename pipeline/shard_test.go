package pipeline

import (
	"slices"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/formats"
)

func TestParseShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		arg    string
		shards int
		env    func(string) string
		want   Shard
		err    string
	}{
		{"0/4", 0, env(), Shard{0, 4}, ""},
		{"3/4", 4, env(), Shard{3, 4}, ""},
		{"4/4", 0, env(), Shard{}, "want K/N with 0 <= K < N"},
		{"1-4", 0, env(), Shard{}, "want K/N"},
		{"1/4", 3, env(), Shard{}, "disagree"},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "0", "SLURM_ARRAY_TASK_MIN", "0", "SLURM_ARRAY_TASK_COUNT", "8"), Shard{0, 8}, ""},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "12", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_COUNT", "16"), Shard{11, 16}, ""},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "9", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_STEP", "4", "SLURM_ARRAY_TASK_COUNT", "3"), Shard{2, 3}, ""},
		{"auto", 0, env("SLURM_ARRAY_TASK_ID", "5", "SLURM_ARRAY_TASK_COUNT", "4"), Shard{}, "not one of its tasks"},
		{"auto", 5, env("SLURM_ARRAY_TASK_ID", "1", "SLURM_ARRAY_TASK_COUNT", "4"), Shard{}, "--shards says 5"},
		{"auto", 6, env("JOB_COMPLETION_INDEX", "5"), Shard{5, 6}, ""},
		{"auto", 0, env("JOB_COMPLETION_INDEX", "5"), Shard{}, "needs --shards N"},
		{"auto", 4, env("JOB_COMPLETION_INDEX", "x"), Shard{}, "not an integer"},
		{"auto", 4, env(), Shard{}, "neither SLURM_ARRAY_TASK_ID"},
	}
	for _, tc := range tests {
		got, err := ParseShard(tc.arg, tc.shards, tc.env)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseShard(%q, %d): %v, want a one-line error containing %q", tc.arg, tc.shards, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseShard(%q, %d) = %v, %v; want %v", tc.arg, tc.shards, got, err, tc.want)
		}
	}
}

// TestShardMaps: the parts hold whole simulations, contiguous blocks of them, and together
// every map once in the original order.
func TestShardMaps(t *testing.T) {
	var maps []int
	for sim := range 10 {
		for j := range 3 {
			maps = append(maps, sim*formats.MapsPerSim+j)
		}
	}
	for _, n := range []int{1, 3, 4, 10} {
		var all []int
		for k := range n {
			part := Shard{k, n}.Maps(maps)
			sims := map[int]bool{}
			for _, m := range part {
				sims[m/formats.MapsPerSim] = true
			}
			if len(part) != 3*len(sims) || len(sims) < 10/n || len(sims) > 10/n+1 {
				t.Errorf("part %d/%d: %d maps of %d simulations", k, n, len(part), len(sims))
			}
			all = append(all, part...)
		}
		if !slices.Equal(all, maps) {
			t.Errorf("%d parts together: %v", n, all)
		}
	}
}
