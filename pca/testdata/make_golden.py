#!/usr/bin/python3
"""Writes golden.npz for pca's golden test: scikit-learn PCA(svd_solver='full') on a 60 x 500
float32 fixture (10 decaying latent factors, noise and an offset), 20 components, plus 10
held-out rows. Run from pca/testdata with Debian's /usr/bin/python3 (scikit-learn 1.2.1)."""
import numpy as np
import sklearn
from sklearn.decomposition import PCA

rng = np.random.default_rng(256)
n_train, n_test, d, k = 60, 10, 500, 20
factors = rng.standard_normal((10, d))
scales = 3.0 * 0.7 ** np.arange(10)
coef = rng.standard_normal((n_train + n_test, 10)) * scales
x = (coef @ factors + 0.3 * rng.standard_normal((n_train + n_test, d)) + 1.5).astype(np.float32)

p = PCA(n_components=k, svd_solver="full").fit(x[:n_train].astype(np.float64))
z = p.transform(x.astype(np.float64))
np.savez("golden.npz", x=x, n_train=np.array(n_train), k=np.array(k),
         mean=p.mean_, components=p.components_, explained_variance=p.explained_variance_,
         explained_variance_ratio=p.explained_variance_ratio_, singular_values=p.singular_values_,
         transform=z, reconstruction=p.inverse_transform(z).astype(np.float32))
print("sklearn", sklearn.__version__, "cumulative ratio", p.explained_variance_ratio_.sum())
