package formats

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ParamNames are the six columns of a CMD parameter table, in file order.
var ParamNames = [6]string{"Omega_m", "sigma_8", "A_SN1", "A_AGN1", "A_SN2", "A_AGN2"}

// Params is one simulation's row of a parameter table.
type Params [6]float64

// ReadParams reads a CMD parameter table: one row per simulation, six whitespace-separated
// finite numbers, no header. Blank lines and lines starting with '#' are skipped.
func ReadParams(path string) ([]Params, error) {
	if err := CheckRegular(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("formats: read params: %w", err)
	}
	return ParseParams(bytes.NewReader(b), path)
}

// ParseParams parses a parameter table from r; name is used in errors (file:line).
func ParseParams(r io.Reader, name string) ([]Params, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var rows []Params
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Fields(text)
		if len(cols) != len(ParamNames) {
			return nil, fmt.Errorf("formats: %w", &DataError{Path: name, Line: line, Map: -1, Pixel: -1, Msg: fmt.Sprintf("%d columns, want 6 (%s)", len(cols), strings.Join(ParamNames[:], " "))})
		}
		var p Params
		for j, c := range cols {
			v, err := strconv.ParseFloat(c, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("formats: %w", &DataError{Path: name, Line: line, Map: -1, Pixel: -1, Msg: fmt.Sprintf("column %d (%s) = %q, want a finite number", j+1, ParamNames[j], c)})
			}
			p[j] = v
		}
		rows = append(rows, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("formats: %s:%d: %w", name, line+1, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("formats: %w", fileError(name, "no parameter rows"))
	}
	return rows, nil
}

// WriteParams writes rows in the CMD layout (five decimals, space-separated) atomically.
func WriteParams(path string, rows []Params) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, p := range rows {
			for j, v := range p {
				if j > 0 {
					bw.WriteByte(' ')
				}
				bw.WriteString(strconv.FormatFloat(v, 'f', 5, 64))
			}
			bw.WriteByte('\n')
		}
		return bw.Flush()
	})
}

// CheckMapsParams checks that a cube of nMaps maps matches a table of rows simulations
// (N_maps = 15 x rows); the error names both files.
func CheckMapsParams(nMaps, rows int, mapsPath, paramsPath string) error {
	if nMaps != MapsPerSim*rows {
		return fmt.Errorf("formats: %w", &DataError{Path: mapsPath, Map: -1, Pixel: -1,
			Msg: fmt.Sprintf("has %d maps, want %d x %d = %d for the %d rows of %s", nMaps, MapsPerSim, rows, MapsPerSim*rows, rows, paramsPath)})
	}
	return nil
}
