#!/usr/bin/env python3
"""Reference fixture for DefectLibrary's EM: scikit-learn's GaussianMixture run from a fixed
initialisation (weights_init, means_init, precisions_init) for a fixed number of iterations
(tol=0, so both implementations do exactly max_iter EM steps).

Writes Tests/DefectLibraryTests/Fixtures/gmm_sklearn.json:
  data (n×d), init {weights, means, covariances} and, per covariance type (full, diag),
  sklearn's final weights_, means_, covariances_, lower_bound_, n_iter_.

Run:  /work/venv/bin/python scripts/compare_gmm_sklearn.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture

rng = np.random.default_rng(20261125)
n_per, d, k = (120, 90, 90), 3, 3
true_means = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 4.0, 2.0]])
parts = []
for i, m in enumerate(true_means):
    a = rng.normal(size=(d, d)) * 0.6 + np.eye(d) * (0.5 + 0.3 * i)
    parts.append(rng.normal(size=(n_per[i], d)) @ a.T + m)
X = np.concatenate(parts)
X = X[rng.permutation(len(X))]

init_means = true_means + rng.normal(scale=0.8, size=true_means.shape)
init_weights = np.full(k, 1.0 / k)
init_cov_full = np.stack([np.eye(d) * 1.5 for _ in range(k)])
init_cov_diag = np.full((k, d), 1.5)

out = {
    "sklearn_version": sklearn.__version__,
    "max_iter": 25,
    "reg_covar": 1e-6,
    "data": X.ravel().tolist(), "rows": X.shape[0], "columns": d, "components": k,
    "init_weights": init_weights.tolist(),
    "init_means": init_means.ravel().tolist(),
    "init_covariances_full": init_cov_full.ravel().tolist(),
    "init_covariances_diag": init_cov_diag.ravel().tolist(),
}
for kind, cov in (("full", init_cov_full), ("diag", init_cov_diag)):
    prec = np.linalg.inv(cov) if kind == "full" else 1.0 / cov
    gm = GaussianMixture(n_components=k, covariance_type=kind, tol=0.0, max_iter=out["max_iter"],
                         reg_covar=out["reg_covar"], weights_init=init_weights,
                         means_init=init_means, precisions_init=prec, random_state=0)
    gm.fit(X)
    out[kind] = {
        "weights": gm.weights_.tolist(),
        "means": gm.means_.ravel().tolist(),
        "covariances": gm.covariances_.ravel().tolist(),
        "lower_bound": float(gm.lower_bound_),
        "n_iter": int(gm.n_iter_),
        "score": float(gm.score(X)),
        "bic": float(gm.bic(X)),
        "aic": float(gm.aic(X)),
        "predict_proba_first5": gm.predict_proba(X[:5]).ravel().tolist(),
    }
path = pathlib.Path(__file__).resolve().parent.parent / "Tests/DefectLibraryTests/Fixtures/gmm_sklearn.json"
path.write_text(json.dumps(out))
print(f"wrote {path} ({path.stat().st_size} bytes), sklearn {sklearn.__version__}")
