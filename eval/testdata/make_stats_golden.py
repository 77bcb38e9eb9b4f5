#!/usr/bin/python3
"""Writes stats_golden.npz for eval's simulation-level statistics and probe tests, from
scipy 1.10.1, scikit-learn 1.2.1 and numpy 1.24 (Debian 12's python3-scipy, -sklearn, -numpy).
Run from eval/testdata with /usr/bin/python3.

- Wilcoxon signed-rank: scipy.stats.wilcoxon on four difference vectors (exact, normal
  approximation, zeros and ties).
- Paired t-tests over maps and over per-simulation means: scipy.stats.ttest_rel.
- Intraclass correlation (one-way ANOVA) and Kish's effective n, with unequal simulations.
- Simulation-bootstrap intervals: expanded percentiles (Hesterberg 2015) of means over resampled
  simulations, for given draws (compared exactly) and for numpy's own draws (compared within
  Monte Carlo error).
- Repeated grouped K-fold latent probes: scikit-learn GroupKFold, GridSearchCV over a
  StandardScaler + Ridge pipeline (inner GroupKFold), LogisticRegression, r2_score; the folds of
  each repeat are given, and the probe intervals come from given draws.
"""
import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupKFold, GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(16)
out = {}

# Wilcoxon.
w_cases = [
    rng.normal(0.3, 1, 20),                       # exact
    rng.normal(0.2, 1, 60),                       # normal approximation (n > 50)
    np.array([0, 1, -2, 2, 3, -3, 3, 4, 0, 5, -1, 6, 7, 7, -8, 9], float),  # zeros and ties
    np.abs(rng.normal(1, 0.2, 12)),               # all positive: the smallest exact p
]
for i, d in enumerate(w_cases):
    r = stats.wilcoxon(d)
    out[f"w_d{i}"] = d
    out[f"w_stat{i}"] = np.array(r.statistic)
    out[f"w_p{i}"] = np.array(r.pvalue)

# Clustered comparison: 20 simulations of 15 maps with a simulation-level effect.
k, m = 20, 15
sim = np.repeat(np.arange(k) * 7 + 3, m)  # ids need not be 0..k-1
u = rng.normal(0, 1, k)
a = 1 + np.repeat(u, m) + rng.normal(0, 1, k * m)
b = 1 + 0.5 * np.repeat(u, m) + rng.normal(0, 1, k * m) + 0.1
out["c_a"], out["c_b"], out["c_sim"] = a, b, sim.astype(np.int64)
ids = np.unique(sim)
ma = np.array([a[sim == s].mean() for s in ids])
mb = np.array([b[sim == s].mean() for s in ids])
r = stats.ttest_rel(a, b)
out["c_map_t"], out["c_map_p"] = np.array(r.statistic), np.array(r.pvalue)
r = stats.ttest_rel(ma, mb)
out["c_sim_t"], out["c_sim_p"] = np.array(r.statistic), np.array(r.pvalue)
r = stats.wilcoxon(ma - mb)
out["c_sim_w"], out["c_sim_wp"] = np.array(r.statistic), np.array(r.pvalue)


def icc_neff(x, g):
    ids = np.unique(g)
    n, kk = len(x), len(ids)
    sizes = np.array([np.sum(g == s) for s in ids], float)
    means = np.array([x[g == s].mean() for s in ids])
    grand = x.mean()
    msb = np.sum(sizes * (means - grand) ** 2) / (kk - 1)
    msw = sum(np.sum((x[g == s] - x[g == s].mean()) ** 2) for s in ids) / (n - kk)
    m0 = (n - np.sum(sizes ** 2) / n) / (kk - 1)
    icc = float(np.clip((msb - msw) / (msb + (m0 - 1) * msw), 0, 1))
    return icc, n / (1 + (n / kk - 1) * icc)


# Unequal simulations for the ICC: sizes 3..15.
sizes = np.arange(3, 16)
g = np.repeat(np.arange(len(sizes)), sizes)
x = np.repeat(rng.normal(0, 0.8, len(sizes)), sizes) + rng.normal(0, 1, len(g))
out["icc_x"], out["icc_sim"] = x, g.astype(np.int64)
out["icc"], out["neff"] = [np.array(v) for v in icc_neff(x, g)]
d = a - b
out["c_icc"], out["c_neff"] = [np.array(v) for v in icc_neff(d, sim)]

def expanded(v, k, level=0.95):
    """The expanded percentile interval of bootstrap values v from k simulations."""
    v = np.asarray(v)
    v = v[~np.isnan(v)]
    a = stats.norm.sf(np.sqrt(k / (k - 1)) * stats.t.ppf((1 + level) / 2, k - 1))
    return np.percentile(v, [100 * a, 100 * (1 - a)])


