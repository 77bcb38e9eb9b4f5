// Command camelsvae compresses CAMELS Multifield Dataset maps with a convolutional VAE run by
// ONNX Runtime, compares it with a PCA baseline, and exports the encoder as ONNX.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C (or SIGTERM) asks the running command to stop cleanly (train writes a
	// checkpoint); once it has, a second one ends the process at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	if err := NewRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "camelsvae:", err)
		stop()
		os.Exit(1)
	}
}
