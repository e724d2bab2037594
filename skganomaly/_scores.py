"""Anomaly scores and the threshold: what a detector does after training.

The networks give each sample two errors, ``[latent, reconstruction]``
(see :meth:`skganomaly.net.GANomalyNet.error_step`), and a latent code.
This module turns them into one anomaly score per sample (higher = more
abnormal) for each ``score_type``, and sets the threshold. Nothing here
trains or runs a network.

- ``"latent"``, ``"reconstruction"``, ``"combined"``: a weighted sum of the
  two errors, standardised for ``"combined"`` (:class:`ErrorScore`);
- ``"latent_lof"``: the local outlier factor of a sample's code among
  reference codes of training rows (:func:`latent_lof`);
- the threshold: the split-conformal quantile of held-out normal scores
  (``contamination="auto"``, :func:`conformal_threshold`) or a percentile of
  the training scores (a float ``contamination``).
"""

import math

import numpy as np
from sklearn.neighbors import LocalOutlierFactor

__all__ = ["AUTO_FALSE_ALARM_RATE", "ERROR_SCORES", "MAX_REFERENCE_CODES",
           "ErrorScore", "conformal_threshold", "latent_lof", "reference_rows"]

#: With ``contamination="auto"`` the threshold is set so that at most this
#: fraction of normal data is flagged (a split-conformal guarantee).
AUTO_FALSE_ALARM_RATE = 0.05

#: Most training rows whose codes ``score_type='latent_lof'`` keeps as its
#: reference set (a seeded random subset beyond that): scoring compares each
#: sample with every reference code, and the model file stores them.
MAX_REFERENCE_CODES = 10_000

#: Score types computed from the ``[latent, reconstruction]`` errors.
ERROR_SCORES = ("latent", "reconstruction", "combined")


def conformal_threshold(scores, alpha):
    """Threshold ``t`` with ``P(s > t) <= alpha`` for a new normal sample
    exchangeable with ``scores`` (split conformal prediction).

    Any ``t`` from the ``k``-th smallest score (``k = ceil((n + 1)(1 - alpha))``)
    up to, but excluding, the next one gives the guarantee; the midpoint is
    used, so that no held-out sample sits exactly on the threshold where
    float rounding (another batch size, thread count or device) could flip
    its prediction. When ``k >= n`` (fewer than ``1 / alpha - 1`` scores,
    where the guarantee is unreachable, or just enough), the threshold lies
    a relative ``1e-6`` above the largest score: well clear of rounding, and
    no wider than needed.
    """
    scores = np.sort(np.asarray(scores, dtype=np.float64))
    n = len(scores)
    k = math.ceil((n + 1) * (1 - alpha))
    if k < n:
        return (scores[k - 1] + scores[k]) / 2
    return scores[-1] + 1e-6 * max(abs(scores[-1]), np.finfo(np.float64).tiny)


class ErrorScore:
    """``sum(weights * (errors - center) / scale)`` over the two errors.

    ``"latent"`` and ``"reconstruction"`` take one raw error (weights
    ``[1, 0]`` or ``[0, 1]``, center 0, scale 1: the error comes out exactly
    unchanged). ``"combined"`` weighs ``1 - lam`` and ``lam`` of the errors
    standardised with their mean and standard deviation on held-out normal
    rows, so that ``lam`` means the same whatever the errors' units.
    """

    def __init__(self, weights, center=(0.0, 0.0), scale=(1.0, 1.0)):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.center = np.asarray(center, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)

    @classmethod
    def fit(cls, score_type, errors=None, lam=0.9):
        """The score of ``score_type``; ``errors`` (held-out normal rows)
        standardise ``"combined"``."""
        if score_type == "combined":
            return cls([1.0 - lam, lam], errors.mean(axis=0), _spread(errors))
        return cls([float(score_type == "latent"), float(score_type == "reconstruction")])

    def __call__(self, errors):
        scores = np.zeros(len(errors), dtype=np.float64)
        for k in range(2):
            if self.weights[k] != 0:
                scores += self.weights[k] * ((errors[:, k] - self.center[k]) / self.scale[k])
        return scores


def _spread(values):
    """Standard deviation per column, or 1 where it is zero or not finite
    (a constant component cannot be standardised)."""
    std = np.std(values, axis=0)
    return np.where(np.isfinite(std) & (std > 0), std, 1.0)


def reference_rows(n_rows, rng):
    """Positions of the training rows whose codes ``"latent_lof"`` keeps:
    all of them, or a seeded random ``MAX_REFERENCE_CODES`` beyond that."""
    keep = np.arange(n_rows)
    if n_rows > MAX_REFERENCE_CODES:
        keep = np.sort(rng.choice(keep, MAX_REFERENCE_CODES, replace=False))
    return keep


def latent_lof(reference_codes, n_neighbors):
    """:class:`~sklearn.neighbors.LocalOutlierFactor` (``novelty=True``)
    fitted on the reference codes, in float64: LOF's ratios of distances
    would round in float32. ``-lof.score_samples(codes)`` is the score."""
    codes = np.asarray(reference_codes, dtype=np.float64)
    return LocalOutlierFactor(n_neighbors=n_neighbors, novelty=True).fit(codes)
