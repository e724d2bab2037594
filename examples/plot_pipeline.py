"""
========================================
A pipeline with preprocessing for tables
========================================

:class:`~skganomaly.GANomalyDetector` standardises tabular features itself,
but preprocessing that changes what the features *are* belongs in front of
it, in a :class:`~sklearn.pipeline.Pipeline`. Here the data is scikit-learn's
breast cancer table (30 measurements of cell nuclei): benign tumours are the
normal class and malignant ones the anomaly. Many of the measurements are
strongly right-skewed, so a
:class:`~sklearn.compose.ColumnTransformer` takes the logarithm of those
columns before the detector sees them.

The pipeline is fitted, scored and thresholded like the detector alone:
``fit``, ``score_samples``, ``decision_function`` and ``predict`` all pass
through the preprocessing.
"""

# %%
# Benign tumours are normal, malignant ones the anomaly
# -----------------------------------------------------
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

data = load_breast_cancer(as_frame=True)
X, is_benign = data.data, data.target == 1          # a pandas DataFrame
X_benign, X_malignant = X[is_benign], X[~is_benign]
X_train, X_benign_test = train_test_split(X_benign, test_size=0.3,
                                          random_state=0)
X_test = pd.concat([X_benign_test, X_malignant])  # 1 = malignant below
y_test = np.r_[np.zeros(len(X_benign_test)), np.ones(len(X_malignant))]
print(f"train: {len(X_train)} benign; test: {len(X_benign_test)} benign, "
      f"{len(X_malignant)} malignant")

# %%
# Log-transform the skewed columns, then detect
# ---------------------------------------------
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skganomaly import GANomalyDetector

skewed = [col for col in X.columns if X_train[col].skew() > 1.0]
print(f"{len(skewed)} skewed columns, e.g. {skewed[:3]}")

log_skewed = ColumnTransformer(
    [("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
      skewed)],
    remainder="passthrough",
    verbose_feature_names_out=False,
).set_output(transform="pandas")  # pass the column names on


def make_detector():
    return GANomalyDetector(latent_dim=8, n_filters=16, max_epochs=40,
                            random_state=0)


pipe = make_pipeline(log_skewed, make_detector())
pipe.fit(X_train)
pipe

# %%
# The pipeline scores like a detector. ``predict`` uses the detector's
# threshold: with ``contamination="auto"`` it is calibrated on the held-out
# benign rows to flag at most 5 % of benign tumours. That is a guarantee on
# average over the random held-out split; with only about 25 held-out rows
# here, the rate of one fitted model on one test set can be noticeably off.
from sklearn.metrics import roc_auc_score, roc_curve

flagged = pipe.predict(X_test) == -1
print(f"flagged: {flagged[y_test == 0].mean():.1%} of benign, "
      f"{flagged[y_test == 1].mean():.1%} of malignant test tumours")

# %%
# With and without the preprocessing
# ----------------------------------
# The same detector on the raw columns, for comparison. Both rank tumours by
# ``-score_samples`` (higher = more anomalous).
plain = make_detector().fit(X_train)
anomaly_scores = {
    "log-transform + GANomalyDetector": -pipe.score_samples(X_test),
    "GANomalyDetector on raw columns": -plain.score_samples(X_test),
}
for name, score in anomaly_scores.items():
    print(f"{name:>33}: ROC AUC = {roc_auc_score(y_test, score):.3f}")

import matplotlib.pyplot as plt

fig, (ax_hist, ax_roc) = plt.subplots(1, 2, figsize=(10, 4))
score = anomaly_scores["log-transform + GANomalyDetector"]
bins = np.logspace(np.log10(score.min()), np.log10(score.max()), 40)
ax_hist.hist(score[y_test == 0], bins=bins, alpha=0.6, label="benign")
ax_hist.hist(score[y_test == 1], bins=bins, alpha=0.6, label="malignant")
ax_hist.axvline(-pipe[-1].offset_, color="k", linestyle="--", label="threshold")
ax_hist.set(xscale="log", xlabel="GANomaly anomaly score", ylabel="test tumours",
            title="Pipeline scores")
ax_hist.legend()
for name, score in anomaly_scores.items():
    fpr, tpr, _ = roc_curve(y_test, score)
    ax_roc.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_test, score):.2f})")
ax_roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
ax_roc.set(xlabel="false positive rate", ylabel="true positive rate",
           title="Finding malignant tumours")
ax_roc.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The detector at the end of the pipeline saw the column names (the
# ``ColumnTransformer`` puts the transformed columns first):
print(list(pipe[-1].feature_names_in_[:3]))
