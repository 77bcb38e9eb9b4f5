package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/camelsvae/camelsvae/onnx"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the camelsvae, Go and pinned ONNX Runtime versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok {
				v = bi.Main.Version
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						v += " " + s.Value[:12]
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "camelsvae %s\ngo %s %s/%s\nonnxruntime pinned %s\n",
				v, runtime.Version(), runtime.GOOS, runtime.GOARCH, onnx.ORTVersion)
			return nil
		},
	}
}

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the ONNX Runtime library and which execution providers work here",
		Long: "doctor loads ONNX Runtime the way every command does, prints its version and path, and\n" +
			"tries a session on each execution provider (cpu, cuda, webgpu). For cuda it names the\n" +
			"provider plugin (runtime.cuda_library, or the copy `make ort-cuda` fetches) and every CUDA or\n" +
			"cuDNN library it needs that cannot be found. It fails when the library is missing or the\n" +
			"configured provider (runtime.provider, --provider) cannot run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			lib, _ := cmd.Flags().GetString("ort-lib")
			path, err := onnx.Setup(lib, cfg.Runtime)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			threads := "one per core"
			if cfg.Runtime.IntraOpThreads > 0 {
				threads = fmt.Sprint(cfg.Runtime.IntraOpThreads)
			}
			fmt.Fprintf(out, "ONNX Runtime %s\nlibrary      %s\ngo           %s, %d CPUs\nthreads      %s (intra-op), spinning %v\n",
				onnx.Version(), path, runtime.Version(), runtime.NumCPU(), threads, cfg.Runtime.Spinning)
			fmt.Fprintln(out, "providers:")
			avail := onnx.Providers(cfg.Runtime)
			for _, p := range []string{"cpu", "cuda", "webgpu"} {
				if avail[p] == nil {
					fmt.Fprintf(out, "  %-7s available\n", p)
				} else {
					fmt.Fprintf(out, "  %-7s unavailable: %v\n", p, avail[p])
				}
			}
			// The CUDA provider is a plugin library: say which one, and each library it needs
			// that cannot be found, with what provides it.
			if plugin, err := onnx.FindCUDAProvider(cfg.Runtime.CUDALibrary); err != nil {
				fmt.Fprintf(out, "cuda plugin  %v\n", err)
			} else if plugin == "" {
				fmt.Fprintf(out, "cuda plugin  none found (`make ort-cuda` fetches %s)\n", onnx.CUDAProviderLibrary)
			} else {
				fmt.Fprintf(out, "cuda plugin  %s\n", plugin)
				missing, err := onnx.MissingLibraries(plugin)
				if err != nil {
					fmt.Fprintf(out, "  %v\n", err)
				}
				for _, m := range append(missing, onnx.MissingAtRunTime()...) {
					fmt.Fprintf(out, "  missing    %s (%s)\n", m.Name, m.Provides)
				}
				if avail["cuda"] == nil {
					devs, _ := onnx.EPDevices()
					for _, d := range devs {
						fmt.Fprintf(out, "  device     %s on %s %s\n", d.EP, d.Vendor, d.Type)
					}
				}
			}
			if a, err := onnx.VulkanAdapters(); err != nil {
				fmt.Fprintf(out, "vulkan       %v (webgpu needs a Vulkan loader and driver)\n", err)
			} else {
				for i, ad := range a {
					what := "adapter"
					if i == 0 {
						what = "adapter (webgpu's choice)"
					}
					fmt.Fprintf(out, "vulkan       %s %s\n", what, ad)
				}
			}
			if err := avail[cfg.Runtime.Provider]; err != nil {
				if cfg.Runtime.Fallback == "cpu" {
					fmt.Fprintf(out, "configured provider %s is unavailable; runs will fall back to cpu\n", cfg.Runtime.Provider)
					return nil
				}
				return fmt.Errorf("configured provider %s: %w", cfg.Runtime.Provider, err)
			}
			fmt.Fprintf(out, "configured provider %s: ok\n", cfg.Runtime.Provider)
			return nil
		},
	}
}
