// Package pipeline owns a run directory and what happens in it: its layout, the data a run
// prepares (splits and statistics), one function per stage (synth, prepare, train, pca,
// encode, eval) and `camelsvae run`'s declarative stage table, whose stamps let a second run
// reuse what is up to date and rerun what a changed config reaches.
//
// The CLI (cmd/camelsvae) only parses flags into a config and an Env and calls these.
package pipeline

import (
	"fmt"
	"io"

	"github.com/camelsvae/camelsvae/configs"
	"github.com/camelsvae/camelsvae/lock"
	"github.com/camelsvae/camelsvae/onnx"
)

// Env is what stages take from the process that runs them.
type Env struct {
	// Out receives progress and summaries, Err warnings (nil: discarded).
	Out, Err io.Writer
	// ORTLib is an explicit ONNX Runtime library (--ort-lib), else found as onnx.Setup does.
	ORTLib string
	// ConfigPath is the config file the run came from, for messages that suggest a command.
	ConfigPath string
}

func (e Env) out() io.Writer {
	if e.Out == nil {
		return io.Discard
	}
	return e.Out
}

// warn writes warnings, one line each, to Err.
func (e Env) warn(warnings ...string) {
	for _, w := range warnings {
		if e.Err != nil {
			fmt.Fprintf(e.Err, "camelsvae: warning: %s\n", w)
		}
	}
}

// SetupRuntime loads ONNX Runtime for cfg and, for a GPU provider, checks at once that it
// runs, so that a command fails at its start rather than after reading its data.
func SetupRuntime(env Env, cfg configs.Config) error {
	if _, err := onnx.Setup(env.ORTLib, cfg.Runtime); err != nil {
		return err
	}
	if cfg.Runtime.Provider != "cpu" {
		warning, err := onnx.CheckProvider(cfg.Runtime)
		if warning != "" {
			env.warn(warning)
		}
		return err
	}
	return nil
}

// Lock takes the run directory for this process (see package lock): every stage that writes
// into it runs under the lock; encode and eval only read and need none.
func Lock(dir, what string) (*lock.Lock, error) { return lock.Acquire(dir, what) }
