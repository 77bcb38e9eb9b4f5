package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md and testdata/artifacts.sha256 from the code")

// cliReference renders every command's usage, description and flags as Markdown.
func cliReference() string {
	var b strings.Builder
	root := NewRootCommand()
	b.WriteString("# camelsvae command reference\n\nGenerated from the cobra commands by `go test ./cmd/camelsvae -run CLIReference -update`; a test keeps it current.\n\n")
	b.WriteString("Global flags (every command):\n\n```\n" + root.PersistentFlags().FlagUsages() + "```\n\n")
	b.WriteString("Every config key can also be set in the environment as `CAMELSVAE_SECTION_KEY` (for example `CAMELSVAE_TRAIN_BATCH=8`); precedence is flag > env > config file > defaults.\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			fmt.Fprintf(&b, "\n## camelsvae %s\n\n%s\n\n```\n%s\n```\n", sub.Name(), sub.Short, sub.UseLine())
			if sub.Long != "" {
				fmt.Fprintf(&b, "\n%s\n", sub.Long)
			}
			if f := sub.LocalNonPersistentFlags().FlagUsages(); f != "" {
				fmt.Fprintf(&b, "\nFlags:\n\n```\n%s```\n", f)
			}
			walk(sub)
		}
	}
	walk(root)
	return b.String()
}

// TestCLIReference keeps docs/cli.md equal to what the commands say about themselves.
func TestCLIReference(t *testing.T) {
	const path = "../../docs/cli.md"
	want := cliReference()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if string(got) != want {
		t.Fatalf("docs/cli.md is stale: go test ./cmd/camelsvae -run CLIReference -update")
	}
}
