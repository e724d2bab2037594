"""
==========================================================
Comparing outlier detectors on 2-D toy data, with GANomaly
==========================================================

Each column is an outlier detector, each row a small two-dimensional data set
of normal points (blobs, two moons) mixed with 15 % of outliers drawn
uniformly over the square. Every detector is fitted on the mixture with
``contamination=0.15`` (``nu=0.15`` for the one-class SVM); the black line is
its decision boundary (``decision_function == 0``), the shaded regions are
predicted outliers, and the number in the corner is the time ``fit`` took.

This is the layout of scikit-learn's "Comparing anomaly detection
algorithms for outlier detection on toy datasets", with
:class:`~skganomaly.GANomalyDetector` as the last column.

**What to take from it.** GANomaly is made for high-dimensional inputs such
as images, where its reconstruct-and-re-encode test has something to learn;
with two features, fully connected networks and a few hundred points, its
boundaries are looser and less regular than those of the classical
detectors, and it trains far more slowly. On low-dimensional tabular data
like this, prefer :class:`~sklearn.ensemble.IsolationForest` or
:class:`~sklearn.neighbors.LocalOutlierFactor`. The figure is here to show
that ``GANomalyDetector`` is a drop-in scikit-learn detector, and what its
decision function looks like, not to advertise it for 2-D data.
"""

# %%
# Data sets
# ---------
import time

import numpy as np
from sklearn.datasets import make_blobs, make_moons

n_samples = 300
outliers_fraction = 0.15
n_outliers = int(outliers_fraction * n_samples)
n_inliers = n_samples - n_outliers

blob_params = dict(n_samples=n_inliers, random_state=0)
datasets = {
    "one blob": make_blobs(centers=[[0, 0], [0, 0]], cluster_std=0.5,
                           **blob_params)[0],
    "two blobs": make_blobs(centers=[[2, 2], [-2, -2]], cluster_std=[0.5, 0.5],
                            **blob_params)[0],
    "unequal blobs": make_blobs(centers=[[2, 2], [-2, -2]],
                                cluster_std=[1.5, 0.3], **blob_params)[0],
    "two moons": 4.0 * (make_moons(n_samples=n_inliers, noise=0.05,
                                   random_state=0)[0] - np.array([0.5, 0.25])),
}

rng = np.random.RandomState(42)
datasets = {
    name: np.concatenate([X, rng.uniform(low=-6, high=6, size=(n_outliers, 2))])
    for name, X in datasets.items()
}

# %%
# Detectors
# ---------
# ``GANomalyDetector`` gets small fully connected networks and more epochs
# than on images (a 2-D data set of 300 points is a handful of batches per
# epoch), a larger learning rate, and a larger weight on the latent loss
# (``loss_weights=(w_adv, w_con, w_enc)`` with ``w_enc=10``) so that normal
# points get consistent codes. The other detectors
# use the settings of scikit-learn's example.
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from skganomaly import GANomalyDetector


def make_detectors():
    return {
        "Robust covariance": EllipticEnvelope(contamination=outliers_fraction,
                                              random_state=42),
        "One-class SVM": OneClassSVM(nu=outliers_fraction, kernel="rbf",
                                     gamma=0.1),
        "Isolation Forest": IsolationForest(contamination=outliers_fraction,
                                            random_state=42),
        "Local Outlier Factor": LocalOutlierFactor(
            n_neighbors=35, contamination=outliers_fraction, novelty=True),
        "GANomalyDetector": GANomalyDetector(
            contamination=outliers_fraction, latent_dim=16, n_filters=16,
            max_epochs=100, lr=1e-3, loss_weights=(1.0, 50.0, 10.0),
            random_state=0),
    }


# %%
# Fit every detector on every data set and draw its decision boundary
# ---------------------------------------------------------------------
import matplotlib.pyplot as plt

xx, yy = np.meshgrid(np.linspace(-7, 7, 150), np.linspace(-7, 7, 150))
grid = np.c_[xx.ravel(), yy.ravel()]
names = list(make_detectors())

fig, axes = plt.subplots(len(datasets), len(names),
                         figsize=(2.6 * len(names), 2.6 * len(datasets)),
                         sharex=True, sharey=True)
fit_times = {name: 0.0 for name in names}
for row, (data_name, X) in enumerate(datasets.items()):
    for col, (name, detector) in enumerate(make_detectors().items()):
        start = time.perf_counter()
        detector.fit(X)
        elapsed = time.perf_counter() - start
        fit_times[name] += elapsed
        Z = detector.decision_function(grid).reshape(xx.shape)
        labels = detector.predict(X)

        ax = axes[row, col]
        ax.contourf(xx, yy, Z < 0, levels=[0.5, 1.5], colors=["#f4cccc"])
        ax.contour(xx, yy, Z, levels=[0], linewidths=1.5, colors="black")
        ax.scatter(X[:, 0], X[:, 1], s=6,
                   c=np.where(labels == 1, "#377eb8", "#ff7f00"))
        ax.text(0.98, 0.02, f"{elapsed:.1f} s", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=8,
                bbox=dict(facecolor="white", alpha=0.7, linewidth=0))
        ax.set(xlim=(-7, 7), ylim=(-7, 7), xticks=(), yticks=())
        if row == 0:
            ax.set_title(name, fontsize=10)
        if col == 0:
            ax.set_ylabel(data_name)
fig.tight_layout()
plt.show()

# %%
# Blue points are predicted inliers, orange points predicted outliers.
# Total fitting time over the four data sets:
for name, seconds in fit_times.items():
    print(f"{name:>22}: {seconds:5.1f} s")
