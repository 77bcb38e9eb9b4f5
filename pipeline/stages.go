package pipeline

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

// stamp records that a stage ran with given inputs: Hash covers the config values that
// define its outputs and the digests of what it reads from earlier stages; Extend covers
// values that a finished stage takes on by resuming (train.epochs). Digests are what it
// hands on to later stages.
type stamp struct {
	Stage   string            `json:"stage"`
	Hash    string            `json:"hash"`
	Extend  string            `json:"extend,omitempty"`
	Digests map[string]string `json:"digests,omitempty"`
	Done    bool              `json:"done"`
	Seconds float64           `json:"seconds"`
	When    time.Time         `json:"when"`
}

// stage is one step of `camelsvae run`.
type stage struct {
	name string
	// enabled says whether this config runs the stage; the digests a disabled stage would
	// publish are left out of the hashes of the stages after it.
	enabled bool
	// inputs are the config parts that define the stage's outputs; extend those that a
	// finished stage takes on by resuming.
	inputs, extend []any
	// after names the digests it reads: a stage's name, or a key another stage publishes.
	after   []string
	outputs []string // files it must leave behind (relative to the run directory or absolute)
	// run does the work; resume is true when an earlier attempt with the same inputs
	// exists (unfinished, or finished with other extend values).
	run func(resume bool) error
	// retire clears the outputs of an attempt with other inputs before a fresh run.
	retire func() error
	// publish returns digests of what the stage hands on, by key; without it the stage
	// publishes its input hash (and its extend inputs) under its name.
	publish func() (map[string]string, error)
}

// pipeline runs stages in order, skipping those whose stamp matches and whose outputs exist.
type pipeline struct {
	dir      string
	out      io.Writer
	digests  map[string]string
	disabled map[string]bool
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

// digest hashes values as JSON (16 hex digits).
func digest(values ...any) (string, error) {
	h := sha256.New()
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// fileDigest hashes the contents of files (relative to dir).
func fileDigest(dir string, files ...string) (string, error) {
	h := sha256.New()
	for _, f := range files {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (p *pipeline) hash(st stage) (string, error) {
	in := []any{st.inputs}
	for _, a := range st.after {
		if p.disabled[a] {
			continue
		}
		d, ok := p.digests[a]
		if !ok {
			return "", fmt.Errorf("stage %s depends on %s, which has not run", st.name, a)
		}
		in = append(in, d)
	}
	return digest(in...)
}

func (p *pipeline) exists(path string) bool {
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	_, err := os.Stat(path)
	return err == nil
}

// run executes the enabled stages in order.
func (p *pipeline) run(all []stage) error {
	p.digests, p.disabled = map[string]string{}, map[string]bool{}
	var stages []stage
	for _, st := range all {
		if st.enabled {
			stages = append(stages, st)
		} else {
			p.disabled[st.name] = true
		}
	}
	for i, st := range stages {
		h, err := p.hash(st)
		if err != nil {
			return err
		}
		ext := ""
		if st.extend != nil {
			if ext, err = digest(st.extend...); err != nil {
				return err
			}
		}
		old, ok := p.readStamp(st.name)
		complete := true
		for _, o := range st.outputs {
			complete = complete && p.exists(o)
		}
		prefix := fmt.Sprintf("[%d/%d] %-8s", i+1, len(stages), st.name)
		same := ok && old.Hash == h
		if same && old.Done && old.Extend == ext && complete {
			fmt.Fprintf(p.out, "%s up to date (ran %s, %.0fs)\n", prefix, old.When.Format("2006-01-02 15:04"), old.Seconds)
			p.publish(st, h, ext, old.Digests)
			continue
		}
		switch {
		case same && old.Done && old.Extend != ext:
			fmt.Fprintf(p.out, "%s continuing: settings that extend it changed\n", prefix)
		case same && !old.Done:
			fmt.Fprintf(p.out, "%s resuming an unfinished run\n", prefix)
		case ok && !same:
			fmt.Fprintf(p.out, "%s inputs changed, running again\n", prefix)
		default:
			fmt.Fprintf(p.out, "%s running\n", prefix)
		}
		if ok && !same && st.retire != nil {
			if err := st.retire(); err != nil {
				return fmt.Errorf("stage %s: %w", st.name, err)
			}
		}
		start := time.Now()
		if err := p.writeStamp(stamp{Stage: st.name, Hash: h, When: start}); err != nil {
			return err
		}
		if err := st.run(same); err != nil {
			return fmt.Errorf("stage %s: %w", st.name, err)
		}
		for _, o := range st.outputs {
			if !p.exists(o) {
				return fmt.Errorf("stage %s finished without writing %s", st.name, o)
			}
		}
		var digests map[string]string
		if st.publish != nil {
			if digests, err = st.publish(); err != nil {
				return fmt.Errorf("stage %s: %w", st.name, err)
			}
		}
		secs := time.Since(start).Seconds()
		if err := p.writeStamp(stamp{Stage: st.name, Hash: h, Extend: ext, Digests: digests, Done: true, Seconds: secs, When: start}); err != nil {
			return err
		}
		p.publish(st, h, ext, digests)
		fmt.Fprintf(p.out, "%s done in %.1fs\n", prefix, secs)
	}
	return nil
}

// publish records what a finished stage hands on: its digests, or its input hash (with its
// extend inputs, which change its outputs too).
func (p *pipeline) publish(st stage, hash, ext string, digests map[string]string) {
	if st.publish == nil || digests == nil {
		if ext != "" {
			hash, _ = digest(hash, ext)
		}
		p.digests[st.name] = hash
		return
	}
	for k, v := range digests {
		p.digests[k] = v
	}
}

// moveAside moves the run-directory paths that exist into a new folder dir/base.prev-N (the
// first free N) and returns its name; nothing is deleted.
func moveAside(dir, base string, paths ...string) (string, error) {
	var dest string
	for n := 1; ; n++ {
		dest = fmt.Sprintf("%s.prev-%d", base, n)
		if _, err := os.Lstat(filepath.Join(dir, dest)); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	moved := false
	for _, p := range paths {
		src := filepath.Join(dir, p)
		if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if !moved {
			if err := os.Mkdir(filepath.Join(dir, dest), 0o755); err != nil {
				return "", err
			}
			moved = true
		}
		if err := os.Rename(src, filepath.Join(dir, dest, filepath.Base(p))); err != nil {
			return "", err
		}
	}
	if !moved {
		return "", nil
	}
	return dest, nil
}
