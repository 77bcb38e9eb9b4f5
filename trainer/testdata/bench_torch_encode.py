#!/usr/bin/python3
"""PyTorch peer of trainer's BenchmarkEncode: the study's encoder (5 strided convs + two
linear heads, full width, 256x256) at batch 64 on two threads, inference mode.

Usage: /usr/bin/python3 trainer/testdata/bench_torch_encode.py   Prints maps/s.

With --data it is the peer of `camelsvae encode` instead: it reads real CMD files
(Maps_{Mgas,Vgas,B}_SUITE_SET_z=0.00.npy, as numpy memmaps), area-averages them down to --size
when the files are larger, applies the per-channel transforms and z-scoring of a run's
stats.json (--stats), and encodes them with the same architecture (--size, --width, --latent;
random weights: this times the work, it does not reproduce a model's outputs) on --device.
--workers threads read and transform the next batches while the device encodes this one. The
clock runs from the first read to the last batch's latents on the host, as `encode` times
itself (the model and the CUDA context are made before). cuDNN picks its algorithms on the
first batches (benchmark mode), inside the timing, as ONNX Runtime's search is in ours.

  bench_torch_encode.py --data DIR --stats RUN/stats.json [--set LH] [--maps N|all] [--suite S]
      [--size 256] [--width 1] [--latent 256] [--batch 64] [--workers 4] [--device cuda]
      [--no-tf32] [--json FILE]
"""
import argparse
import concurrent.futures
import json
import math
import os
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


FIELDS = ("Mgas", "Vgas", "B")


def widths_of(width, base=(32, 64, 128, 256, 512)):
    # configs.Model.ChannelWidths: math.Round (half away from zero), at least 1
    return tuple(max(1, int(math.floor(w * width + 0.5))) for w in base)


class Reader:
    """Reads, transforms and z-scores batches of maps from the CMD files of one set."""

    def __init__(self, data, suite, set_, stats, size):
        import numpy as np

        self.np = np
        self.files = [np.load(os.path.join(data, "Maps_%s_%s_%s_z=0.00.npy" % (f, suite, set_)), mmap_mode="r") for f in FIELDS]
        n, h, w = self.files[0].shape
        if h != w or h % size:
            raise SystemExit("bench_torch_encode: %s maps are %dx%d; --size %d must divide them" % (set_, h, w, size))
        self.n, self.side, self.size = n, h, size
        st = json.load(open(stats))
        self.transforms = st["transforms"]
        self.mean, self.std = st["mean"], st["std"]
        self.floor = float(st.get("log_floor") or 0)

    def batch(self, lo, hi):
        np = self.np
        out = np.empty((hi - lo, 3, self.size, self.size), np.float32)
        for c, f in enumerate(self.files):
            a = np.array(f[lo:hi], dtype=np.float32)  # a copy out of the page cache
            if self.side != self.size:  # area average of the physical values, then the transform
                k = self.side // self.size
                a = a.reshape(hi - lo, self.size, k, self.size, k).mean(axis=(2, 4), dtype=np.float64).astype(np.float32)
            t = self.transforms[c]
            if t == "log10":
                if self.floor > 0:
                    np.maximum(a, self.floor, out=a)
                np.log10(a, out=a)
            elif t == "asinh":
                np.arcsinh(a, out=a)
            np.subtract(a, self.mean[c], out=a)
            np.multiply(a, 1.0 / self.std[c], out=out[:, c])
        return out


def encode_files(a):
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = not a.no_tf32
        torch.backends.cuda.matmul.allow_tf32 = not a.no_tf32
    rd = Reader(a.data, a.suite, a.set, a.stats, a.size)
    n = rd.n if a.maps == "all" else min(int(a.maps), rd.n)
    enc = Encoder(widths_of(a.width), a.size, a.latent).to(dev).eval()
    if dev.type == "cuda":
        torch.zeros(1, device=dev)
        torch.cuda.synchronize()
    spans = [(lo, min(n, lo + a.batch)) for lo in range(0, n, a.batch)]
    mus = []
    with torch.inference_mode(), concurrent.futures.ThreadPoolExecutor(a.workers) as pool:
        t0 = time.perf_counter()
        ahead = [pool.submit(rd.batch, lo, hi) for lo, hi in spans[: 2 * a.workers]]
        for i in range(len(spans)):
            x = ahead[i].result()
            ahead[i] = None
            if i + 2 * a.workers < len(spans):
                ahead.append(pool.submit(rd.batch, *spans[i + 2 * a.workers]))
            mu, _ = enc(torch.from_numpy(x).to(dev))
            mus.append(mu.to("cpu"))  # waits for the device
        dt = time.perf_counter() - t0
        # The encoder alone on one resident batch: the device's rate without reading.
        x = torch.from_numpy(rd.batch(0, spans[0][1])).to(dev)
        reps = 5
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        for _ in range(reps):
            enc(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        alone = reps * x.shape[0] / (time.perf_counter() - t1)
    rate = n / dt
    print("encoder %dx%d width %g batch %d on %s, %d maps of %s read from %s with %d workers: %.1f maps/s (encoder alone %.1f maps/s)"
          % (a.size, a.size, a.width, a.batch, a.device, n, a.set, a.data, a.workers, rate, alone), flush=True)
    if a.json:
        info = {"torch": torch.__version__, "device": a.device, "tf32": bool(dev.type == "cuda" and not a.no_tf32),
                "cudnn_benchmark": dev.type == "cuda"}
        if dev.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(dev)
        with open(a.json, "w") as f:
            json.dump({"info": info, "set": a.set, "maps": n, "size": a.size, "width_mult": a.width, "batch": a.batch,
                       "workers": a.workers, "seconds": dt, "maps_per_s": rate, "encoder_alone_maps_per_s": alone,
                       "mu_rows": int(sum(m.shape[0] for m in mus))}, f, indent=2)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="PyTorch peer of BenchmarkEncode; with --data, of `camelsvae encode`")
    ap.add_argument("--data", help="folder of the CMD .npy files: encode them instead of random input")
    ap.add_argument("--stats", help="the run's stats.json (transforms, mean, std)")
    ap.add_argument("--set", default="LH")
    ap.add_argument("--suite", default="IllustrisTNG")
    ap.add_argument("--maps", default="all", help="N (the first N) or all")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--latent", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=4, help="threads reading and transforming batches")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-tf32", action="store_true", help="CUDA: full float32 convolutions and matrix products")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.data is None:
        main()
    else:
        if not args.stats:
            ap.error("--data needs --stats (the run's stats.json)")
        encode_files(args)
