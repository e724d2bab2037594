"""
==============================================
Quick start: GANomaly on scikit-learn's digits
==============================================

Train :class:`~skganomaly.GANomalyDetector` on images of nine digits and ask it
to find the tenth, which it has never seen. The anomaly here is the digit 8;
80 % of the other digits train the detector and the rest, plus every 8, form
the test set. :class:`~sklearn.ensemble.IsolationForest` gets exactly the same
data for comparison.

This is the demo that the README runs; it takes about a minute and a half
on two CPU cores. It prints one line per training epoch of
GANomalyDetector (``verbose=1``), then both ROC AUCs. Its figure opens in a
window where there is a display; elsewhere (a server, a container) it is
saved as ``quickstart_digits.png`` in the current folder and the path is
printed.
"""

# %%
# Data: one digit is the anomaly
# ------------------------------
import numpy as np
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)  # 1797 images of 8x8 pixels, values 0-16
anomaly = 8

rng = np.random.RandomState(0)
normal = rng.permutation(np.flatnonzero(y != anomaly))
n_train = int(0.8 * len(normal))
X_train = X[normal[:n_train]]
test = np.concatenate([normal[n_train:], np.flatnonzero(y == anomaly)])
X_test, is_anomaly = X[test], (y[test] == anomaly).astype(int)
print(f"train: {len(X_train)} normal images; test: {len(X_test)} images, "
      f"{is_anomaly.sum()} of them anomalies")

# %%
# Fit both detectors on normal data only
# --------------------------------------
# ``image_shape=(8, 8)`` tells GANomalyDetector that each row is an 8x8 image,
# so it uses the paper's convolutional networks. Raw pixel values are fine:
# the detector learns its input scaling during ``fit``.
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score, roc_curve

from skganomaly import GANomalyDetector

# ``verbose=1`` prints one line per epoch: the training losses, the loss on
# the held-out normal rows (``valid_loss``) that early stopping watches, and
# the epoch's time.
detectors = {
    "GANomalyDetector": GANomalyDetector(image_shape=(8, 8), random_state=0,
                                         verbose=1),
    "IsolationForest": IsolationForest(random_state=0),
}
anomaly_scores = {}
for name, detector in detectors.items():
    print(f"fitting {name} ...", flush=True)
    detector.fit(X_train)
    # score_samples: higher = more normal, so negate it to rank anomalies first.
    anomaly_scores[name] = -detector.score_samples(X_test)
    auc = roc_auc_score(is_anomaly, anomaly_scores[name])
    print(f"{name:>17}: ROC AUC = {auc:.3f}")

# %%
# ``predict`` uses the threshold ``offset_`` learned during ``fit``: with the
# default ``contamination="auto"`` it flags at most about 5 % of normal data.
ganomaly = detectors["GANomalyDetector"]
flagged = ganomaly.predict(X_test) == -1
print(f"flagged: {flagged[is_anomaly == 0].mean():.1%} of normal test images, "
      f"{flagged[is_anomaly == 1].mean():.1%} of anomalies")

# %%
# Score distributions and ROC curves
# ----------------------------------
import matplotlib.pyplot as plt

fig, (ax_hist, ax_roc) = plt.subplots(1, 2, figsize=(10, 4))
scores = anomaly_scores["GANomalyDetector"]
bins = np.linspace(scores.min(), scores.max(), 40)
ax_hist.hist(scores[is_anomaly == 0], bins=bins, alpha=0.6, label="normal digits")
ax_hist.hist(scores[is_anomaly == 1], bins=bins, alpha=0.6, label=f"digit {anomaly}")
ax_hist.axvline(-ganomaly.offset_, color="k", linestyle="--", label="threshold")
ax_hist.set(xlabel="GANomaly anomaly score", ylabel="test images",
            title="GANomalyDetector scores")
ax_hist.legend()

for name, score in anomaly_scores.items():
    fpr, tpr, _ = roc_curve(is_anomaly, score)
    ax_roc.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(is_anomaly, score):.2f})")
ax_roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
ax_roc.set(xlabel="false positive rate", ylabel="true positive rate",
           title=f"Finding the digit {anomaly}")
ax_roc.legend(loc="lower right")
fig.tight_layout()

# %%
# Where the figure goes
# ---------------------
# Without a display matplotlib falls back to a non-interactive backend and
# ``plt.show()`` would do nothing: save the figure instead and say where.
# (The documentation's gallery collects the figure itself.)
import sys
from pathlib import Path

import matplotlib

if "sphinx_gallery" in sys.modules:
    pass
elif matplotlib.get_backend().lower() in ("agg", "pdf", "ps", "svg", "cairo",
                                          "template"):
    path = Path("quickstart_digits.png").resolve()
    fig.savefig(path, dpi=100)
    print(f"no display: figure saved to {path}")
else:
    plt.show()
