package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/camelsvae/camelsvae/fault"
	"github.com/camelsvae/camelsvae/formats"
)

// State is the part of a run that is not tensors: where the loop stands and why. Together
// with the parameters and Adam moments it is everything --resume needs; the random streams
// are derived from (seed, epoch, step), so their state is the position itself.
type State struct {
	// Epoch is the number of finished epochs; EpochStep the batches done of epoch Epoch+1
	// (non-zero only for a checkpoint written by Ctrl-C in the middle of an epoch).
	Epoch     int `json:"epoch"`
	EpochStep int `json:"epoch_step"`
	// Step counts optimizer steps over the whole run (Adam's bias-correction t).
	Step int `json:"step"`
	// Partial sums of the current epoch's training loss terms (mid-epoch checkpoints).
	Partial Terms `json:"partial"`
	// PartialImages is the number of images Partial sums over.
	PartialImages int `json:"partial_images"`
	// BestLoss is the lowest validation total so far, at BestEpoch (0: none yet); BadEpochs
	// counts the epochs since then (early stopping at train.patience).
	BestLoss  float64 `json:"best_loss"`
	BestEpoch int     `json:"best_epoch"`
	BadEpochs int     `json:"bad_epochs"`
	// Seed and Arch tie a checkpoint to its run: Arch is a fingerprint of the parameter
	// names and shapes, so a run directory of another architecture is refused.
	Seed int64  `json:"seed"`
	Arch string `json:"arch"`
	// Elapsed is the training wall time in seconds up to this checkpoint.
	Elapsed float64 `json:"elapsed_s"`
	// Done and StopReason say the run finished (max epochs or early stopping); EarlyStopped
	// tells which, so that raising train.epochs can continue a run that only ran out of epochs.
	Done         bool   `json:"done"`
	EarlyStopped bool   `json:"early_stopped,omitempty"`
	StopReason   string `json:"stop_reason,omitempty"`
	// Weights names the .npz file that holds the tensors of this state.
	Weights string `json:"weights"`
	// Metrics are metrics.jsonl's rows up to this state: a process killed between a
	// checkpoint and the metrics file loses no row.
	Metrics []EpochMetrics `json:"metrics,omitempty"`
}

// Tensors are the parameters and Adam moments, in the model's parameter order.
type Tensors struct {
	Names  []string
	Shapes [][]int64
	Params [][]float32
	M, V   [][]float32
}

// What training writes in a run directory: the checkpoints and artifacts folders, the
// metrics log and the export folder (ExportDir, written by the caller). RunFiles lists them
// with the recorded config, for moving a whole training aside.
const (
	CheckpointsDir = "checkpoints"
	MetricsFile    = "metrics.jsonl"
	ExportDir      = "export"
	ConfigFile     = "config.yaml"
)

// RunFiles are a training's files and folders in its run directory.
var RunFiles = []string{CheckpointsDir, MetricsFile, ConfigFile, ExportDir, ArtifactsDir}

// checkpointDir is the run directory's checkpoint folder.
func checkpointDir(run string) string { return filepath.Join(run, CheckpointsDir) }

// CleanRun removes what a killed process left in a run directory: temporary files of
// atomic writes whose writer is gone, and the weights of a checkpoint without its JSON (a
// checkpoint cut short, or an interrupted prune; the JSON is written last and removed first).
// Call it while holding the run directory's lock.
func CleanRun(run string) error {
	for _, dir := range []string{run, checkpointDir(run), filepath.Join(run, ExportDir), filepath.Join(run, ArtifactsDir)} {
		if _, err := formats.RemoveStaleTemps(dir, "*"); err != nil {
			return err
		}
	}
	weights, err := filepath.Glob(filepath.Join(checkpointDir(run), "*.npz"))
	if err != nil {
		return err
	}
	for _, w := range weights {
		if _, err := os.Stat(strings.TrimSuffix(w, ".npz") + ".json"); errors.Is(err, os.ErrNotExist) {
			if err := os.Remove(w); err != nil {
				return fmt.Errorf("checkpoints: %w", err)
			}
		}
	}
	return nil
}

