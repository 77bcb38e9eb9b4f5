package pipeline

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camelsvae/camelsvae/eval"
)

// TestReportReadsNonFinite: `camelsvae report` re-reads results.json and prints NaN and
// infinities as such (JSON numbers cannot hold them; they were written as null and read as 0).
func TestReportReadsNonFinite(t *testing.T) {
	dir := t.TempDir()
	nan, inf := eval.Num(math.NaN()), eval.Num(math.Inf(1))
	res := &eval.Results{Title: "non-finite", TestMaps: 2, Simulations: 1, Methods: []eval.MethodResult{
		{Name: "perfect", MSE: eval.Stat{Mean: 0, Std: 0, N: 2}, PSNR: eval.Stat{Mean: inf, Std: nan, Excluded: 2}, SSIM: eval.Stat{Mean: nan, Std: nan}},
	}}
	if err := eval.WriteReport(filepath.Join(dir, ReportDir), res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	PrintSummary(&out, back, dir)
	line := ""
	for l := range strings.Lines(out.String()) {
		if strings.HasPrefix(l, "perfect") {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) != 4 || f[2] != "+Inf" || f[3] != "NaN" {
		t.Errorf("summary line %q: want PSNR +Inf and SSIM NaN", line)
	}
}
