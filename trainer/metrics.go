package trainer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/camelsvae/camelsvae/formats"
)

// Terms are the loss terms of the VAE objective, as sums or means.
type Terms struct {
	Total float64 `json:"total"`
	MSE   float64 `json:"mse"`
	SSIM  float64 `json:"ssim"`
	KL    float64 `json:"kl"`
}

func (t *Terms) add(o Terms, w float64) {
	t.Total += w * o.Total
	t.MSE += w * o.MSE
	t.SSIM += w * o.SSIM
	t.KL += w * o.KL
}

func (t Terms) scaled(s float64) Terms {
	return Terms{t.Total * s, t.MSE * s, t.SSIM * s, t.KL * s}
}

func (t Terms) finite() bool {
	for _, v := range []float64{t.Total, t.MSE, t.SSIM, t.KL} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch int   `json:"epoch"`
	Step  int   `json:"step"`
	Train Terms `json:"train"`
	Val   Terms `json:"val"`
	// KLWeight is the warmed-up weight training used this epoch; validation totals always
	// use the final beta (ValKLWeight) so that epochs compare.
	KLWeight    float64 `json:"kl_weight"`
	ValKLWeight float64 `json:"val_kl_weight"`
	LR          float64 `json:"lr"`
	ImagesPS    float64 `json:"images_per_s"`
	Elapsed     float64 `json:"elapsed_s"`
	Best        bool    `json:"best"`
}

// ReadMetrics reads metrics.jsonl (nil when absent).
func ReadMetrics(path string) ([]EpochMetrics, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []EpochMetrics
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var m EpochMetrics
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// writeMetrics rewrites metrics.jsonl atomically with the given lines. Rewriting (rather than
// appending) lets a resumed run drop lines past its checkpoint and never leaves half a line.
func writeMetrics(path string, ms []EpochMetrics) error {
	return formats.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, m := range ms {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	})
}
