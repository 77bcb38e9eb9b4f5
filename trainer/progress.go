package trainer

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows where training stands: a bar with epoch, step, loss and ETA on a terminal,
// plain periodic lines (at most one per Every) elsewhere, such as CI logs.
type Progress struct {
	W     io.Writer
	Every time.Duration
	tty   bool
	bar   *progressbar.ProgressBar
	last  time.Time
	total int
	epoch int
}

// NewProgress writes to w; it draws a bar only when w is a terminal.
func NewProgress(w io.Writer) *Progress {
	p := &Progress{W: w, Every: 10 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// StartEpoch begins an epoch of total steps.
func (p *Progress) StartEpoch(epoch, epochs, total, done int) {
	if p == nil {
		return
	}
	p.total, p.epoch, p.last = total, epoch, time.Now()
	if p.tty {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.W),
			progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		_ = p.bar.Set(done)
	}
}

// Step reports step (1-based within the epoch) and the running mean loss.
func (p *Progress) Step(step int, loss float64, imagesPerS float64) {
	if p == nil {
		return
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("epoch %d  loss %.4f  %.1f img/s", p.epoch, loss, imagesPerS))
		_ = p.bar.Set(step)
		return
	}
	if time.Since(p.last) >= p.Every {
		p.last = time.Now()
		fmt.Fprintf(p.W, "  epoch %d step %d/%d loss %.5f (%.1f images/s)\n", p.epoch, step, p.total, loss, imagesPerS)
	}
}

// EndEpoch clears the bar and prints the epoch's summary line.
func (p *Progress) EndEpoch(m EpochMetrics, epochs int) {
	if p == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
	mark := ""
	if m.Best {
		mark = " *best"
	}
	fmt.Fprintf(p.W, "epoch %d/%d  train %.5f (mse %.5f ssim %.4f kl %.3f)  val %.5f (mse %.5f ssim %.4f)  kl_w %.4f  %.1f img/s  %.0fs%s\n",
		m.Epoch, epochs, m.Train.Total, m.Train.MSE, m.Train.SSIM, m.Train.KL, m.Val.Total, m.Val.MSE, m.Val.SSIM,
		m.KLWeight, m.ImagesPS, m.Elapsed, mark)
}
