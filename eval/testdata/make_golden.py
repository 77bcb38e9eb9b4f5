#!/usr/bin/python3
"""Writes golden.npz for eval's golden tests (metrics_test.go, stats_test.go).

Run from eval/testdata with Debian's /usr/bin/python3 (numpy, scipy 1.10, scikit-image 0.19).
Inputs and the reference numbers go into one archive; the Go tests need no Python.
"""
import numpy as np
import scipy
import scipy.ndimage as ndi
import scipy.stats as st
import skimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

rng = np.random.default_rng(6)
n, C, H, W = 5, 3, 40, 48
truth = ndi.gaussian_filter(rng.standard_normal((n, C, H, W)), sigma=(0, 0, 2, 2))
truth = (truth - truth.mean()) / truth.std()
noise = [0.0, 0.05, 0.2, 0.5, 1.5]  # map 0 is a perfect reconstruction
rec = np.stack([truth[i] + noise[i] * rng.standard_normal((C, H, W)) for i in range(n)])
rec[4] = 0.3 * rec[4] + 0.1  # a low-contrast, shifted reconstruction
truth = truth.astype(np.float32)
rec = rec.astype(np.float32)

kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)


def refs(t, r):
    """scikit-image's numbers for truth t and reconstruction r (it computes in their dtype)."""
    ch_ssim = np.array([[structural_similarity(t[i, c], r[i, c], **kw) for c in range(C)] for i in range(n)])
    map_ssim = np.array([structural_similarity(t[i], r[i], channel_axis=0, **kw) for i in range(n)])
    with np.errstate(divide="ignore"):
        ch_psnr = np.array([[peak_signal_noise_ratio(t[i, c], r[i, c], data_range=1) for c in range(C)] for i in range(n)])
        ch_psnr_t = np.array([[peak_signal_noise_ratio(t[i, c], r[i, c], data_range=float(t[i, c].max()) - float(t[i, c].min()))
                               for c in range(C)] for i in range(n)])
        map_psnr = np.array([peak_signal_noise_ratio(t[i], r[i], data_range=1) for i in range(n)])
        map_psnr_t = np.array([peak_signal_noise_ratio(t[i], r[i], data_range=float(t[i].max()) - float(t[i].min()))
                               for i in range(n)])
    return ch_ssim, map_ssim, ch_psnr, ch_psnr_t, map_psnr, map_psnr_t


# "64": scikit-image run on the float32 maps widened to float64 (the exact definition);
# "32": run on the float32 maps themselves, as a user would (skimage 0.19 then works in float32).
ref64 = refs(truth.astype(np.float64), rec.astype(np.float64))
ref32 = refs(truth, rec)
ch_mse = ((truth.astype(np.float64) - rec) ** 2).mean(axis=(2, 3))

# Paired t-tests: a small difference and a huge one (tiny p).
a1 = rng.standard_normal(50); b1 = a1 + 0.1 + 0.5 * rng.standard_normal(50)
a2 = rng.standard_normal(200); b2 = a2 + 1.0 + 0.3 * rng.standard_normal(200)
tt = [st.ttest_rel(a1, b1), st.ttest_rel(a2, b2)]

# Two-sample KS: statistic from ks_2samp, p from the asymptotic Kolmogorov distribution.
x = rng.standard_normal(300); y = rng.standard_normal(400) * 1.1 + 0.2
ks = st.ks_2samp(x, y)
en = 300 * 400 / 700
ks_p_asymp = st.kstwobign.sf(ks.statistic * np.sqrt(en))

np.savez("golden.npz",
         truth=truth, rec=rec, ch_mse=ch_mse,
         **{f"{k}_{b}": v for b, ref in (("64", ref64), ("32", ref32))
            for k, v in zip(("ch_ssim", "map_ssim", "ch_psnr", "ch_psnr_t", "map_psnr", "map_psnr_t"), ref)},
         t_a1=a1, t_b1=b1, t_a2=a2, t_b2=b2,
         t_stat=np.array([t.statistic for t in tt]), t_p=np.array([t.pvalue for t in tt]),
         ks_x=x, ks_y=y, ks_d=np.array(ks.statistic), ks_p=np.array(ks_p_asymp), ks_p_scipy=np.array(ks.pvalue))
print("scipy", scipy.__version__, "skimage", skimage.__version__)
print("ssim", ref64[1], ref32[1] - ref64[1], "\npsnr", ref64[4], ref32[4] - ref64[4], "\nt", tt, "\nks", ks, ks_p_asymp)
