package main

import (
	"context"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/pipeline"
	"github.com/spf13/cobra"
)

// dirOptions are what the commands that work on one run directory run with.
type dirOptions struct {
	Env    pipeline.Env
	Config configs.Config
	Dir    string
}

func newRunCmd(runF func(context.Context, dirOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run --config F [--out RUN_DIR]",
		Short: "The whole pipeline: synth, prepare, train, noskip, pca, encode, eval and its report (finished stages are reused)",
		Long: "run executes synth -> prepare -> train -> noskip -> pca -> encode -> eval into RUN_DIR; eval\n" +
			"writes the report. Each stage is skipped when its outputs exist and its inputs (the config\n" +
			"values it reads and what it reads of the stages before it) are unchanged; a changed config\n" +
			"reruns what depends on the change, and a training with other settings is moved aside.\n" +
			"synth generates CMD-like maps into data.dir when the folder has none of the CMD files (or\n" +
			"holds maps synth made); a folder with only some of them is an error, and real CMD files\n" +
			"are never touched. Ctrl-C during training stops cleanly; run again to resume.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runF(cmd.Context(), dirOptions{Env: envOf(cmd), Config: cfg, Dir: outRunDir(cmd)})
		},
	}
	cmd.Flags().String("out", "", "run directory (default runs/<config name>)")
	return cmd
}

func runRun(ctx context.Context, o dirOptions) error {
	return pipeline.Run(ctx, o.Env, o.Config, o.Dir)
}
