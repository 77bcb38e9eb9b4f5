// Command fatbin strips a CUDA shared library to the GPU architectures it is told to keep:
//
//	go run ./cmd/fatbin -keep sm_90 IN OUT
//
// writes OUT (atomically, IN's mode) with the cubin payloads of every other architecture
// zeroed and everything else byte for byte as in IN (see package onnx/fatbin). IN is never
// changed; OUT may be IN.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/camelsvae/camelsvae/formats"
	"github.com/camelsvae/camelsvae/onnx/fatbin"
)

func main() {
	keepFlag := flag.String("keep", "sm_90", "architectures to keep, comma-separated (sm_90,sm_120)")
	quiet := flag.Bool("q", false, "print nothing on success")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: fatbin [-keep sm_90[,sm_NN...]] [-q] IN OUT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*keepFlag, flag.Arg(0), flag.Arg(1), *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "fatbin:", err)
		os.Exit(1)
	}
}

func run(keepList, in, out string, quiet bool) error {
	var keep []uint32
	for _, s := range strings.Split(keepList, ",") {
		a, err := fatbin.ParseArch(s)
		if err != nil {
			return err
		}
		keep = append(keep, a)
	}
	fi, err := os.Stat(in)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	rep, err := fatbin.Strip(b, keep...)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(rep.Sections) == 0 {
		return fmt.Errorf("%s: no fatbin section (.nv_fatbin)", in)
	}
	if err := formats.WriteFile(out, b); err != nil {
		return err
	}
	if err := os.Chmod(out, fi.Mode().Perm()); err != nil {
		return err
	}
	if !quiet {
		fmt.Printf("%s: %s\n", out, rep)
	}
	return nil
}
