package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAcquire: a second holder is refused naming the first one's pid; after Release the
// directory can be locked again.
func TestAcquire(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	l, err := Acquire(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "run")
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() || held.What != "train" {
		t.Fatalf("second Acquire: %v, want a HeldError naming pid %d (train)", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("message does not name the holder: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir, "run")
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// TestStaleLockTakenOver: a lock held by a process that was SIGKILLed is free again.
func TestStaleLockTakenOver(t *testing.T) {
	if os.Getenv("LOCK_TEST_HOLD") != "" {
		if _, err := Acquire(os.Getenv("LOCK_TEST_HOLD"), "holder"); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleLockTakenOver$")
	cmd.Env = append(os.Environ(), "LOCK_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("holder did not lock: %q %v", buf, err)
	}
	var held *HeldError
	if _, err := Acquire(dir, "x"); !errors.As(err, &held) || held.PID != cmd.Process.Pid {
		t.Fatalf("while the holder lives: %v, want HeldError with pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, "x")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
	b, _ := os.ReadFile(filepath.Join(dir, File))
	if !strings.HasPrefix(string(b), strconv.Itoa(os.Getpid())+" x") {
		t.Errorf("lock file records %q, want this process", b)
	}
}
