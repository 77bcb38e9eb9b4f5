package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/camelsvae/camelsvae/formats"
)

// stageDir holds one stamp per pipeline stage of a run directory.
const stageDir = ".stages"

// stamp records that a stage ran with given inputs: Hash covers the config values the stage
// reads and the stamps of the stages it depends on, so a changed config reruns exactly the
// stages downstream of the change.
type stamp struct {
	Stage   string    `json:"stage"`
	Hash    string    `json:"hash"`
	Done    bool      `json:"done"`
	Seconds float64   `json:"seconds"`
	When    time.Time `json:"when"`
}

// stage is one step of `camelsvae run`.
type stage struct {
	name    string
	inputs  []any    // config parts the stage reads
	after   []string // stages whose outputs it reads
	outputs []string // files it must leave behind (relative to the run directory or absolute)
	// run does the work; resume is true when an earlier attempt with the same inputs
	// started and did not finish (training continues from its checkpoint).
	run func(resume bool) error
	// clean removes the outputs of an attempt with other inputs before a fresh run.
	clean func() error
}

// pipeline runs stages in order, skipping those whose stamp matches and whose outputs exist.
type pipeline struct {
	dir    string
	out    io.Writer
	hashes map[string]string
}

func (p *pipeline) stampPath(name string) string { return filepath.Join(p.dir, stageDir, name+".json") }

func (p *pipeline) readStamp(name string) (stamp, bool) {
	var s stamp
	b, err := os.ReadFile(p.stampPath(name))
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

func (p *pipeline) writeStamp(s stamp) error {
	if err := os.MkdirAll(filepath.Join(p.dir, stageDir), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return formats.WriteFile(p.stampPath(s.Stage), append(b, '\n'))
}

func (p *pipeline) hash(st stage) (string, error) {
	h := sha256.New()
	for _, in := range st.inputs {
		b, err := json.Marshal(in)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	for _, a := range st.after {
		hv, ok := p.hashes[a]
		if !ok {
			return "", fmt.Errorf("stage %s depends on %s, which has not run", st.name, a)
		}
		h.Write([]byte(hv))
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (p *pipeline) exists(path string) bool {
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	_, err := os.Stat(path)
	return err == nil
}

// run executes the stages; it returns which ran and which were reused.
func (p *pipeline) run(stages []stage) error {
	if p.hashes == nil {
		p.hashes = map[string]string{}
	}
	for i, st := range stages {
		h, err := p.hash(st)
		if err != nil {
			return err
		}
		p.hashes[st.name] = h
		old, ok := p.readStamp(st.name)
		complete := true
		for _, o := range st.outputs {
			complete = complete && p.exists(o)
		}
		prefix := fmt.Sprintf("[%d/%d] %-8s", i+1, len(stages), st.name)
		if ok && old.Hash == h && old.Done && complete {
			fmt.Fprintf(p.out, "%s up to date (ran %s, %.0fs)\n", prefix, old.When.Format("2006-01-02 15:04"), old.Seconds)
			continue
		}
		resume := ok && old.Hash == h && !old.Done
		if ok && old.Hash != h && st.clean != nil {
			if err := st.clean(); err != nil {
				return fmt.Errorf("stage %s: removing outdated outputs: %w", st.name, err)
			}
		}
		switch {
		case resume:
			fmt.Fprintf(p.out, "%s resuming an unfinished run\n", prefix)
		case ok && old.Hash != h:
			fmt.Fprintf(p.out, "%s inputs changed, running again\n", prefix)
		default:
			fmt.Fprintf(p.out, "%s running\n", prefix)
		}
		start := time.Now()
		if err := p.writeStamp(stamp{Stage: st.name, Hash: h, When: start}); err != nil {
			return err
		}
		if err := st.run(resume); err != nil {
			return fmt.Errorf("stage %s: %w", st.name, err)
		}
		for _, o := range st.outputs {
			if !p.exists(o) {
				return fmt.Errorf("stage %s finished without writing %s", st.name, o)
			}
		}
		secs := time.Since(start).Seconds()
		if err := p.writeStamp(stamp{Stage: st.name, Hash: h, Done: true, Seconds: secs, When: start}); err != nil {
			return err
		}
		fmt.Fprintf(p.out, "%s done in %.1fs\n", prefix, secs)
	}
	return nil
}

// errStop ends the pipeline early without an error (Ctrl-C during training).
var errStop = errors.New("pipeline stopped")

// removeAll removes run-directory paths (relative to dir).
func removeAll(dir string, paths ...string) error {
	for _, p := range paths {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			return err
		}
	}
	return nil
}
