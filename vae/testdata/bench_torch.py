#!/usr/bin/python3
"""PyTorch peer of graphs' BenchmarkTrainStep and `camelsvae bench`: one training step
(forward, the study's loss with valid-region SSIM and free-bits KL, backward,
torch.optim.Adam) at batch 16 (--batch); two CPU threads, or a CUDA device.

Usage: python3 vae/testdata/bench_torch.py [--device cuda] [--steps N] [--warmup N]
           [--min-seconds S] [--no-tf32] [--batch B[,B...]] [--json FILE] [SIZE:WIDTH ...]
           (default 64:1 64:0.25 256:1, batch 16)
--batch takes one batch size or a comma-separated list: each case runs at each, in one process.
--min-seconds raises the step count so that the timed steps take about S seconds (by the
last warm-up step's time): a few short steps on a shared machine are mostly noise.
Prints images/s per case (named S<size>_w<width>, with _b<batch> added for batches other
than 16); --json also writes them (with the device and settings).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import skimage.metrics  # noqa: F401  make_golden imports it for the golden file; the benchmark does not use it
except ImportError:  # a machine without scikit-image still runs the benchmark
    import types
    sys.modules["skimage"] = types.ModuleType("skimage")
    sys.modules["skimage.metrics"] = types.ModuleType("skimage.metrics")
    sys.modules["skimage.metrics"].structural_similarity = None
from make_golden import VAE, ssim  # noqa: E402


def bench(size, width, device, batch=16, steps=5, warmup=1, min_seconds=0.0):
    ch = [max(1, round(w * width)) for w in (32, 64, 128, 256, 512)]
    model = VAE(ch, size, 256).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    eps = torch.randn(batch, 256, device=device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step():
        recon, mu, logvar = model(x, eps)
        kld = (-0.5 * (1 + logvar - mu * mu - torch.exp(logvar))).mean(0)
        loss = 0.8 * ((recon - x) ** 2).mean() + 0.2 * (1 - ssim(x, recon)) + 0.1 * torch.clamp(kld, min=1.0).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(warmup):
        tw = time.perf_counter()
        step()
        sync()
        tw = time.perf_counter() - tw
    if min_seconds > 0 and warmup > 0:
        steps = max(steps, math.ceil(min_seconds / tw))
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    dt = time.perf_counter() - t0
    rate = batch * steps / dt
    name = "S%d_w%g" % (size, width) + ("" if batch == 16 else "_b%d" % batch)
    print("%s: %.2f images/s" % (name, rate), flush=True)
    return {"size": size, "width_mult": width, "batch": batch, "steps": steps,
            "seconds": dt, "images_per_s": rate, "ms_per_step": 1e3 * dt / steps}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--min-seconds", type=float, default=0.0)
    ap.add_argument("--no-tf32", action="store_true", help="CUDA: full float32 convolutions (PyTorch uses TF32 by default)")
    ap.add_argument("--batch", default="16", help="batch size, or a comma-separated list of them (default 16)")
    ap.add_argument("--json")
    ap.add_argument("cases", nargs="*", default=["64:1", "64:0.25", "256:1"])
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cpu":
        torch.set_num_threads(2)
    else:
        torch.backends.cudnn.benchmark = True
        if a.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
    batches = [int(b) for b in a.batch.split(",")]
    res = []
    for c in a.cases:
        s, w = c.split(":")
        for b in batches:
            res.append(bench(int(s), float(w), dev, batch=b, steps=a.steps, warmup=a.warmup, min_seconds=a.min_seconds))
    if a.json:
        info = {"torch": torch.__version__, "device": a.device,
                "cudnn_tf32": bool(dev.type == "cuda" and torch.backends.cudnn.allow_tf32),
                "cudnn_benchmark": bool(dev.type == "cuda")}
        if dev.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(dev)
        with open(a.json, "w") as f:
            json.dump({"info": info, "cases": res}, f, indent=2)
