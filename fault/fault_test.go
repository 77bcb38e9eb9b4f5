package fault

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestPoint: an armed point kills the process at its N-th hit and no earlier; other points
// do nothing.
func TestPoint(t *testing.T) {
	if os.Getenv(Env) != "" {
		Point("other")
		for i := 1; i <= 3; i++ {
			os.Stdout.WriteString("hit ")
			Point("here")
		}
		os.Stdout.WriteString("survived")
		return
	}
	for _, tc := range []struct{ env, out string }{{"here", "hit "}, {"here:3", "hit hit hit "}, {"here:9", "survived"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPoint$")
		cmd.Env = append(os.Environ(), Env+"="+tc.env)
		out, err := cmd.Output()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		if tc.out == "survived" {
			if err != nil || !strings.Contains(string(out), "survived") {
				t.Errorf("%s: %v %q, want to survive", tc.env, err, out)
			}
			continue
		}
		if !killed || string(out) != tc.out {
			t.Errorf("%s: %v, output %q; want SIGKILL after %q", tc.env, err, out, tc.out)
		}
	}
}
