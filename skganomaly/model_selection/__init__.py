"""Honest model selection for one-class (normal-only) training.

A detector trained on normal data must be tuned without ever training on an
anomaly, and judged by how well it ranks anomalies above normal data:

* :class:`NormalOnlyKFold` is a cross-validation splitter whose training
  folds hold normal rows only and whose validation folds hold held-out normal
  rows plus the labeled anomalies;
* the scorers (:data:`anomaly_roc_auc_scorer`,
  :data:`anomaly_average_precision_scorer`,
  :data:`anomaly_precision_at_rate_scorer`, or
  :func:`make_anomaly_scorer`) treat the anomaly as the positive class and
  rank by the detector's continuous scores, never by predicted labels.

Both take ``anomaly_label`` (default ``-1``, scikit-learn's outlier label):
rows whose label equals it are anomalies, all others normal. For 0/1 labels
with 1 marking anomalies pass ``anomaly_label=1``; for class labels (e.g. the
digit 8 as the anomaly) pass that class.

.. code-block:: python

    from sklearn.model_selection import GridSearchCV
    from skganomaly.model_selection import NormalOnlyKFold, anomaly_roc_auc_scorer

    search = GridSearchCV(detector, {"latent_dim": [8, 32]},
                          cv=NormalOnlyKFold(3, shuffle=True, random_state=0),
                          scoring=anomaly_roc_auc_scorer, refit=False)
    search.fit(X, y)                     # y: -1 anomaly, +1 normal
    best = detector.set_params(**search.best_params_).fit(X[y != -1])

Use ``refit=False`` and fit the best settings on the normal rows yourself:
with ``refit=True`` the search refits on *all* rows of ``X``, anomalies
included.
"""

from ._split import NormalOnlyKFold
from ._scorers import (
    AnomalyScorer,
    anomaly_average_precision_scorer,
    anomaly_precision_at_rate_scorer,
    anomaly_roc_auc_scorer,
    anomaly_scorers,
    make_anomaly_scorer,
    precision_at_rate,
)

__all__ = [
    "AnomalyScorer",
    "NormalOnlyKFold",
    "anomaly_average_precision_scorer",
    "anomaly_precision_at_rate_scorer",
    "anomaly_roc_auc_scorer",
    "anomaly_scorers",
    "make_anomaly_scorer",
    "precision_at_rate",
]
