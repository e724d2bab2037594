"""
=======================================
Where is the anomaly? Anomaly heat maps
=======================================

A score says *whether* an input is abnormal; :meth:`~skganomaly.GANomalyDetector.anomaly_map`
says *where*. It returns the per-pixel reconstruction error ``|x - x̂|`` of
each image (per-feature for tabular rows), in the layout of the input, and
:meth:`~skganomaly.GANomalyDetector.reconstruct` returns ``x̂`` itself in
the input's units.

The detector is trained on every digit but 8 (scikit-learn's 8x8 digits).
The generator redraws an eight as something closer to the digits it knows,
so the heat map of an eight lights up where the two differ. The maps of
8x8 digits are coarse and noisy, but they point at regions, not just at a
number.
"""

# %%
# Train on every digit but 8
# --------------------------
import numpy as np
from sklearn.datasets import load_digits

from skganomaly import GANomalyDetector

X, y = load_digits(return_X_y=True)
images = X.reshape(-1, 8, 8)  # pixel values 0-16; a 3-D stack is read as images
anomaly = 8
rng = np.random.RandomState(0)
normal = rng.permutation(np.flatnonzero(y != anomaly))
n_train = int(0.8 * len(normal))
train, normal_test = normal[:n_train], normal[n_train:]
eights = np.flatnonzero(y == anomaly)

det = GANomalyDetector(latent_dim=32, n_filters=32, max_epochs=15,
                       random_state=0).fit(images[train])

# %%
# Reconstructions and maps
# ------------------------
# Both come back in the layout of the input: here ``(n, 8, 8)``.
# ``units="input"`` gives errors in pixel values (0-16); the default,
# ``"scaled"``, divides them by the input scaling learned in ``fit`` (half
# the pixel range, 8 here), so that the mean of a map is the sample's
# ``score_type="reconstruction"`` score.
show_normal = normal_test[:6]
show_eights = eights[:6]
X_show = images[np.r_[show_normal, show_eights]]
X_hat = det.reconstruct(X_show)
maps = det.anomaly_map(X_show, units="input")
print(X_hat.shape, maps.shape)

# %%
# Plot: input, reconstruction, heat map
# -------------------------------------
import matplotlib.pyplot as plt

fig, axes = plt.subplots(3, len(X_show), figsize=(1.2 * len(X_show), 4.2))
vmax = maps.max()
for j in range(len(X_show)):
    axes[0, j].imshow(X_show[j], cmap="gray_r", vmin=0, vmax=16)
    axes[1, j].imshow(X_hat[j], cmap="gray_r", vmin=0, vmax=16)
    axes[2, j].imshow(maps[j], cmap="inferno", vmin=0, vmax=vmax)
    axes[0, j].set_title("normal" if j < len(show_normal) else "anomaly",
                         fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
for ax, label in zip(axes[:, 0], ["input", "x̂", "|x - x̂|"]):
    ax.set_ylabel(label)
fig.tight_layout()
plt.show()

# %%
# How much hotter are the maps of anomalies?
# ------------------------------------------
# The mean error per image (in scaled units) over the whole test set:
# anomalous eights reconstruct worse than unseen normal digits.
mean_normal = det.anomaly_map(images[normal_test]).mean(axis=(1, 2))
mean_eights = det.anomaly_map(images[eights]).mean(axis=(1, 2))
print(f"mean |x - x̂| (scaled): normal {mean_normal.mean():.3f}, "
      f"eights {mean_eights.mean():.3f}")

# %%
# Latent codes for downstream use
# -------------------------------
# :meth:`~skganomaly.GANomalyDetector.encode` returns the codes ``z = E1(x)``
# (one row of ``latent_dim`` values per sample), e.g. to cluster or
# visualise what the detector learned.
Z = det.encode(images[np.r_[normal_test, eights]])
print(Z.shape)
