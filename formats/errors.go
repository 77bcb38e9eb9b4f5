package formats

import (
	"fmt"
	"strconv"
)

// DataError is input data that is not what the program expects: the file, where in it, and
// what was expected. Callers and tests match it with errors.As; its message is one line.
type DataError struct {
	Path string
	// Line is the line of a text file (0: none). Map and Pixel locate the problem in a CMD
	// cube: -1 when it is not one map or one pixel.
	Line, Map, Pixel int
	// Field is the CMD field (Mgas, Vgas, B), when known.
	Field string
	// Msg says what is wrong and what was wanted.
	Msg string
}

// fileError is a DataError about a whole file.
func fileError(path, format string, args ...any) *DataError {
	return &DataError{Path: path, Map: -1, Pixel: -1, Msg: fmt.Sprintf(format, args...)}
}

func (e *DataError) Error() string {
	s := e.Path
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Map >= 0 {
		s += fmt.Sprintf(": map %d", e.Map)
	}
	if e.Field != "" {
		s += ": field " + e.Field
	}
	return s + ": " + e.Msg
}
