#!/usr/bin/python3
"""Writes golden.bin for graphs/golden_test.go with PyTorch (Debian's python3-torch 1.13).

Usage: /usr/bin/python3 make_golden.py IN OUT
(`go test ./graphs -run Golden -update` writes IN and runs this.)

IN holds, in the records format below, the reduced VAE's parameters (Go's InitParams, in
graphs.Params order), x [2,3,32,32], eps [2,8], kl_weight [1] and adam.coef [10]. The script
rebuilds the same model in PyTorch (32x32 input, widths 4..64, latent 8, skips), picks the
free-bits floor halfway between two middle per-dimension KL values (so both branches of the
max are exercised, far from a tie), and writes everything from IN plus:
  free_bits [1], loss/mse/ssim/kl [1], ssim.skimage [1] (scikit-image's SSIM averaged over
  the batch, a check of our SSIM definition), ssim.a, ssim.b [2,3,32,32] and
  ssim.ab.skimage [1] (a smooth pair with SSIM far from 0), grad.<name> for every parameter, and
  adam.<name>: the parameters after ten torch.optim.Adam steps (lr 1e-3, betas 0.9/0.999,
  eps 1e-8) where step t uses grad = coef[t] * grad.<name>.

Records: little-endian; per record u32 name length, name bytes, u32 rank, u32 dims, float32 data.
"""
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from skimage.metrics import structural_similarity

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def read_records(path):
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data):
        (n,) = struct.unpack_from("<I", data, off); off += 4
        name = data[off:off + n].decode(); off += n
        (r,) = struct.unpack_from("<I", data, off); off += 4
        dims = struct.unpack_from("<%dI" % r, data, off); off += 4 * r
        cnt = int(np.prod(dims)) if r else 1
        arr = np.frombuffer(data, dtype="<f4", count=cnt, offset=off).reshape(dims)
        off += 4 * cnt
        out[name] = arr.copy()
    return out


def write_records(path, recs):
    with open(path, "wb") as f:
        for name, arr in recs.items():
            arr = np.ascontiguousarray(arr, dtype="<f4")
            b = name.encode()
            f.write(struct.pack("<I", len(b)) + b)
            f.write(struct.pack("<I", arr.ndim) + struct.pack("<%dI" % arr.ndim, *arr.shape))
            f.write(arr.tobytes())


class VAE(nn.Module):
    """The study's VAE; module names match graphs' parameter names."""

    def __init__(self, ch, size, latent, slope=0.01):
        super().__init__()
        self.slope = slope
        self.ch = ch
        self.side = size // 32
        enc = {}
        cin = 3
        for i, c in enumerate(ch):
            enc["conv%d" % (i + 1)] = nn.Conv2d(cin, c, 4, 2, 1)
            cin = c
        flat = ch[4] * self.side * self.side
        enc["fc_mu"] = nn.Linear(flat, latent)
        enc["fc_logvar"] = nn.Linear(flat, latent)
        self.enc = nn.ModuleDict(enc)
        dec = {"fc": nn.Linear(latent, flat)}
        for i in range(4):
            a, b = ch[4 - i], ch[3 - i]
            dec["up%d" % (i + 1)] = nn.ConvTranspose2d(a, b, 4, 2, 1)
            dec["refine%d" % (i + 1)] = nn.Conv2d(2 * b, b, 3, 1, 1)
        dec["up5"] = nn.ConvTranspose2d(ch[0], ch[0], 4, 2, 1)
        dec["refine5"] = nn.Conv2d(ch[0], ch[0], 3, 1, 1)
        dec["out"] = nn.Conv2d(ch[0], 3, 3, 1, 1)
        self.dec = nn.ModuleDict(dec)

    def act(self, x):
        return F.leaky_relu(x, self.slope)

    def forward(self, x, eps):
        h = []
        for i in range(5):
            x = self.act(self.enc["conv%d" % (i + 1)](x))
            h.append(x)
        f = x.flatten(1)
        mu, logvar = self.enc["fc_mu"](f), self.enc["fc_logvar"](f)
        z = mu + torch.exp(0.5 * logvar) * eps
        y = self.act(self.dec["fc"](z)).reshape(-1, self.ch[4], self.side, self.side)
        for i in range(4):
            y = self.act(self.dec["up%d" % (i + 1)](y))
            y = torch.cat([y, h[3 - i]], 1)
            y = self.act(self.dec["refine%d" % (i + 1)](y))
        y = self.act(self.dec["up5"](y))
        y = self.act(self.dec["refine5"](y))
        return self.dec["out"](y), mu, logvar


