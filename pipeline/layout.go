package pipeline

import (
	"path/filepath"

	"github.com/camelsvae/camelsvae/trainer"
)

// A run directory holds, besides the training's files (trainer.RunFiles: config.yaml,
// checkpoints/, metrics.jsonl, artifacts/, export/):
//
//	splits.json, stats.json   the data's splits and the training split's statistics (Prepare)
//	pca/pca.npz, pca/fit.json the PCA baseline and how long its fit took
//	latents/SET.parquet       the test set encoded by the exported encoder
//	noskip/                   the same model trained without skips, a run directory itself
//	report/                   results.json, report.md, report.html, figures/
//	train.prev-N/             trainings moved aside when `run` met other settings
//	.stages/NAME.json         `run`'s stamp of each stage
//	.lock                     the writer's lock
const (
	StatsFile   = "stats.json"
	SplitsFile  = "splits.json"
	PCAFile     = "pca/pca.npz"
	PCAFitFile  = "pca/fit.json"
	LatentsDir  = "latents"
	NoskipDir   = "noskip"
	ReportDir   = "report"
	ResultsFile = "results.json"
	ReportHTML  = "report.html"
	stageDir    = ".stages"
)

// ExportDir is the folder of a run's exported encoder and decoder.
func ExportDir(run string) string { return filepath.Join(run, trainer.ExportDir) }

// LatentsFile is where `run` encodes a set.
func LatentsFile(run, set string) string { return filepath.Join(run, LatentsDir, set+".parquet") }
