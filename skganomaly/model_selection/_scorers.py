"""Scorers that treat the anomaly as the positive class."""

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ._split import anomaly_mask

__all__ = [
    "AnomalyScorer",
    "anomaly_average_precision_scorer",
    "anomaly_precision_at_rate_scorer",
    "anomaly_roc_auc_scorer",
    "anomaly_scorers",
    "make_anomaly_scorer",
    "precision_at_rate",
]

#: Methods asked for continuous scores, in order; both rank samples the same
#: way (``decision_function = score_samples - offset_``).
RESPONSE_METHODS = ("score_samples", "decision_function")


def precision_at_rate(y_true, anomaly_scores, *, rate=None):
    """Precision among the ``k`` samples with the highest anomaly scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 (or True) for anomalies, 0 for normal samples.

    anomaly_scores : array-like of shape (n_samples,)
        Higher = more anomalous.

    rate : float in (0, 1] or None, default=None
        ``k = max(1, round(rate * n_samples))``. ``None`` uses the
        contamination rate of ``y_true`` itself, ``k`` = number of anomalies
        (then precision equals recall: the R-precision).

    Returns
    -------
    precision : float
        Ties at the cut are broken by sample order (earlier first).
    """
    y_true = np.asarray(y_true).astype(bool)
    anomaly_scores = np.asarray(anomaly_scores, dtype=np.float64)
    n = len(y_true)
    if rate is None:
        k = int(y_true.sum())
    else:
        if not 0 < rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {rate!r}.")
        k = int(round(rate * n))
    k = min(max(k, 1), n)
    top = np.argsort(-anomaly_scores, kind="stable")[:k]
    return float(y_true[top].mean())


class AnomalyScorer:
    """A ``scoring=`` callable: ``scorer(estimator, X, y) -> float``.

    Computes ``metric(is_anomaly, anomaly_scores, **kwargs)`` where
    ``is_anomaly = (y == anomaly_label)`` and ``anomaly_scores`` is the
    opposite of the estimator's ``score_samples`` (or of its
    ``decision_function`` when it has no ``score_samples``): continuous
    scores, higher = more anomalous, so no threshold or predicted label
    enters the metric. Greater is better.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_score, **kwargs)`` with the anomaly as positive
        class, e.g. :func:`~sklearn.metrics.roc_auc_score`.

    anomaly_label : object, default=-1
        The label of anomalies in ``y`` (see
        :class:`~skganomaly.model_selection.NormalOnlyKFold`).

    **kwargs
        Passed to ``metric``.
    """

    def __init__(self, metric, *, anomaly_label=-1, **kwargs):
        self.metric = metric
        self.anomaly_label = anomaly_label
        self.kwargs = kwargs

    def anomaly_scores(self, estimator, X):
        """Continuous anomaly scores of ``X`` (higher = more anomalous)."""
        for name in RESPONSE_METHODS:
            method = getattr(estimator, name, None)
            if method is not None:
                return -np.asarray(method(X), dtype=np.float64)
        raise TypeError(
            f"{type(estimator).__name__} has neither score_samples nor "
            "decision_function; anomaly scorers need continuous scores.")

    def __call__(self, estimator, X, y, sample_weight=None):
        if y is None:
            raise ValueError("Anomaly scorers need the labels y.")
        is_anomaly = anomaly_mask(y, self.anomaly_label).astype(int)
        kwargs = dict(self.kwargs)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return float(self.metric(is_anomaly, self.anomaly_scores(estimator, X),
                                 **kwargs))

    def __repr__(self):
        name = getattr(self.metric, "__name__", repr(self.metric))
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"make_anomaly_scorer({name}, anomaly_label={self.anomaly_label!r}{extra})"


def make_anomaly_scorer(metric, *, anomaly_label=-1, **kwargs):
    """Make an :class:`AnomalyScorer` from a ranking metric.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_score, **kwargs)``; ``y_true`` is 1 for anomalies.

    anomaly_label : object, default=-1
        The label of anomalies in ``y``.

    **kwargs
        Passed to ``metric``.

    Returns
    -------
    scorer : AnomalyScorer
    """
    return AnomalyScorer(metric, anomaly_label=anomaly_label, **kwargs)


def anomaly_scorers(anomaly_label=-1, rate=None):
    """The three scorers as a dict, for multi-metric ``scoring=`` (keys
    ``'roc_auc'``, ``'average_precision'`` and ``'precision_at_rate'``)."""
    return {
        "roc_auc": make_anomaly_scorer(roc_auc_score, anomaly_label=anomaly_label),
        "average_precision": make_anomaly_scorer(average_precision_score,
                                                 anomaly_label=anomaly_label),
        "precision_at_rate": make_anomaly_scorer(precision_at_rate, rate=rate,
                                                 anomaly_label=anomaly_label),
    }


#: ROC AUC with the anomaly (label -1) as positive class.
anomaly_roc_auc_scorer = make_anomaly_scorer(roc_auc_score)
#: Average precision with the anomaly (label -1) as positive class.
anomaly_average_precision_scorer = make_anomaly_scorer(average_precision_score)
#: Precision among the top-k anomaly scores, k = number of anomalies in ``y``.
anomaly_precision_at_rate_scorer = make_anomaly_scorer(precision_at_rate)
