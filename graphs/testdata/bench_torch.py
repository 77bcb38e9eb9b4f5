#!/usr/bin/python3
"""PyTorch peer of graphs' BenchmarkTrainStep: one training step (forward, the study's loss
with valid-region SSIM and free-bits KL, backward, torch.optim.Adam) at batch 16, two threads.

Usage: /usr/bin/python3 graphs/testdata/bench_torch.py [SIZE:WIDTH ...]   (default 64:1 64:0.25 256:1)
Prints images/s per case.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import VAE, ssim  # noqa: E402

torch.set_num_threads(2)


def bench(size, width, batch=16, steps=5):
    ch = [max(1, round(w * width)) for w in (32, 64, 128, 256, 512)]
    model = VAE(ch, size, 256)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x = torch.rand(batch, 3, size, size) * 2 - 1
    eps = torch.randn(batch, 256)

    def step():
        recon, mu, logvar = model(x, eps)
        kld = (-0.5 * (1 + logvar - mu * mu - torch.exp(logvar))).mean(0)
        loss = 0.8 * ((recon - x) ** 2).mean() + 0.2 * (1 - ssim(x, recon)) + 0.1 * torch.clamp(kld, min=1.0).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    print("S%d_w%g: %.2f images/s" % (size, width, batch * steps / dt), flush=True)


if __name__ == "__main__":
    cases = sys.argv[1:] or ["64:1", "64:0.25", "256:1"]
    for c in cases:
        s, w = c.split(":")
        bench(int(s), float(w))
