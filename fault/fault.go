// Package fault lets tests kill the process at named points, to prove that what it leaves
// on disk can be resumed. CAMELSVAE_FAULT=NAME makes the process SIGKILL itself at the first
// Point(NAME), NAME:N at the N-th. Unset, a Point costs one atomic load.
package fault

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env is the variable that arms a point.
const Env = "CAMELSVAE_FAULT"

var (
	once  sync.Once
	armed atomic.Pointer[string]
	at    int64
	hits  atomic.Int64
)

func arm() {
	name, n, _ := strings.Cut(os.Getenv(Env), ":")
	if name == "" {
		return
	}
	at = 1
	if k, err := strconv.ParseInt(n, 10, 64); err == nil && k > 0 {
		at = k
	}
	armed.Store(&name)
}

// Point kills the process with SIGKILL when it is the armed point's N-th hit.
func Point(name string) {
	once.Do(arm)
	if p := armed.Load(); p == nil || *p != name {
		return
	}
	if hits.Add(1) == at {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
