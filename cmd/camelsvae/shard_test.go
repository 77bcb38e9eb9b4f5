package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/camelsvae/camelsvae/fault"
	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/camelsvae/camelsvae/synth"
)

// shardRun trains the small model (seed) on data with lhSims LH simulations (15 maps each)
// and returns the run directory.
func shardRun(t *testing.T, dir string, seed string, lhSims int) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(data); err != nil {
		err := synth.Generate(context.Background(), synth.Options{Dir: data, Sets: []string{"CV", "LH"},
			CVSims: 2, LHSims: lhSims, Size: 32, Seed: 100, Workers: 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "shard-"+seed+".yaml")
	body := strings.Replace(strings.ReplaceAll(smallRun, "DIR", dir), "seed: 7", "seed: "+seed, 1)
	body = strings.Replace(body, "lh_sims: 2", "lh_sims: "+strconv.Itoa(lhSims), 1)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run-"+seed)
	execute(context.Background(), t, "train", "--config", cfg, "--out", run, "--epochs", "1")
	return run
}

// readParts concatenates part-0-of-n .. part-(n-1)-of-n.
func readParts(t *testing.T, dir string, n int) *formats.Latents {
	t.Helper()
	all := &formats.Latents{}
	for k := range n {
		p, err := formats.ReadLatents(memory.DefaultAllocator, filepath.Join(dir, pipeline.Shard{K: k, N: n}.File()))
		if err != nil {
			t.Fatal(err)
		}
		if p.Meta[pipeline.MetaShard] != (pipeline.Shard{K: k, N: n}).String() {
			t.Errorf("part %d records shard %q", k, p.Meta[pipeline.MetaShard])
		}
		all.L = p.L
		all.Set, all.Sim, all.Map = append(all.Set, p.Set...), append(all.Sim, p.Sim...), append(all.Map, p.Map...)
		all.Params, all.Mu, all.Logvar = append(all.Params, p.Params...), append(all.Mu, p.Mu...), append(all.Logvar, p.Logvar...)
	}
	return all
}

func sameRows(a, b *formats.Latents) bool {
	return a.L == b.L && slices.Equal(a.Set, b.Set) && slices.Equal(a.Sim, b.Sim) && slices.Equal(a.Map, b.Map) &&
		slices.Equal(a.Params, b.Params) && slices.Equal(a.Mu, b.Mu) && slices.Equal(a.Logvar, b.Logvar)
}

// TestShardedEncode: four shard processes at once write exactly the rows, bit for bit, of one
// unsharded encode (batches of 64 there, of 8 in the parts: the batches differ); a shard killed mid-way leaves no part, and rerunning the array skips the
// finished parts and completes the set; a part from another model is refused; --shard auto
// reads a Slurm array's and a Kubernetes Indexed Job's variables.
func TestShardedEncode(t *testing.T) {
	dir := t.TempDir()
	run := shardRun(t, dir, "7", 6)
	ctx := context.Background()
	whole := filepath.Join(dir, "whole.parquet")
	execute(ctx, t, "encode", "--run", run, "--maps", "all", "--out", whole)
	want, err := formats.ReadLatents(memory.DefaultAllocator, whole)
	if err != nil {
		t.Fatal(err)
	}
	if want.Len() != 90 {
		t.Fatalf("unsharded table has %d rows, want 90", want.Len())
	}
	parts := filepath.Join(dir, "parts")
	shard := func(env []string, args ...string) *process {
		return start(t, env, append([]string{"encode", "--run", run, "--maps", "all", "--out", parts, "--batch-size", "8"}, args...)...)
	}
	var ps []*process
	for k := range 4 {
		ps = append(ps, shard(nil, "--shard", (pipeline.Shard{K: k, N: 4}).String()))
	}
	for k, p := range ps {
		if code := p.wait(); code != 0 {
			t.Fatalf("shard %d: exit %d\n%s%s", k, code, p.out.String(), p.err.String())
		}
	}
	if got := readParts(t, parts, 4); !sameRows(got, want) {
		t.Fatalf("the 4 parts differ from the unsharded table (%d rows, want %d)", got.Len(), want.Len())
	}

	// Kill part 2 after its first batch: no part-2 file appears; rerunning all four skips
	// three and completes the set.
	part2 := filepath.Join(parts, pipeline.Shard{K: 2, N: 4}.File())
	if err := os.Remove(part2); err != nil {
		t.Fatal(err)
	}
	if code, out := camelsvae(t, []string{fault.Env + "=encode-batch"}, "encode", "--run", run, "--maps", "all", "--out", parts,
		"--batch-size", "8", "--shard", "2/4"); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want killed after the first batch\n%s", code, out)
	}
	if _, err := os.Stat(part2); !os.IsNotExist(err) {
		t.Fatalf("a killed shard left %s: %v", part2, err)
	}
	ps = ps[:0]
	for k := range 4 {
		ps = append(ps, shard(nil, "--shard", (pipeline.Shard{K: k, N: 4}).String()))
	}
	skipped := 0
	for k, p := range ps {
		if code := p.wait(); code != 0 {
			t.Fatalf("rerun shard %d: exit %d\n%s%s", k, code, p.out.String(), p.err.String())
		}
		if strings.Contains(p.out.String(), "already complete") {
			skipped++
		}
	}
	if skipped != 3 {
		t.Errorf("%d parts skipped on the rerun, want 3", skipped)
	}
	if got := readParts(t, parts, 4); !sameRows(got, want) {
		t.Fatal("after the rerun the parts differ from the unsharded table")
	}

	// The scheduler's variables: a Slurm array numbered from 1 (task 4 is part 3) and a
	// Kubernetes Indexed Job.
	for _, env := range [][]string{
		{"SLURM_ARRAY_TASK_ID=4", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_COUNT=4"},
		{"JOB_COMPLETION_INDEX=3"},
	} {
		args := []string{"--shard", "auto"}
		if strings.HasPrefix(env[0], "JOB") {
			args = append(args, "--shards", "4")
		}
		p := shard(env, args...)
		if code := p.wait(); code != 0 || !strings.Contains(p.out.String(), "part 3/4 of LH is already complete") {
			t.Errorf("%v: exit %d, output %q", env, code, p.out.String()+p.err.String())
		}
	}

	// Another model's encoder into the same parts: refused, the part left as it was.
	other := shardRun(t, dir, "8", 6)
	before, _ := os.ReadFile(part2)
	_, err = executeErr(ctx, "encode", "--run", other, "--maps", "all", "--out", parts, "--shard", "2/4")
	if err == nil || !strings.Contains(err.Error(), "another model's encoder") {
		t.Errorf("a part from another model: %v", err)
	}
	if after, _ := os.ReadFile(part2); !slices.Equal(before, after) {
		t.Error("the other model's encode changed the part")
	}
}
