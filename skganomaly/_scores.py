"""Anomaly scores and the threshold: what a detector does after training.

The networks give each sample two errors, ``[latent, reconstruction]``
(see :meth:`skganomaly.net.GANomalyNet.error_step`), and a latent code.
This module turns them into one anomaly score per sample (higher = more
abnormal) for each ``score_type``, and sets the threshold. Nothing here
trains or runs a network.

- ``"latent"``, ``"reconstruction"``, ``"combined"``: a weighted sum of the
  two errors, standardised for ``"combined"`` (:class:`ErrorScore`);
- ``"latent_lof"``: the local outlier factor of a sample's code among
  reference codes of training rows (:class:`LatentLOF`, tensor operations
  in float64, so that scoring stays on the networks' device and the same
  module exports to ONNX);
- the threshold: the split-conformal quantile of held-out normal scores
  (``contamination="auto"``, :func:`conformal_threshold`) or a percentile of
  the training scores (a float ``contamination``).
"""

import math

import numpy as np
import torch
from torch import nn

__all__ = ["AUTO_FALSE_ALARM_RATE", "ERROR_SCORES", "MAX_REFERENCE_CODES",
           "ErrorScore", "LatentLOF", "conformal_threshold", "latent_lof",
           "reference_rows"]

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


#: Reference rows whose neighbours are searched at once when the local
#: outlier factor is fitted: bounds the distance block to this many rows
#: times the number of reference codes.
LOF_FIT_CHUNK = 512


class LatentLOF(nn.Module):
    """Local outlier factor of codes among reference codes, in torch.

    The scores are those of scikit-learn's
    :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``
    fitted on the reference codes (Euclidean distance): the reference codes'
    ``k``-distances and local reachability densities are computed once, here;
    a sample's score is the mean ratio of its ``k`` nearest reference codes'
    densities to its own. Everything runs in float64 (LOF's ratios of
    distances would round in float32) as tensor operations (distances,
    top-k, reachability, ratio), so that scoring stays on the device of the
    module and :func:`torch.onnx.export` turns :meth:`forward` into graph
    operators.

    Parameters
    ----------
    reference_codes : array-like of shape (n_reference, n_latent)
        The codes the samples are compared with (``reference_codes_``).
    n_neighbors : int
        Neighbours ``k`` (``n_neighbors_``), less than ``n_reference``.
    device : str or torch.device, default="cpu"
        Where the module's tensors live.
    """

    def __init__(self, reference_codes, n_neighbors, device="cpu"):
        super().__init__()
        codes = torch.as_tensor(np.asarray(reference_codes, dtype=np.float64),
                                device=device)
        # Distances are computed as |a|^2 + |b|^2 - 2 a.b (a matrix product:
        # no n x n_reference x n_latent block); centring the codes first keeps
        # the cancellation in that sum small.
        center = codes.mean(dim=0)
        codes = codes - center
        self.n_neighbors = int(n_neighbors)
        self.register_buffer("center", center)
        self.register_buffer("reference", codes)
        self.register_buffer("reference_sq", codes.pow(2).sum(dim=1))
        distances, neighbors = self._reference_neighbors()
        k_distance = distances[:, -1].contiguous()
        self.register_buffer("k_distance", k_distance)
        self.register_buffer("lrd", self._reachability_density(distances, neighbors,
                                                               k_distance))

    def _distances(self, centered):
        """Euclidean distances ``(n, n_reference)`` of centred codes."""
        sq = (centered.pow(2).sum(dim=1, keepdim=True) + self.reference_sq
              - 2.0 * centered @ self.reference.T)
        return torch.sqrt(torch.clamp(sq, min=0.0))

    def _reference_neighbors(self):
        """Each reference code's ``k`` nearest other reference codes:
        distances and indices (scikit-learn's ``kneighbors()`` on the
        fitted rows, which leaves each row itself out)."""
        parts = []
        for start in range(0, len(self.reference), LOF_FIT_CHUNK):
            block = self._distances(self.reference[start:start + LOF_FIT_CHUNK])
            rows = torch.arange(len(block), device=block.device)
            block[rows, rows + start] = torch.inf
            parts.append(torch.topk(block, self.n_neighbors, dim=1, largest=False))
        return (torch.cat([p.values for p in parts]),
                torch.cat([p.indices for p in parts]))

    @staticmethod
    def _reachability_density(distances, neighbors, k_distance):
        """Local reachability densities from ``k``-neighbour distances and
        indices and the reference codes' ``k``-distances (with
        scikit-learn's ``1e-10`` against a zero mean)."""
        reach = torch.maximum(distances, k_distance[neighbors])
        return 1.0 / (reach.mean(dim=1) + 1e-10)

    def forward(self, codes):
        """Anomaly scores (float64, higher = more abnormal) of codes
        ``(n, n_latent)``: ``-LocalOutlierFactor.score_samples``."""
        centered = codes.to(self.reference.dtype) - self.center
        distances, neighbors = torch.topk(self._distances(centered), self.n_neighbors,
                                          dim=1, largest=False)
        own = self._reachability_density(distances, neighbors, self.k_distance)
        return (self.lrd[neighbors] / own[:, None]).mean(dim=1)


def latent_lof(reference_codes, n_neighbors, device="cpu"):
    """The :class:`LatentLOF` of the reference codes; ``lof(codes)`` (a
    float tensor) is the anomaly score."""
    return LatentLOF(reference_codes, n_neighbors, device=device)
