#!/usr/bin/python3
"""numpy peer of BenchmarkLoader: the same work per item on the same files.

For each (map, variant) item, shuffled: read the 3 channel maps by offset from the .npy files
(no whole-cube load), log10 (Mgas, B) / arcsinh (Vgas), z-score, apply the D4 variant
(identity, rot90/180/270, fliplr, flipud), and copy into a (16, 3, 256, 256) float32 batch.
Usage: /usr/bin/python3 preprocess/testdata/bench_numpy.py DIR [MAPS] [REPEATS]
"""
import sys, time
import numpy as np

d = sys.argv[1]
nmaps = int(sys.argv[2]) if len(sys.argv) > 2 else 60
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
fields = ["Mgas", "Vgas", "B"]
cubes = [np.load(f"{d}/Maps_{f}_IllustrisTNG_CV_z=0.00.npy", mmap_mode="r") for f in fields]
H, W = cubes[0].shape[1:]
# Offsets, so each read is a plain pread like the Go reader's ReadAt.
files = [open(c.filename, "rb") for c in cubes]
offsets = [c.offset for c in cubes]
msize = H * W * 4

def read(c, m):
    files[c].seek(offsets[c] + m * msize)
    return np.frombuffer(files[c].read(msize), dtype="<f4").reshape(H, W)

tf = [np.log10, np.arcsinh, np.log10]
# Statistics of the first maps (as the Go benchmark uses train stats).
mean = [float(tf[c](read(c, 0)).mean()) for c in range(3)]
std = [float(tf[c](read(c, 0)).std()) for c in range(3)]
variants = [lambda a: a, lambda a: np.rot90(a, 1), lambda a: np.rot90(a, 2),
            lambda a: np.rot90(a, 3), np.fliplr, np.flipud]
items = [(m, v) for m in range(nmaps) for v in range(6)]
rng = np.random.default_rng(100)
batch = np.empty((16, 3, H, W), dtype=np.float32)
best = 0.0
for r in range(repeats):
    order = rng.permutation(len(items))
    t0 = time.perf_counter()
    k = 0
    for i in order:
        m, v = items[i]
        for c in range(3):
            x = tf[c](read(c, m))
            x -= mean[c]
            x /= std[c]
            batch[k, c] = variants[v](x)
        k = (k + 1) % 16
    dt = time.perf_counter() - t0
    best = max(best, len(items) / dt)
    print(f"repeat {r}: {len(items)} maps in {dt:.3f}s = {len(items)/dt:.1f} maps/s")
print(f"numpy best: {best:.1f} maps/s")
