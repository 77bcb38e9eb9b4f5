package formats

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// WriteNPY writes a float32 array of the given shape (C order) as a .npy file that
// numpy.load reads, atomically.
func WriteNPY(path string, data []float32, shape ...int) error {
	s, err := StageNPY(path, data, shape...)
	if err != nil {
		return err
	}
	return s.Commit()
}

// StageNPY is WriteNPY up to the rename (see Stage).
func StageNPY(path string, data []float32, shape ...int) (*Staged, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return nil, fmt.Errorf("formats: %s: shape %v holds %d values, got %d", path, shape, n, len(data))
	}
	return Stage(path, func(w io.Writer) error {
		if _, err := w.Write(NpyHeaderBytes(shape...)); err != nil {
			return err
		}
		buf := make([]byte, 4*min(len(data), 1<<16))
		for len(data) > 0 {
			k := min(len(data), len(buf)/4)
			for i, v := range data[:k] {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf[:4*k]); err != nil {
				return err
			}
			data = data[k:]
		}
		return nil
	})
}
