package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

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
	root.AddCommand(newVersionCmd(), newDoctorCmd(), newTrainCmd(trainRun), newEncodeCmd(encodeRun), newExportCmd(),
		newGraphsCmd(), newPCACmd(pcaRun), newEvalCmd(evalRun), newReportCmd(), newRunCmd(runRun), newSynthCmd(), newPrepareCmd(prepareRun), newBenchCmd())
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
// Unknown CAMELSVAE_* variables are warned about on stderr.
func loadConfig(cmd *cobra.Command) (configs.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	cfg, warnings, err := resolveConfigWarn(path, cmd.Flags(), os.Environ())
	printWarnings(cmd, warnings)
	return cfg, err
}

// printWarnings writes each warning as one line on the command's stderr.
func printWarnings(cmd *cobra.Command, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(cmd.ErrOrStderr(), "camelsvae: warning: %s\n", w)
	}
}

// runDirConfig is loadRunConfig for the commands that take --run: an empty --run is an
// error that says so, and unknown CAMELSVAE_* variables are warned about.
func runDirConfig(cmd *cobra.Command, run string) (configs.Config, error) {
	if run == "" {
		return configs.Config{}, errors.New("--run is required (a run directory made by `camelsvae train` or `camelsvae run`)")
	}
	return loadRunConfig(cmd, run)
}

// resolveConfig is loadConfig with its inputs explicit, for tests; it drops the warnings.
func resolveConfig(path string, flags *pflag.FlagSet, environ []string) (configs.Config, error) {
	cfg, _, err := resolveConfigWarn(path, flags, environ)
	return cfg, err
}

// resolveConfigWarn is configs.Load with the flags that override config keys (flagKeys).
func resolveConfigWarn(path string, flags *pflag.FlagSet, environ []string) (configs.Config, []string, error) {
	return configs.Load(path, flagOverrides(flags), environ)
}

// flagOverrides are the config keys the set flags override (flagKeys), with their values.
func flagOverrides(flags *pflag.FlagSet) map[string]string {
	overrides := map[string]string{}
	if flags != nil {
		flags.Visit(func(f *pflag.Flag) {
			if key, ok := flagKeys[f.Name]; ok {
				overrides[key] = f.Value.String()
			}
		})
	}
	return overrides
}
