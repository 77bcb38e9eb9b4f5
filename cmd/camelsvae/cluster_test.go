package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.yaml.in/yaml/v3"

	"github.com/camelsvae/camelsvae/formats"
)

// TestClusterRecipes runs docs/cluster's Slurm array script and Kubernetes Indexed Job
// command under bash, once per array task with the scheduler's variables set as Slurm and
// Kubernetes set them, and checks that the parts hold the unsharded table's rows.
func TestClusterRecipes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	run := shardRun(t, dir, "7", 16)
	whole := filepath.Join(dir, "whole.parquet")
	execute(context.Background(), t, "encode", "--run", run, "--maps", "all", "--out", whole)
	want, err := formats.ReadLatents(memory.DefaultAllocator, whole)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..", "docs", "cluster")
	// The CLI is this test binary, run as camelsvae (see TestMain).
	base := append(os.Environ(), testMainEnv+"=1", "CAMELSVAE="+os.Args[0], "RUN_DIR="+run)
	bash := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command("bash", args...)
		cmd.Env = append(base, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bash %v with %v: %v\n%s", args, env, err, out)
		}
	}

	// Slurm: `sbatch --array=1-16` numbers the tasks from 1.
	slurm := filepath.Join(dir, "slurm-parts")
	for id := 1; id <= 16; id++ {
		bash([]string{"PARTS_DIR=" + slurm, "SLURM_ARRAY_TASK_ID=" + strconv.Itoa(id), "SLURM_ARRAY_TASK_MIN=1",
			"SLURM_ARRAY_TASK_MAX=16", "SLURM_ARRAY_TASK_COUNT=16", "SLURM_CPUS_PER_TASK=1"}, filepath.Join(root, "encode-array.sbatch"))
	}
	if got := readParts(t, slurm, 16); !sameRows(got, want) {
		t.Error("the Slurm array's parts differ from the unsharded table")
	}

	// Kubernetes: the Job's container command, with JOB_COMPLETION_INDEX per pod.
	b, err := os.ReadFile(filepath.Join(root, "encode-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Kind string
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Template       struct {
				Spec struct {
					Containers []struct {
						Command []string
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	cmds := job.Spec.Template.Spec.Containers
	if job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" || len(cmds) != 1 || len(cmds[0].Command) != 3 {
		t.Fatalf("encode-job.yaml: %+v, want an Indexed Job with one bash -c command", job)
	}
	n := job.Spec.Completions
	line := cmds[0].Command[2]
	if !strings.Contains(line, "--shards "+strconv.Itoa(n)+" ") {
		t.Fatalf("the command %q does not pass --shards %d (the Job's completions)", line, n)
	}
	k8s := filepath.Join(dir, "k8s-parts")
	for k := range n {
		bash([]string{"PARTS_DIR=" + k8s, "JOB_COMPLETION_INDEX=" + strconv.Itoa(k)}, "-c", `camelsvae() { "$CAMELSVAE" "$@"; }; `+line)
	}
	if got := readParts(t, k8s, n); !sameRows(got, want) {
		t.Error("the Indexed Job's parts differ from the unsharded table")
	}
}
