// Package formats reads and writes the project's bytes on disk, and does no maths: CMD cubes
// (.npy, read map by map at their offset) and parameter tables, the one .npy codec, .npz
// checkpoints, Arrow and Parquet latents, atomic writes (a temporary file renamed into place,
// or staged and committed with others) and the removal of a killed writer's temporaries. Bad
// input data is a *DataError naming the file and where in it.
//
// It imports nothing of the project, so every other package can use it.
package formats
