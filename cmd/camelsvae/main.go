// Command camelsvae compresses CAMELS Multifield Dataset maps with a convolutional VAE run by
// ONNX Runtime, compares it with a PCA baseline, and exports the encoder as ONNX.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run())
}

// run executes the command line and returns the exit status: 0 on success, 1 on an error,
// and 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM) when a signal stopped the
// command, after it stopped cleanly: the work is not done, and schedulers must see that.
func run() int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// The first signal asks the running command to stop cleanly (train writes a
	// checkpoint); once it has arrived, a second one ends the process at once.
	go func() {
		s := <-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		cancel(signalError{s.(syscall.Signal)})
	}()
	err := NewRootCommand().ExecuteContext(ctx)
	var sig signalError
	stopped := errors.As(context.Cause(ctx), &sig)
	if err == nil && !stopped {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "camelsvae:", err)
	}
	if stopped {
		fmt.Fprintf(os.Stderr, "camelsvae: stopped by %v (exit %d)\n", sig, 128+int(sig.s))
		return 128 + int(sig.s)
	}
	return 1
}

// signalError is the cause of the context's cancellation when a signal arrived.
type signalError struct{ s syscall.Signal }

func (e signalError) Error() string {
	if e.s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}
