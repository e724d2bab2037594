"""Cross-validation that never trains on an anomaly."""

import numpy as np
from sklearn.model_selection import KFold
from sklearn.utils.validation import column_or_1d

__all__ = ["NormalOnlyKFold"]


def anomaly_mask(y, anomaly_label):
    """Boolean mask of the anomalies (``y == anomaly_label``) in labels ``y``."""
    y = column_or_1d(y, warn=True)
    return y == anomaly_label


class NormalOnlyKFold:
    """K-fold cross-validation for detectors trained on normal data only.

    The normal rows are split into ``n_splits`` folds as by
    :class:`~sklearn.model_selection.KFold`. Split ``k`` trains on the normal
    rows outside fold ``k`` and validates on the normal rows of fold ``k``
    plus the labeled anomalies. No anomaly is ever in a training fold, so a
    search with this splitter tunes a one-class detector the way it will be
    used: trained on normal data, judged on how it ranks anomalies above
    unseen normal data. Pass it as ``cv=`` to
    :class:`~sklearn.model_selection.GridSearchCV`,
    :class:`~sklearn.model_selection.RandomizedSearchCV` or
    :func:`~sklearn.model_selection.cross_validate` (with ``y``).

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds of the normal rows, at least 2.

    shuffle : bool, default=False
        Shuffle the normal rows (and, with ``split_anomalies=True``, the
        anomalies) before splitting them into folds.

    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling when ``shuffle=True`` (unused otherwise).

    anomaly_label : object, default=-1
        Rows whose label equals this value are anomalies; every other row is
        normal. ``-1`` suits scikit-learn's outlier convention (+1 normal,
        -1 anomaly); pass ``anomaly_label=1`` for 0/1 labels where 1 marks
        an anomaly, or a class (e.g. ``8``) to treat one class as anomalous
        and all others as normal.

    split_anomalies : bool, default=False
        ``False``: every validation fold holds all anomalies (more anomalies
        per fold, steadier scores; they are never trained on either way).
        ``True``: the anomalies are split into ``n_splits`` folds too, so
        that the validation folds partition the data; this needs at least
        ``n_splits`` anomalies.

    Examples
    --------
    >>> import numpy as np
    >>> from skganomaly.model_selection import NormalOnlyKFold
    >>> y = np.array([1, 1, 1, 1, -1, 1, -1, 1])
    >>> for train, valid in NormalOnlyKFold(n_splits=2).split(np.zeros(8), y):
    ...     print(train, valid)
    [3 5 7] [0 1 2 4 6]
    [0 1 2] [3 4 5 6 7]
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None,
                 anomaly_label=-1, split_anomalies=False):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state
        self.anomaly_label = anomaly_label
        self.split_anomalies = split_anomalies

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits, ``n_splits``. All arguments are ignored."""
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate indices of the training and validation rows of each split.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Data (only its length is used).

        y : array-like of shape (n_samples,)
            Labels; rows equal to ``anomaly_label`` are anomalies.

        groups : Ignored

        Yields
        ------
        train : ndarray
            Indices of normal rows only.

        valid : ndarray
            Indices of the held-out normal rows and the anomalies, sorted.
        """
        if y is None:
            raise ValueError(
                "NormalOnlyKFold needs the labels y to know which rows are "
                "anomalies; pass y to fit (e.g. GridSearchCV.fit(X, y)).")
        is_anomaly = anomaly_mask(y, self.anomaly_label)
        if X is not None and len(X) != len(is_anomaly):
            raise ValueError(f"X has {len(X)} rows but y has {len(is_anomaly)} labels.")
        normal = np.flatnonzero(~is_anomaly)
        anomalies = np.flatnonzero(is_anomaly)
        if len(anomalies) == 0:
            labels = np.unique(np.asarray(y)).tolist()
            raise ValueError(
                f"No row of y has anomaly_label={self.anomaly_label!r} (y has the "
                f"labels {labels[:10]}); validation folds need anomalies. Pass the "
                "label that marks anomalies, e.g. anomaly_label=1 for 0/1 labels.")
        n_splits = self.n_splits
        if not isinstance(n_splits, (int, np.integer)) or isinstance(n_splits, bool) \
                or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
        if n_splits > len(normal):
            raise ValueError(
                f"n_splits={n_splits} is more than the {len(normal)} normal rows.")
        # Unlike KFold, a random_state without shuffling is simply unused.
        kfold = KFold(n_splits, shuffle=self.shuffle,
                      random_state=self.random_state if self.shuffle else None)
        if self.split_anomalies:
            if n_splits > len(anomalies):
                raise ValueError(
                    f"split_anomalies=True needs at least n_splits={n_splits} "
                    f"anomalies; y has {len(anomalies)}.")
            anomaly_folds = [anomalies[test] for _, test in kfold.split(anomalies)]
        else:
            anomaly_folds = [anomalies] * n_splits
        for (train, test), anomaly_fold in zip(kfold.split(normal), anomaly_folds):
            yield normal[train], np.sort(np.concatenate([normal[test], anomaly_fold]))

    def __repr__(self):
        params = ", ".join(f"{name}={getattr(self, name)!r}" for name in (
            "n_splits", "shuffle", "random_state", "anomaly_label", "split_anomalies"))
        return f"{type(self).__name__}({params})"
