package configs

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Flatten returns a config as dotted leaf keys (train.batch -> 16): the names that YAML
// files and CAMELSVAE_SECTION_KEY variables use.
func Flatten(c Config) (map[string]any, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, val := range m {
			if sub, ok := val.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = val
		}
	}
	walk("", m)
	return out, nil
}

// Resumable are the keys that a resumed run may change: they extend or stop training, but
// no step computes anything else because of them.
var Resumable = []string{"train.epochs", "train.patience"}

// notTraining are keys (or sections, ending in ".") that never change a trained model: the
// test set, how fast data is read, checkpoint pruning, the validation batch, the baseline,
// the evaluation and the runtime. synth settings change the model only through the maps
// they generate, which a run checks by their statistics.
var notTraining = []string{"data.test_set", "data.test_maps", "data.workers", "data.prefetch", "data.cache_mb",
	"train.keep_last", "train.eval_batch", "synth.", "pca.", "eval.", "runtime."}

// DefinesTraining reports whether a key takes part in what a trained model is: the data and
// its splits, the model, the loss, the optimizer and the seed (train.epochs and
// train.patience included: they say how far it went).
func DefinesTraining(key string) bool {
	for _, k := range notTraining {
		if key == k || (strings.HasSuffix(k, ".") && strings.HasPrefix(key, k)) {
			return false
		}
	}
	return true
}

// TrainingKeys returns the keys of c that define training, without the Resumable ones:
// equal maps mean a checkpoint of one config can be resumed under the other.
func TrainingKeys(c Config) (map[string]any, error) {
	flat, err := Flatten(c)
	if err != nil {
		return nil, err
	}
	for k := range flat {
		if !DefinesTraining(k) || slices.Contains(Resumable, k) {
			delete(flat, k)
		}
	}
	return flat, nil
}

// TrainingDiff describes the keys that define training and differ between a run's config
// (was) and another (now), as "train.batch 8 -> 4", sorted by key; empty when a run of was
// can be resumed under now.
func TrainingDiff(was, now Config) ([]string, error) {
	a, err := TrainingKeys(was)
	if err != nil {
		return nil, err
	}
	b, err := TrainingKeys(now)
	if err != nil {
		return nil, err
	}
	var out []string
	for k, v := range a {
		if !reflect.DeepEqual(v, b[k]) {
			out = append(out, fmt.Sprintf("%s %v -> %v", k, v, b[k]))
		}
	}
	slices.Sort(out)
	return out, nil
}
