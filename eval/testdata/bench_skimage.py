#!/usr/bin/python3
"""Times scikit-image's SSIM on the workload of eval's BenchmarkSSIM1000: 1000 pairs of
3x256x256 float32 maps, structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=0), one map at a time as a user would.

    /usr/bin/python3 eval/testdata/bench_skimage.py [n_maps]
"""
import sys
import time

import numpy as np
from skimage.metrics import structural_similarity

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rng = np.random.default_rng(1)
# Values do not change the cost; build the pairs one at a time to keep memory small.
base = rng.standard_normal((3, 256, 256)).astype(np.float32)
t0 = time.perf_counter()
total = 0.0
for i in range(n):
    t = np.roll(base, i, axis=2)
    r = t + np.float32(0.1) * base
    total += structural_similarity(t, r, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=1, channel_axis=0)
dt = time.perf_counter() - t0
print(f"skimage SSIM: {n} maps of 3x256x256 in {dt:.2f} s = {n / dt:.1f} maps/s (mean SSIM {total / n:.4f})")
