"""
========================================
Reconstructions and per-pixel error maps
========================================

GANomaly's generator reconstructs its input: ``x̂ = Dec(E1(x))``. Trained on
normal digits only, it reconstructs digits it knows well and pulls the
others towards what it knows. This example shows the reconstructions and
the per-pixel errors ``|x - x̂|`` of normal digits and of the anomaly, the
digit 8, which the detector never saw, with
:meth:`~skganomaly.GANomalyDetector.reconstruct` and
:meth:`~skganomaly.GANomalyDetector.anomaly_map`.
"""

# %%
# Train on every digit but 8
# --------------------------
import numpy as np
from sklearn.datasets import load_digits

from skganomaly import GANomalyDetector

X, y = load_digits(return_X_y=True)  # 8x8 images, pixel values 0-16
anomaly = 8
rng = np.random.RandomState(0)
normal = rng.permutation(np.flatnonzero(y != anomaly))
n_train = int(0.8 * len(normal))
X_train = X[normal[:n_train]]
X_normal_test = X[normal[n_train:]]
X_anomalous = X[y == anomaly]

det = GANomalyDetector(image_shape=(8, 8), random_state=0).fit(X_train)

# %%
# Reconstruct
# -----------
# ``reconstruct`` returns the reconstructions in the layout and units of its
# input: here rows of 64 pixel values from 0 to 16. ``anomaly_map`` returns
# ``|x - x̂|`` per pixel; ``units="input"`` keeps pixel units (the default,
# ``"scaled"``, gives the errors in the units the networks see).


def reconstruct(detector, X):
    """Reconstructions of the rows of ``X`` as 8x8 images."""
    return detector.reconstruct(X).reshape(len(X), 8, 8)


n_show = 8
normal_imgs = X_normal_test[:n_show].reshape(-1, 8, 8)
anomalous_imgs = X_anomalous[:n_show].reshape(-1, 8, 8)
normal_rec = reconstruct(det, X_normal_test[:n_show])
anomalous_rec = reconstruct(det, X_anomalous[:n_show])

# %%
# Inputs, reconstructions and error maps
# --------------------------------------
# Each block shows inputs (top row), their reconstructions (middle) and the
# absolute error per pixel (bottom; white 0 to dark red 8 or more, on the
# 0-16 pixel scale). Above each input is its GANomaly anomaly score
# ``-score_samples``.
import matplotlib.pyplot as plt

blocks = [
    ("normal digits (never seen in training)", X_normal_test[:n_show],
     normal_imgs, normal_rec),
    (f"anomalies: the digit {anomaly}", X_anomalous[:n_show], anomalous_imgs,
     anomalous_rec),
]
fig = plt.figure(figsize=(1.2 * n_show, 8), layout="constrained")
for subfig, (title, rows, imgs, recs) in zip(fig.subfigures(2, 1), blocks):
    subfig.suptitle(title, fontweight="bold")
    axes = subfig.subplots(3, n_show)
    scores = -det.score_samples(rows)
    errors = det.anomaly_map(rows, units="input").reshape(-1, 8, 8)
    for i in range(n_show):
        axes[0, i].imshow(imgs[i], cmap="gray_r", vmin=0, vmax=16)
        axes[0, i].set_title(f"{scores[i]:.1e}", fontsize=8)
        axes[1, i].imshow(recs[i], cmap="gray_r", vmin=0, vmax=16)
        axes[2, i].imshow(errors[i], cmap="Reds", vmin=0, vmax=8)
    for ax, label in zip(axes[:, 0], ["input", "reconstruction", "|error|"]):
        ax.set_ylabel(label, fontsize=9)
    for ax in axes.ravel():
        ax.set(xticks=(), yticks=())
plt.show()

# %%
# Where the errors are, on average
# --------------------------------
# The mean error map over all test images of each kind shows where, on
# average, the generator gets the eights wrong. Many eights are reconstructed
# quite well, though: the generator has learned strokes that most digits
# share, so the pixel error separates the two kinds only partly. GANomaly's
# score looks at the latent codes instead (next section).
all_normal_err = det.anomaly_map(X_normal_test, units="input")
all_anomalous_err = det.anomaly_map(X_anomalous, units="input")
all_normal_err = all_normal_err.reshape(-1, 8, 8)
all_anomalous_err = all_anomalous_err.reshape(-1, 8, 8)
print(f"mean absolute pixel error: normal {all_normal_err.mean():.2f}, "
      f"digit {anomaly} {all_anomalous_err.mean():.2f} (pixel values 0-16)")

fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
vmax = max(all_normal_err.mean(0).max(), all_anomalous_err.mean(0).max())
for ax, err, title in [(axes[0], all_normal_err, "normal test digits"),
                       (axes[1], all_anomalous_err, f"digit {anomaly}")]:
    im = ax.imshow(err.mean(axis=0), cmap="Reds", vmin=0, vmax=vmax)
    ax.set(title=f"mean |x - x̂|: {title}", xticks=(), yticks=())
fig.colorbar(im, ax=axes, shrink=0.8, label="pixel error (0-16 scale)")
plt.show()

# %%
# The score is not the reconstruction error
# -----------------------------------------
# GANomaly scores a sample by the disagreement of its two latent codes, not
# by the pixel error, but the two go together: a poor reconstruction is
# encoded far from the input's code.
rec_err_normal = all_normal_err.reshape(len(X_normal_test), -1).mean(1)
rec_err_anomalous = all_anomalous_err.reshape(len(X_anomalous), -1).mean(1)
fig, ax = plt.subplots(figsize=(6, 4.2))
ax.scatter(rec_err_normal, -det.score_samples(X_normal_test), s=10,
           alpha=0.6, label="normal digits")
ax.scatter(rec_err_anomalous, -det.score_samples(X_anomalous), s=10,
           alpha=0.6, label=f"digit {anomaly}")
ax.set(xlabel="mean absolute reconstruction error (pixels)",
       ylabel="GANomaly anomaly score", yscale="log")
ax.legend()
plt.show()
