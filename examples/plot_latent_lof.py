"""
===========================================================
Normal data with several modes: ``score_type="latent_lof"``
===========================================================

GANomaly's score asks whether a sample is *encoded consistently*: the
distance between its code ``z = E1(x)`` and the code ``E2(Dec(z))`` of its
reconstruction. When normal data has several modes (nine digits, say), a
sample between two modes can be reconstructed and re-encoded just as
consistently as a normal one, and the score misses it.

``score_type="latent_lof"`` keeps the same networks and scores a sample by
the local outlier factor of its code among the codes of the training rows:
it asks whether the code lies *where normal codes are dense*. On the full
MNIST-test protocol this is what closed GANomaly's gap to
:class:`~sklearn.neighbors.LocalOutlierFactor` on raw pixels (see the
Benchmarks page of the documentation), which is why it is the default
score for images. For tabular rows, such as these, the default stays the
paper's latent score; ``score_type`` picks either explicitly.

Here the effect is drawn on two features: normal points form three blobs,
and the anomalies lie between them. The shading is each score over the
plane (darker = more abnormal), the black line its threshold ``offset_``.
"""

# %%
# Three blobs of normal points, anomalies between them
# ----------------------------------------------------
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector

centers = [[-4, -2], [4, -2], [0, 4]]
X_train, _ = make_blobs(n_samples=600, centers=centers, cluster_std=0.7,
                        random_state=0)
X_normal, _ = make_blobs(n_samples=150, centers=centers, cluster_std=0.7,
                         random_state=1)
rng = np.random.RandomState(2)
# Halfway between two blob centres, with some spread.
pairs = rng.randint(0, 3, size=(60, 2))
pairs[:, 1] = (pairs[:, 0] + 1 + rng.randint(0, 2, size=60)) % 3
X_anomaly = (np.asarray(centers)[pairs].mean(axis=1)
             + rng.normal(scale=0.5, size=(60, 2)))
X_test = np.vstack([X_normal, X_anomaly])
is_anomaly = np.r_[np.zeros(len(X_normal)), np.ones(len(X_anomaly))]

# %%
# The same networks, two scores
# -----------------------------
# Both detectors train with the same ``random_state`` and settings, so their
# networks are identical; only the score differs.
params = dict(latent_dim=2, n_filters=32, max_epochs=60, random_state=0)
detectors = {
    "latent (GANomaly's score)": GANomalyDetector(score_type="latent", **params),
    "latent_lof": GANomalyDetector(score_type="latent_lof", **params),
}
for name, det in detectors.items():
    det.fit(X_train)
    auc = roc_auc_score(is_anomaly, -det.score_samples(X_test))
    print(f"{name:28s} ROC AUC {auc:.3f}")

# %%
# Scores over the plane
# ---------------------
import matplotlib.pyplot as plt

xx, yy = np.meshgrid(np.linspace(-8, 8, 150), np.linspace(-6, 8, 150))
grid = np.c_[xx.ravel(), yy.ravel()]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
for ax, (name, det) in zip(axes, detectors.items()):
    decision = det.decision_function(grid).reshape(xx.shape)
    # Rank-transform for the shading: the two scores have different units.
    ranks = decision.ravel().argsort().argsort().reshape(xx.shape) / decision.size
    ax.contourf(xx, yy, ranks, levels=20, cmap="Blues_r")
    ax.contour(xx, yy, decision, levels=[0], colors="black", linewidths=1.5)
    ax.scatter(*X_train.T, s=3, c="gold", edgecolors="none", label="training")
    ax.scatter(*X_anomaly.T, s=14, c="crimson", label="anomalies")
    auc = roc_auc_score(is_anomaly, -det.score_samples(X_test))
    ax.set_title(f"{name}\nROC AUC {auc:.3f}")
axes[0].legend(loc="lower right")
fig.tight_layout()
plt.show()

# %%
# The latent score is low wherever the networks reconstruct consistently,
# which includes the space between the blobs; the local outlier factor of
# the codes is high there, because no training code lies nearby. On data
# with one mode the two scores usually agree. ``n_neighbors`` (default 10)
# sets how local "dense" is.
