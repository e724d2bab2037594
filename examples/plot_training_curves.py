"""
==================================
Training curves and early stopping
==================================

Every fit records its losses per epoch in ``det.net_.history`` (a skorch
``History``). By default the detector stops early on ``valid_loss``, the
generator's loss on held-out rows (``validation_fraction``): **normal**
data the networks never trained on, so early stopping needs no anomalies
and no test data. This example replaces the default rule (patience of
``n_iter_no_change=5`` epochs) with a skorch
:class:`~skorch.callbacks.EarlyStopping` of its own, which is how any other
stopping rule is plugged in.
"""

# %%
# Train with early stopping
# -------------------------
# Up to 60 epochs. With ``threshold=0.05``, an epoch counts as an
# improvement only if it lowers ``valid_loss`` by more than 5 %; training
# stops after three epochs without one, and ``load_best=True`` restores the
# generator of the best epoch before the detector sets its threshold.
# ``early_stopping=False`` turns the built-in rule off, so that this
# callback alone decides (and all held-out rows give ``valid_loss``).
import numpy as np
from sklearn.datasets import load_digits
from skorch.callbacks import EarlyStopping

from skganomaly import GANomalyDetector

X, y = load_digits(return_X_y=True)
anomaly = 8
rng = np.random.RandomState(0)
normal = rng.permutation(np.flatnonzero(y != anomaly))
n_train = int(0.8 * len(normal))
X_train = X[normal[:n_train]]

det = GANomalyDetector(
    image_shape=(8, 8), latent_dim=32, n_filters=32, max_epochs=60,
    validation_fraction=0.2, early_stopping=False, random_state=0,
    callbacks=[EarlyStopping(monitor="valid_loss", patience=3, threshold=0.05,
                             load_best=True)],
)
det.fit(X_train)
print(f"trained {det.n_iter_} of {det.max_epochs} epochs")

# %%
# What the history holds
# ----------------------
# One entry per epoch; ``history[:, key]`` reads a column. Next to the
# losses, skorch records each epoch's duration (``dur``), batch counts, and
# for each loss a ``*_best`` flag (best value so far).
history = det.net_.history
print(sorted(key for key in history[-1] if not key.startswith("batches")))
epochs = np.array(history[:, "epoch"])

# The fitted callbacks are in ``net_.callbacks_``; the early-stopping one
# knows which epoch it restored.
best_epoch = dict(det.net_.callbacks_)["EarlyStopping"].best_epoch_
print(f"weights restored from epoch {best_epoch}")

# %%
# The curves
# ----------
# Top: the weighted generator loss on training and held-out rows; the
# dashed line marks the epoch whose weights were restored. Middle: the
# generator's three losses on the training rows, each times its weight.
# Bottom: the discriminator's loss, and the mean anomaly score of the
# held-out normal rows.
import matplotlib.pyplot as plt

fig, axes = plt.subplots(3, 1, figsize=(7, 9.5), sharex=True,
                         layout="constrained")
ax = axes[0]
ax.plot(epochs, history[:, "train_loss"], label="train_loss")
ax.plot(epochs, history[:, "valid_loss"], label="valid_loss (held-out normal)")
ax.axvline(best_epoch, color="k", linestyle="--", label="restored epoch")
ax.set(ylabel="weighted generator loss", title="Generator")
ax.legend()

ax = axes[1]
weights = dict(zip(["adv", "con", "enc"], det.loss_weights))
for part, weight in weights.items():
    ax.plot(epochs, weight * np.array(history[:, f"train_loss_{part}"]),
            label=f"w_{part} · train_loss_{part}")
ax.set(ylabel="weighted loss", yscale="log",
       title="Generator's three losses")
ax.legend()

ax = axes[2]
ax.plot(epochs, history[:, "train_loss_d"], color="tab:purple",
        label="train_loss_d")
ax.set(xlabel="epoch", ylabel="discriminator loss", title="Discriminator")
ax_score = ax.twinx()
ax_score.plot(epochs, history[:, "valid_score"], color="tab:green",
              label="valid_score")
ax_score.set_ylabel("mean anomaly score\n(held-out normal rows)")
lines = ax.get_lines() + ax_score.get_lines()
ax.legend(lines, [line.get_label() for line in lines], loc="upper right")
plt.show()

# %%
# How good is the stopped model?
# ------------------------------
# Only now, after training is over, look at anomalies: the test set is the
# rest of the normal digits plus all eights.
from sklearn.metrics import roc_auc_score

test = np.r_[normal[n_train:], np.flatnonzero(y == anomaly)]
auc = roc_auc_score(y[test] == anomaly, -det.score_samples(X[test]))
print(f"test ROC AUC: {auc:.3f}")

# %%
# ``verbose=1`` prints the same numbers while training, one row per epoch,
# with skorch's progress bar.
