package eval

// must returns v and panics on err (which fails the test with its stack), like template.Must.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
