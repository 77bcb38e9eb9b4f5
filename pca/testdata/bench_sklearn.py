#!/usr/bin/python3
"""scikit-learn's side of pca's BenchmarkPCA1944: randomized PCA (k = 256, its defaults:
10 oversamples, n_iter 'auto' = 4 here) fit + transform + inverse_transform on the rows the Go
benchmark dumped with PCA_BENCH_DUMP. Prints times, the cumulative explained variance ratio
and the peak RSS.

    /usr/bin/python3 pca/testdata/bench_sklearn.py /tmp/pca_bench.npz [exact]

It also prints the CPU kernels OpenBLAS chose: on a virtual CPU that OpenBLAS 0.3.21 does not
recognise it falls back to "Prescott" (SSE3) kernels; OPENBLAS_CORETYPE=SkylakeX selects
the AVX-512 ones, the fair peer for ONNX Runtime's MLAS.
"""
import resource
import sys
import time

import numpy as np
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_info

x = np.load(sys.argv[1])["x"]
solver = "full" if len(sys.argv) > 2 and sys.argv[2] == "exact" else "randomized"
t0 = time.perf_counter()
p = PCA(n_components=256, svd_solver=solver, random_state=100).fit(x)
t1 = time.perf_counter()
z = p.transform(x)
t2 = time.perf_counter()
rec = p.inverse_transform(z)
t3 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"sklearn PCA ({solver}, {x.shape}, {x.dtype}): fit {t1 - t0:.2f} s, transform {t2 - t1:.2f} s, "
      f"inverse {t3 - t2:.2f} s, total {t3 - t0:.2f} s; cumulative ratio {p.explained_variance_ratio_.sum():.6f}; "
      f"rec[0][0] {rec[0, 0]:.4f}; peak RSS {rss:.2f} GiB")
blas = [f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture')} x{lib.get('num_threads')}" for lib in threadpool_info()]
print("BLAS:", "; ".join(blas))