def gaussian(win=11, sigma=1.5):
    r = win // 2
    g = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma * sigma))
    return g / g.sum()


def ssim(x, y, data_range=1.0, win=11, sigma=1.5):
    """Mean SSIM over the valid region, channels and batch (scikit-image's definition)."""
    c = x.shape[1]
    g = torch.tensor(gaussian(win, sigma), dtype=x.dtype, device=x.device)
    kh = g.reshape(1, 1, 1, win).repeat(c, 1, 1, 1)
    kv = g.reshape(1, 1, win, 1).repeat(c, 1, 1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, kh, groups=c), kv, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean()


def main():
    src, dst = sys.argv[1], sys.argv[2]
    rec = read_records(src)
    x = torch.tensor(rec["x"])
    eps = torch.tensor(rec["eps"])
    klw = float(rec["kl_weight"][0])
    ch = [int(rec["enc.conv%d.weight" % (i + 1)].shape[0]) for i in range(5)]
    model = VAE(ch, x.shape[-1], eps.shape[1])
    names = [n for n, _ in model.named_parameters()]
    with torch.no_grad():
        for n, p in model.named_parameters():
            a = rec[n]
            assert tuple(a.shape) == tuple(p.shape), (n, a.shape, p.shape)
            p.copy_(torch.tensor(a))

    recon, mu, logvar = model(x, eps)
    kld = (-0.5 * (1 + logvar - mu * mu - torch.exp(logvar))).mean(0)
    ks = np.sort(kld.detach().numpy().astype(np.float64))
    mid = len(ks) // 2
    free_bits = float(np.float32(0.5 * (ks[mid - 1] + ks[mid])))
    mse = ((recon - x) ** 2).mean()
    s = ssim(x, recon)
    kl = torch.clamp(kld, min=free_bits).sum()
    loss = 0.8 * mse + 0.2 * (1 - s) + klw * kl
    model.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}

    # scikit-image cross-check of the SSIM definition, per image in float64
    xr, rr = x.double().numpy(), recon.detach().double().numpy()
    sk = np.mean([structural_similarity(xr[i], rr[i], channel_axis=0, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, data_range=1.0) for i in range(len(xr))])
    ours64 = ssim(x.double(), recon.detach().double()).item()
    assert abs(sk - ours64) < 1e-9, (sk, ours64)

    # a non-trivial SSIM pair: smooth maps a and b = a + noise
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 3, 40, 40))
    a = F.avg_pool2d(torch.tensor(a), 9, 1).numpy()[:, :, :32, :32] * 3 + 0.5
    b = a + 0.3 * rng.standard_normal(a.shape)
    a, b = a.astype(np.float32), b.astype(np.float32)
    ab = np.mean([structural_similarity(a[i].astype(np.float64), b[i].astype(np.float64), channel_axis=0,
                                        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                        data_range=1.0) for i in range(2)])

    out = dict(rec)
    out["ssim.a"], out["ssim.b"], out["ssim.ab.skimage"] = a, b, np.array([ab], np.float32)
    out["free_bits"] = np.array([free_bits], np.float32)
    out["loss"] = np.array([loss.item()], np.float32)
    out["mse"] = np.array([mse.item()], np.float32)
    out["ssim"] = np.array([s.item()], np.float32)
    out["kl"] = np.array([kl.item()], np.float32)
    out["ssim.skimage"] = np.array([sk], np.float32)
    for n in names:
        out["grad." + n] = grads[n].numpy()

    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    coef = rec["adam.coef"]
    for t in range(len(coef)):
        c = float(coef[t])
        for n, p in model.named_parameters():
            p.grad = grads[n] * c
        opt.step()
    for n, p in model.named_parameters():
        out["adam." + n] = p.detach().numpy()
    write_records(dst, out)
    print("loss %.6f mse %.6f ssim %.6f (skimage %.6f) kl %.6f free_bits %.5f, KL dims above: %d of %d"
          % (loss.item(), mse.item(), s.item(), sk, kl.item(), free_bits, int((kld > free_bits).sum()), len(ks)))


if __name__ == "__main__":
    main()
