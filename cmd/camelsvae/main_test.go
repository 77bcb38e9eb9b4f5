package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/camelsvae/camelsvae/synth"
)

// testMainEnv makes the test binary run the CLI instead of the tests, so that tests can run
// camelsvae as a process: to kill it, signal it and read its exit status.
const testMainEnv = "CAMELSVAE_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(testMainEnv) == "1" {
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// process is camelsvae run as a child process of the test.
type process struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
}

// start runs camelsvae with args as a process; env adds variables (CAMELSVAE_FAULT=...).
func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(os.Args[0], args...)}
	p.cmd.Env = append(append(os.Environ(), testMainEnv+"=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// wait waits for the process and returns its exit code, or -N when signal N killed it.
func (p *process) wait() int {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 1000
	}
	return 0
}

// camelsvae runs the CLI as a process to the end and returns its exit code (see wait).
func camelsvae(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	p := start(t, env, args...)
	code := p.wait()
	return code, p.out.String() + p.err.String()
}

// smallRun is a config small enough that training takes about a second: 32x32 maps of two
// CV simulations, 6 steps an epoch.
const smallRun = `seed: 7
data:
  dir: DIR/data
  size: 32
  test_maps: 20
  val_frac: 0.2
  augment: none
synth:
  sets: [CV, LH]
  cv_sims: 2
  lh_sims: 2
  size: 32
model:
  width_mult: 0.125
  latent: 8
loss:
  warmup_epochs: 1
  ssim_window: 7
train:
  epochs: 4
  batch: 4
  keep_last: 2
pca:
  components: 4
  solver: exact
eval:
  grid_maps: 2
  clusters: 2
  noskip_baseline: false
runtime:
  intra_op_threads: 1
`

// smallConfig writes smallRun with its data generated into dir, and returns its path.
func smallConfig(t *testing.T, dir string) string {
	t.Helper()
	err := synth.Generate(context.Background(), synth.Options{Dir: filepath.Join(dir, "data"), Sets: []string{"CV", "LH"},
		CVSims: 2, LHSims: 2, Size: 32, Seed: 100, Workers: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(smallRun, "DIR", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
