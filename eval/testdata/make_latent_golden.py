#!/usr/bin/python3
"""Writes latent_golden.npz for eval's latent tests: scikit-learn 1.2.1 silhouette_score,
KMeans inertia, Ridge and multinomial LogisticRegression on a 90 x 4 fixture (three blobs).
Run from eval/testdata with Debian's /usr/bin/python3."""
import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import silhouette_score

rng = np.random.default_rng(5)
centres = np.array([[0, 0, 0, 0], [3, 1, 0, -1], [-1, 4, 2, 0]], dtype=float)
labels = np.repeat(np.arange(3), 30)
x = centres[labels] + 0.8 * rng.standard_normal((90, 4))
y = x @ np.array([0.5, -1.0, 0.25, 2.0]) + 0.3 + 0.2 * rng.standard_normal(90)

km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(x)
ridge = Ridge(alpha=2.0).fit(x, y)
l2 = 0.05  # our penalty on the mean loss; sklearn's C = 1/(n l2)
lr = LogisticRegression(C=1 / (90 * l2), tol=1e-12, max_iter=100000).fit(x, labels)
np.savez("latent_golden.npz", x=x, labels=labels.astype(np.int64), y=y,
         silhouette=np.array(silhouette_score(x, labels)), kmeans_inertia=np.array(km.inertia_),
         ridge_coef=ridge.coef_, ridge_intercept=np.array(ridge.intercept_), ridge_alpha=np.array(2.0),
         logit_l2=np.array(l2), logit_coef=lr.coef_, logit_intercept=lr.intercept_,
         logit_proba=lr.predict_proba(x))
print(silhouette_score(x, labels), km.inertia_, ridge.coef_, lr.coef_, lr.intercept_)
