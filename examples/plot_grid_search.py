"""
========================
Tuning with GridSearchCV
========================

:class:`~skganomaly.GANomalyDetector` is a scikit-learn estimator, so
:class:`~sklearn.model_selection.GridSearchCV` can tune it. Tuning an
outlier detector needs some labelled anomalies to score each candidate, and
two precautions that scikit-learn cannot take for you:

1. **no anomaly in a training fold**: GANomaly learns what *normal* looks
   like, so each fold trains on normal rows only and validates on held-out
   normal rows plus the labelled anomalies;
2. **a final test on data the search never saw**, because picking the best
   of many candidates on the validation folds makes its score optimistic.

The data is scikit-learn's digits again, with the digit 8 as the anomaly.
"""

# %%
# Development and test data
# -------------------------
# Half of the eights are labelled anomalies for the search; the other half,
# with 20 % of the normal digits, form the final test set.
import numpy as np
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)
anomaly = 8
rng = np.random.RandomState(0)
normal = rng.permutation(np.flatnonzero(y != anomaly))
eights = rng.permutation(np.flatnonzero(y == anomaly))
n_dev_normal = int(0.8 * len(normal))
dev = np.r_[normal[:n_dev_normal], eights[: len(eights) // 2]]
test = np.r_[normal[n_dev_normal:], eights[len(eights) // 2:]]

X_dev, is_normal_dev = X[dev], (y[dev] != anomaly).astype(int)
X_test, is_anomaly_test = X[test], (y[test] == anomaly).astype(int)
print(f"development: {is_normal_dev.sum()} normal, {(1 - is_normal_dev).sum()} "
      f"anomalies; test: {len(test) - is_anomaly_test.sum()} normal, "
      f"{is_anomaly_test.sum()} anomalies")

# %%
# Folds that train on normal rows only
# ------------------------------------
# Stratified folds over the development set, with the anomalies removed from
# every training part. ``GridSearchCV`` accepts any iterable of
# ``(train, validation)`` index pairs as ``cv``.
from sklearn.model_selection import StratifiedKFold

folds = [
    (train[is_normal_dev[train] == 1], valid)
    for train, valid in StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    .split(X_dev, is_normal_dev)
]
for train, valid in folds:
    assert is_normal_dev[train].all()  # no anomaly is ever trained on

# %%
# Scoring: ROC AUC of ``score_samples``
# -------------------------------------
# ``score_samples`` is higher for more normal samples, so with label 1 for
# normal rows the ROC AUC of ``score_samples`` is the usual AUC of finding
# the anomalies. A scorer is any function ``(estimator, X, y) -> float``.
from sklearn.metrics import roc_auc_score


def auc_of_scores(estimator, X, is_normal):
    return roc_auc_score(is_normal, estimator.score_samples(X))


# %%
# The search
# ----------
# Four candidates, two folds: eight fits on 8x8 images. ``refit=False``:
# scikit-learn would refit the best candidate on *all* development rows,
# anomalies included, so the final model is fitted below on the normal rows
# only.
from sklearn.model_selection import GridSearchCV

from skganomaly import GANomalyDetector

param_grid = {"latent_dim": [16, 100], "max_epochs": [5, 15]}
search = GridSearchCV(
    GANomalyDetector(image_shape=(8, 8), n_filters=64, random_state=0),
    param_grid, scoring=auc_of_scores, cv=folds, refit=False,
)
search.fit(X_dev, is_normal_dev)
print("best parameters:", search.best_params_,
      f"(validation ROC AUC {search.best_score_:.3f})")

# %%
# Validation ROC AUC of every candidate. Values below 0.5 mean that the
# candidate ranks the eights as *more* normal than the other digits: with
# too small a code or too few epochs, GANomaly's latent score can be worse
# than useless, one more reason to validate on labelled anomalies before
# trusting a configuration. The folds train on half of the normal
# development rows, so their AUCs are lower than that of the final model.
import matplotlib.pyplot as plt

mean_auc = search.cv_results_["mean_test_score"].reshape(
    len(param_grid["latent_dim"]), len(param_grid["max_epochs"]))
fig, ax = plt.subplots(figsize=(5, 4))
# Red below 0.5 (worse than chance), yellow at chance, green above.
im = ax.imshow(mean_auc, cmap="RdYlGn", vmin=0.0, vmax=1.0)
for (i, j), auc in np.ndenumerate(mean_auc):
    ax.text(j, i, f"{auc:.3f}", ha="center", va="center")
ax.set(xticks=range(len(param_grid["max_epochs"])),
       xticklabels=param_grid["max_epochs"], xlabel="max_epochs",
       yticks=range(len(param_grid["latent_dim"])),
       yticklabels=param_grid["latent_dim"], ylabel="latent_dim",
       title="mean validation ROC AUC")
fig.colorbar(im, ax=ax)
fig.tight_layout()
plt.show()

# %%
# Final model and test
# --------------------
# Refit the best parameters on all normal development rows and report the
# ROC AUC on the test set, which played no part in the choice.
best = GANomalyDetector(image_shape=(8, 8), n_filters=64, random_state=0,
                        **search.best_params_)
best.fit(X_dev[is_normal_dev == 1])
test_auc = roc_auc_score(is_anomaly_test, -best.score_samples(X_test))
print(f"test ROC AUC of the tuned detector: {test_auc:.3f}")
