package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// envPrefix prefixes every environment override: CAMELSVAE_TRAIN_BATCH=8 sets train.batch.
const envPrefix = "CAMELSVAE"

// NewRootCommand builds the CLI. No globals: every run gets its own viper (see loadConfig).
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "camelsvae",
		Short:         "Compress CAMELS multifield maps with a VAE on ONNX Runtime, against a PCA baseline",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "YAML run config (see configs/); defaults are the study's settings")
	root.PersistentFlags().String("ort-lib", "", "path of libonnxruntime.so (else $CAMELSVAE_ORT_LIB, runtime.library, the make-ort copy, system paths)")
	root.PersistentFlags().String("provider", "", "execution provider: cpu, cuda or webgpu (runtime.provider)")
	root.PersistentFlags().Int("threads", 0, "ONNX Runtime intra-op threads, 0 = one per core (runtime.intra_op_threads)")
	root.AddCommand(newVersionCmd(), newDoctorCmd(), newTrainCmd(), newEncodeCmd(), newExportCmd(), newGraphsCmd(), newPCACmd(), newEvalCmd(), newReportCmd(), newRunCmd(), newSynthCmd(), newPrepareCmd(), newBenchCmd())
	return root
}

// flagKeys maps flag names to the config keys they override.
var flagKeys = map[string]string{
	"provider": "runtime.provider",
	"threads":  "runtime.intra_op_threads",
	"seed":     "seed",
	"epochs":   "train.epochs",
	"batch":    "train.batch",
	"data":     "data.dir",
	"size":     "data.size",
	"workers":  "data.workers",
}

// loadConfig resolves the run config with precedence flag > env (CAMELSVAE_*) > file >
// defaults. Unknown keys in the file are an error, and so is any invalid value; both name the
// key. An explicit --config that is missing is an error naming the file.
func loadConfig(cmd *cobra.Command) (configs.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	return resolveConfig(path, cmd.Flags(), os.Environ())
}

// resolveConfig is loadConfig with its inputs explicit, for tests.
func resolveConfig(path string, flags *pflag.FlagSet, environ []string) (configs.Config, error) {
	var cfg configs.Config
	defaults, err := flatten(configs.Default())
	if err != nil {
		return cfg, err
	}
	v := viper.New()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
		// Unknown keys: read the file alone and compare its leaves with the schema's.
		fv := viper.New()
		fv.SetConfigFile(path)
		fv.SetConfigType("yaml")
		if err := fv.ReadInConfig(); err != nil {
			return cfg, fmt.Errorf("config file %s: %s", path, oneLine(err))
		}
		var unknown []string
		for _, k := range fv.AllKeys() {
			if _, ok := defaults[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return cfg, fmt.Errorf("config file %s: unknown key %q (see configs/config.go for the schema)", path, unknown[0])
		}
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return cfg, fmt.Errorf("config file %s: %s", path, oneLine(err))
		}
	}
	// Env: every key has a default, so every key can come from CAMELSVAE_SECTION_KEY.
	env := map[string]string{}
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, envPrefix+"_") {
			env[k] = val
		}
	}
	for k := range defaults {
		name := envPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(k))
		if val, ok := env[name]; ok {
			v.Set(k, val) // below flags, which are applied next
		}
	}
	if flags != nil {
		flags.Visit(func(f *pflag.Flag) {
			if key, ok := flagKeys[f.Name]; ok {
				v.Set(key, f.Value.String())
			}
		})
	}
	if err := v.UnmarshalExact(&cfg); err != nil {
		return cfg, fmt.Errorf("config: %s", oneLine(err))
	}
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
		return cfg, err
	}
	return cfg, nil
}

// flatten turns the default config into dotted leaf keys (train.batch -> 16).
func flatten(c configs.Config) (map[string]any, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
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

// oneLine folds a multi-line library error into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
