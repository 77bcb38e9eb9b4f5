#!/usr/bin/python3
"""PyTorch peer of trainer's BenchmarkEncode: the study's encoder (5 strided convs + two
linear heads, full width, 256x256) at batch 64 on two threads, inference mode.

Usage: /usr/bin/python3 trainer/testdata/bench_torch_encode.py   Prints maps/s.
"""
import time

import torch
from torch import nn

torch.set_num_threads(2)


class Encoder(nn.Module):
    def __init__(self, widths=(32, 64, 128, 256, 512), size=256, latent=256):
        super().__init__()
        chans = (3,) + tuple(widths)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 4, 2, 1) for a, b in zip(chans, chans[1:]))
        flat = widths[-1] * (size // 32) ** 2
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)

    def forward(self, x):
        for c in self.convs:
            x = nn.functional.leaky_relu(c(x), 0.01)
        x = x.flatten(1)
        return self.mu(x), self.logvar(x)


def main(batch=64, batches=3):
    enc = Encoder().eval()
    x = torch.randn(batch, 3, 256, 256)
    with torch.inference_mode():
        enc(x)
        t0 = time.perf_counter()
        for _ in range(batches):
            enc(x)
        dt = time.perf_counter() - t0
    print("encoder 256x256 batch %d: %.1f maps/s" % (batch, batch * batches / dt), flush=True)


if __name__ == "__main__":
    main()
