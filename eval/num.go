package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Num is a float64 whose JSON form keeps NaN and infinities, which JSON numbers cannot hold:
// they are written as the strings "NaN", "Infinity" and "-Infinity" (what Python's float()
// and JavaScript's Number() read back), finite values as the shortest round-tripping number.
// A null (older results.json files) reads as NaN. It lets results.json say "not computed"
// (NaN) and "a perfect map" (PSNR +Inf) instead of a null or a 0 a reader could mistake.
type Num float64

// MarshalJSON implements json.Marshaler.
func (x Num) MarshalJSON() ([]byte, error) {
	f := float64(x)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (x *Num) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null", `"NaN"`:
		*x = Num(math.NaN())
		return nil
	case `"Infinity"`:
		*x = Num(math.Inf(1))
		return nil
	case `"-Infinity"`:
		*x = Num(math.Inf(-1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("eval: %s is not a number, \"NaN\", \"Infinity\" or \"-Infinity\"", b)
	}
	*x = Num(f)
	return nil
}

// Nums converts a slice of float64 to Num.
func Nums(x []float64) []Num {
	if x == nil {
		return nil
	}
	out := make([]Num, len(x))
	for i, v := range x {
		out[i] = Num(v)
	}
	return out
}

// Floats converts a slice of Num to float64.
func Floats(x []Num) []float64 {
	if x == nil {
		return nil
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