// SaveCheckpoint writes the tensors (params as "<name>", moments as "adam_m/<name>" and
// "adam_v/<name>") to checkpoints/<tag>.npz, then the state to checkpoints/<tag>.json. Both
// writes are atomic and the JSON goes last, so a checkpoint whose JSON exists is complete.
func SaveCheckpoint(run, tag string, st State, t *Tensors) error {
	dir := checkpointDir(run)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	names := make([]string, 0, 3*len(t.Names))
	arrays := make(map[string]formats.Array, 3*len(t.Names))
	for i, n := range t.Names {
		shape := make([]int, len(t.Shapes[i]))
		for j, d := range t.Shapes[i] {
			shape[j] = int(d)
		}
		arrays[n] = formats.F32Array(t.Params[i], shape...)
		arrays["adam_m/"+n] = formats.F32Array(t.M[i], shape...)
		arrays["adam_v/"+n] = formats.F32Array(t.V[i], shape...)
		names = append(names, n)
	}
	for _, n := range t.Names {
		names = append(names, "adam_m/"+n)
	}
	for _, n := range t.Names {
		names = append(names, "adam_v/"+n)
	}
	st.Weights = tag + ".npz"
	if err := formats.WriteNPZ(filepath.Join(dir, st.Weights), names, arrays); err != nil {
		return fmt.Errorf("checkpoint %s: %w", tag, err)
	}
	fault.Point("checkpoint-weights")
	if err := writeJSON(filepath.Join(dir, tag+".json"), st); err != nil {
		return err
	}
	fault.Point("checkpoint")
	return nil
}

// LoadCheckpoint reads checkpoints/<tag>.json and its tensors into t, whose Names and Shapes
// say what the current model expects; a missing or mis-shaped tensor is an error naming it.
func LoadCheckpoint(run, tag string, t *Tensors) (State, error) {
	var st State
	dir := checkpointDir(run)
	jpath := filepath.Join(dir, tag+".json")
	b, err := os.ReadFile(jpath)
	if err != nil {
		return st, fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("checkpoint %s: %w", jpath, err)
	}
	npz := filepath.Join(dir, st.Weights)
	arrays, err := formats.ReadNPZ(npz)
	if err != nil {
		return st, err
	}
	get := func(name string, i int) ([]float32, error) {
		a, ok := arrays[name]
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: no array %q (a run of another architecture?)", npz, name)
		}
		if a.F32 == nil || !sameShape(a.Shape, t.Shapes[i]) {
			return nil, fmt.Errorf("checkpoint %s: %q has shape %v (%s), the model wants %v float32",
				npz, name, a.Shape, a.DType(), t.Shapes[i])
		}
		return a.F32, nil
	}
	t.Params = make([][]float32, len(t.Names))
	t.M = make([][]float32, len(t.Names))
	t.V = make([][]float32, len(t.Names))
	for i, n := range t.Names {
		if t.Params[i], err = get(n, i); err != nil {
			return st, err
		}
		if t.M[i], err = get("adam_m/"+n, i); err != nil {
			return st, err
		}
		if t.V[i], err = get("adam_v/"+n, i); err != nil {
			return st, err
		}
	}
	return st, nil
}

func sameShape(a []int, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if int64(a[i]) != b[i] {
			return false
		}
	}
	return true
}

// LatestCheckpoint returns the tag of the newest complete epoch or interrupt checkpoint
// ("" when there is none). Tags sort by time: epoch-NNNNN, then epoch-NNNNN-step-NNNNNN.
func LatestCheckpoint(run string) (string, error) {
	tags, err := listCheckpoints(run)
	if err != nil || len(tags) == 0 {
		return "", err
	}
	return tags[len(tags)-1], nil
}

// listCheckpoints lists the complete (JSON present) rolling checkpoints, oldest first.
func listCheckpoints(run string) ([]string, error) {
	entries, err := os.ReadDir(checkpointDir(run))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	var tags []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "epoch-") && strings.HasSuffix(n, ".json") {
			tags = append(tags, strings.TrimSuffix(n, ".json"))
		}
	}
	sort.Strings(tags)
	return tags, nil
}

// epochTag names the checkpoint after a finished epoch or in the middle of one.
func epochTag(epoch, stepInEpoch int) string {
	if stepInEpoch == 0 {
		return fmt.Sprintf("epoch-%05d", epoch)
	}
	return fmt.Sprintf("epoch-%05d-step-%06d", epoch, stepInEpoch)
}

// pruneCheckpoints keeps the newest keep rolling checkpoints and removes the rest (the JSON
// first, so a half-removed checkpoint is never taken for a complete one).
func pruneCheckpoints(run string, keep int) error {
	tags, err := listCheckpoints(run)
	if err != nil {
		return err
	}
	for len(tags) > keep {
		dir := checkpointDir(run)
		if err := os.Remove(filepath.Join(dir, tags[0]+".json")); err != nil {
			return fmt.Errorf("pruning checkpoint %s: %w", tags[0], err)
		}
		fault.Point("prune")
		_ = os.Remove(filepath.Join(dir, tags[0]+".npz"))
		tags = tags[1:]
	}
	return nil
}

// writeJSON writes v as indented JSON, atomically.
func writeJSON(path string, v any) error {
	return formats.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}
