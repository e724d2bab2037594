"""
==============================
Saving and loading with joblib
==============================

A fitted :class:`~skganomaly.GANomalyDetector` is saved and loaded like any
scikit-learn estimator, with :mod:`joblib` (or :mod:`pickle`). The file holds
the networks' weights, the input scaling and the threshold ``offset_``, so
the loaded detector gives exactly the same scores and predictions. A model
fitted on a GPU loads on a machine without one.

.. warning::

   Loading a pickle or joblib file can run arbitrary code. Load only files
   you trust. A safe format that stores weights without pickle is planned.
"""

# %%
# Fit a detector
# --------------
import numpy as np
from sklearn.datasets import load_digits

from skganomaly import GANomalyDetector

X, y = load_digits(return_X_y=True)
X_train, X_test = X[y != 8][:1000], X[1000:]
det = GANomalyDetector(image_shape=(8, 8), latent_dim=16, n_filters=16,
                       max_epochs=5, random_state=0).fit(X_train)

# %%
# Save, then load
# ---------------
# The file goes into a temporary folder here; use any path you like.
import tempfile
from pathlib import Path

import joblib

folder = tempfile.TemporaryDirectory()
path = Path(folder.name) / "ganomaly_digits.joblib"
joblib.dump(det, path)
print(f"saved {path.name}: {path.stat().st_size / 1024:.0f} KiB")

loaded = joblib.load(path)
print(loaded)

# %%
# The loaded detector is the same detector
# ----------------------------------------
# Same scores, bit for bit, same threshold and same predictions. The held-out
# rows used during ``fit`` are not stored in the file.
before = det.score_samples(X_test)
after = loaded.score_samples(X_test)
print("identical scores:", np.array_equal(before, after))
print("same offset_:", loaded.offset_ == det.offset_)
print("same predictions:", np.array_equal(det.predict(X_test),
                                          loaded.predict(X_test)))
print("trained on:", loaded.device_, "| epochs:", loaded.n_iter_)

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.scatter(-before, -after, s=8, alpha=0.6)
lims = [min(-before.min(), -after.min()), max(-before.max(), -after.max())]
ax.plot(lims, lims, color="grey", linestyle=":", zorder=0)
ax.set(xscale="log", yscale="log", xlabel="anomaly score before saving",
       ylabel="anomaly score after loading",
       title="Scores survive the round trip unchanged")
fig.tight_layout()
plt.show()

# %%
# A format that runs no code: ``save`` and ``load``
# -------------------------------------------------
# ``save`` writes one file with the parameters and fitted attributes as JSON
# and the weights as plain tensors, with checksums; ``load`` refuses a file
# that was altered or does not fit together. The write is atomic, so a crash
# during ``save`` never leaves a broken file in place of a good one.
from skganomaly import GANomalyDetector

safe_path = Path(folder.name) / "ganomaly_digits.skgan"
det.save(safe_path)
restored = GANomalyDetector.load(safe_path)
print(f"saved {safe_path.name}: {safe_path.stat().st_size / 1024:.0f} KiB; "
      "identical scores:",
      np.array_equal(restored.score_samples(X_test), before))

# %%
# On a machine without a GPU
# --------------------------
# A model fitted with ``device="cuda"`` loads on a machine without a GPU and
# scores there on the CPU, from either kind of file; ``load`` also takes a
# ``device`` argument to choose where the networks go.

folder.cleanup()