# Simulation bootstrap of the mean of d over maps.
B = 500
draws = rng.integers(0, k, size=(B, k))
rows = [np.flatnonzero(sim == s) for s in ids]
means = np.array([d[np.concatenate([rows[c] for c in dr])].mean() for dr in draws])
out["boot_draws"] = draws.astype(np.int64)
out["boot_ci"] = expanded(means, k)
big = rng.integers(0, k, size=(20000, k))
means = np.array([d[np.concatenate([rows[c] for c in dr])].mean() for dr in big])
out["boot_ci_mc"] = expanded(means, k)

# Latent probes by repeated grouped K-fold.
alphas = [1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5]
l2 = 1e-2
ks, ms, repeats, folds = 12, 10, 3, 4
psim = np.repeat(np.arange(ks) * 2 + 5, ms)
pids = np.unique(psim)
om = np.repeat(rng.uniform(0.1, 0.5, ks), ms)
s8 = np.repeat(rng.uniform(0.6, 1.0, ks), ms)
plan = np.array([rng.permutation(ks) % folds for _ in range(repeats)])  # fold of each of pids
out["p_sim"], out["p_om"], out["p_s8"], out["p_plan"] = psim.astype(np.int64), om, s8, plan.astype(np.int64)
pdraws = rng.integers(0, ks, size=(300, ks))
out["p_draws"] = pdraws.astype(np.int64)
prow = [np.flatnonzero(psim == s) for s in pids]


for case, dim in (("lo", 8), ("hi", 150)):  # primal and dual ridge forms
    w = rng.normal(0, 1, (2, dim))
    z = np.outer(om, w[0]) + np.outer(s8, w[1]) + rng.normal(0, 0.4, (len(psim), dim))
    z[:, 0] *= 50  # unequal scales: the standardisation matters
    out[f"p_z_{case}"] = z
    preds = {t: np.zeros((repeats, len(psim))) for t in ("om", "s8")}
    hits = np.zeros((repeats, len(psim)))
    chosen = {t: [] for t in ("om", "s8")}
    for r in range(repeats):
        fold_of_row = plan[r][np.searchsorted(pids, psim)]
        for f, (tr, te) in enumerate(GroupKFold(n_splits=folds).split(z, groups=fold_of_row)):
            # GroupKFold orders the folds its own way; each test fold is one of ours.
            tr_ids = np.unique(psim[tr])
            kin = min(4, len(tr_ids))
            inner = np.searchsorted(tr_ids, psim[tr]) % kin
            for t, y in (("om", om), ("s8", s8)):
                gs = GridSearchCV(Pipeline([("s", StandardScaler()), ("r", Ridge())]), {"r__alpha": alphas},
                                  cv=GroupKFold(n_splits=kin), scoring="r2")
                gs.fit(z[tr], y[tr], groups=inner)
                preds[t][r, te] = gs.predict(z[te])
                chosen[t].append((r, int(fold_of_row[te][0]), gs.best_params_["r__alpha"]))
            edges = np.quantile(om[tr], [1 / 3, 2 / 3])
            lab_tr, lab_te = np.digitize(om[tr], edges), np.digitize(om[te], edges)
            clf = Pipeline([("s", StandardScaler()),
                            ("l", LogisticRegression(C=1 / (len(tr) * l2), tol=1e-12, max_iter=100000))])
            clf.fit(z[tr], lab_tr)
            hits[r, te] = clf.predict(z[te]) == lab_te
    for t, y in (("om", om), ("s8", s8)):
        out[f"p_r2_{t}_{case}"] = np.array([r2_score(y, preds[t][r]) for r in range(repeats)])
        out[f"p_alpha_{t}_{case}"] = np.array([a for _, _, a in sorted(chosen[t])])  # by repeat, fold
        out[f"p_pred_{t}_{case}"] = preds[t]
        per_draw = []
        for dr in pdraws:
            idx = np.concatenate([prow[c] for c in dr])
            yy = y[idx]
            per_draw.append(np.nan if np.ptp(yy) == 0 else np.mean([r2_score(yy, preds[t][r][idx]) for r in range(repeats)]))
        out[f"p_r2ci_{t}_{case}"] = expanded(per_draw, ks)
    out[f"p_acc_{case}"] = hits.mean(axis=1)
    out[f"p_hits_{case}"] = hits
    out[f"p_accci_{case}"] = expanded([np.mean([hits[r][np.concatenate([prow[c] for c in dr])].mean() for r in range(repeats)])
                                      for dr in pdraws], ks)

np.savez("stats_golden.npz", **out)
for key in sorted(out):
    v = out[key]
    if v.size <= 4:
        print(key, v)
