"""skganomaly.model_selection: a splitter that never trains on an anomaly and
scorers with the anomaly as the positive class."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from skganomaly import GANomalyDetector
from skganomaly.model_selection import (
    NormalOnlyKFold,
    anomaly_average_precision_scorer,
    anomaly_precision_at_rate_scorer,
    anomaly_roc_auc_scorer,
    anomaly_scorers,
    make_anomaly_scorer,
    precision_at_rate,
)

Y = np.array([1, 1, -1, 1, 1, 1, -1, 1, 1, 1, -1, 1])


# -- splitter ------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_train_folds_hold_normal_rows_only_and_valid_folds_all_anomalies(shuffle):
    cv = NormalOnlyKFold(3, shuffle=shuffle, random_state=0)
    normal, anomalies = np.flatnonzero(Y == 1), np.flatnonzero(Y == -1)
    splits = list(cv.split(np.zeros((12, 2)), Y))
    assert len(splits) == cv.get_n_splits() == 3
    held_out = []
    for train, valid in splits:
        assert np.all(Y[train] == 1)
        assert np.intersect1d(train, valid).size == 0
        assert set(anomalies) <= set(valid)
        held_out += [i for i in valid if Y[i] == 1]
        assert len(train) == 6 and len(valid) == 3 + 3
    # Each normal row is held out exactly once.
    assert sorted(held_out) == normal.tolist()


def test_split_anomalies_partitions_the_data():
    splits = list(NormalOnlyKFold(3, split_anomalies=True).split(None, Y))
    valid = np.concatenate([v for _, v in splits])
    assert sorted(valid) == list(range(12))
    assert [int((Y[v] == -1).sum()) for _, v in splits] == [1, 1, 1]
    assert all(np.all(Y[t] == 1) for t, _ in splits)


def test_shuffle_with_random_state_is_reproducible_and_differs_from_no_shuffle():
    a = [v.tolist() for _, v in NormalOnlyKFold(3, shuffle=True, random_state=1).split(None, Y)]
    b = [v.tolist() for _, v in NormalOnlyKFold(3, shuffle=True, random_state=1).split(None, Y)]
    c = [v.tolist() for _, v in NormalOnlyKFold(3).split(None, Y)]
    assert a == b and a != c


@pytest.mark.parametrize("labels, anomaly_label", [
    ((Y == -1).astype(int), 1),           # 0/1 with 1 = anomaly
    (np.where(Y == -1, 8, Y + 2), 8),     # one class is the anomaly
    (np.where(Y == -1, "bad", "ok"), "bad"),
])
def test_other_label_conventions(labels, anomaly_label):
    expected = list(NormalOnlyKFold(3).split(None, Y))
    got = list(NormalOnlyKFold(3, anomaly_label=anomaly_label).split(None, labels))
    for (t1, v1), (t2, v2) in zip(expected, got):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(v1, v2)


def test_splitter_errors_are_clear():
    with pytest.raises(ValueError, match="anomaly_label=1 for 0/1"):
        next(NormalOnlyKFold(3).split(None, (Y == -1).astype(int)))
    with pytest.raises(ValueError, match="needs the labels y"):
        next(NormalOnlyKFold(3).split(np.zeros(12), None))
    with pytest.raises(ValueError, match="more than the 9 normal rows"):
        next(NormalOnlyKFold(10).split(None, Y))
    with pytest.raises(ValueError, match="at least n_splits=4 anomalies"):
        next(NormalOnlyKFold(4, split_anomalies=True).split(None, Y))
    with pytest.raises(ValueError, match="X has 5 rows"):
        next(NormalOnlyKFold(3).split(np.zeros(5), Y))
    assert "n_splits=3" in repr(NormalOnlyKFold(3))


# -- scorers -------------------------------------------------------------------------


class SpyDetector(OutlierMixin, BaseEstimator):
    """Records the row ids (column 0) it is fitted on; scores by column 1.
    ``predict`` raises: the scorers must not call it."""

    fitted_ids = []

    def __init__(self, sign=1.0):
        self.sign = sign

    def fit(self, X, y=None):
        SpyDetector.fitted_ids.append(np.asarray(X)[:, 0].astype(int).tolist())
        self.offset_ = 0.0
        return self

    def score_samples(self, X):
        return -self.sign * np.asarray(X)[:, 1]

    def decision_function(self, X):
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        raise AssertionError("a scorer called predict")


def _spy_data():
    rng = np.random.RandomState(0)
    y = np.where(rng.rand(60) < 0.2, -1, 1)
    # Column 1: an anomaly-ness signal that is informative but imperfect.
    signal = (y == -1) * 1.0 + rng.normal(scale=0.7, size=60)
    return np.column_stack([np.arange(60), signal]), y


@pytest.mark.parametrize("search", ["grid", "random"])
def test_a_search_never_trains_on_an_anomaly(search):
    X, y = _spy_data()
    SpyDetector.fitted_ids = []
    kwargs = dict(cv=NormalOnlyKFold(4, shuffle=True, random_state=0),
                  scoring=anomaly_scorers(), refit=False)
    if search == "grid":
        s = GridSearchCV(SpyDetector(), {"sign": [1.0, -1.0]}, **kwargs)
    else:
        s = RandomizedSearchCV(SpyDetector(), {"sign": [1.0, -1.0]}, n_iter=2,
                               random_state=0, **kwargs)
    s.fit(X, y)
    assert len(SpyDetector.fitted_ids) == 2 * 4
    anomalies = set(np.flatnonzero(y == -1))
    for ids in SpyDetector.fitted_ids:
        assert not anomalies & set(ids)
        assert len(ids) >= 0.7 * (y == 1).sum()
    # The informative sign wins, by a wide margin.
    auc = s.cv_results_["mean_test_roc_auc"]
    signs = [p["sign"] for p in s.cv_results_["params"]]
    assert auc[signs.index(1.0)] > 0.75 and auc[signs.index(-1.0)] < 0.25
    assert auc[signs.index(1.0)] + auc[signs.index(-1.0)] == pytest.approx(1.0)


def test_scorers_match_hand_computation():
    X, y = _spy_data()
    det = SpyDetector().fit(X)
    is_anomaly = y == -1
    anomaly_score = X[:, 1]
    assert anomaly_roc_auc_scorer(det, X, y) == pytest.approx(
        roc_auc_score(is_anomaly, anomaly_score))
    assert anomaly_average_precision_scorer(det, X, y) == pytest.approx(
        average_precision_score(is_anomaly, anomaly_score))
    k = int(is_anomaly.sum())
    top = np.argsort(-anomaly_score)[:k]
    assert anomaly_precision_at_rate_scorer(det, X, y) == pytest.approx(
        is_anomaly[top].mean())
    # 0/1 labels with 1 = anomaly give the same numbers.
    s01 = make_anomaly_scorer(roc_auc_score, anomaly_label=1)
    assert s01(det, X, is_anomaly.astype(int)) == anomaly_roc_auc_scorer(det, X, y)


def test_precision_at_rate_by_hand():
    y = [0, 1, 0, 1, 0, 0, 0, 0]
    s = [0.1, 0.9, 0.8, 0.7, 0.2, 0.3, 0.0, 0.4]
    # Two anomalies -> top 2 = [0.9 (anomaly), 0.8 (normal)].
    assert precision_at_rate(y, s) == 0.5
    assert precision_at_rate(y, s, rate=0.375) == pytest.approx(2 / 3)  # top 3
    assert precision_at_rate(y, s, rate=0.01) == 1.0  # at least one
    with pytest.raises(ValueError, match="rate must be in"):
        precision_at_rate(y, s, rate=1.5)


def test_scorers_use_decision_function_when_there_is_no_score_samples():
    class OnlyDecision(BaseEstimator):
        def decision_function(self, X):
            return -np.asarray(X)[:, 1]

    X, y = _spy_data()
    assert anomaly_roc_auc_scorer(OnlyDecision(), X, y) == pytest.approx(
        roc_auc_score(y == -1, X[:, 1]))
    with pytest.raises(TypeError, match="neither score_samples"):
        anomaly_roc_auc_scorer(BaseEstimator(), X, y)


def test_grid_search_of_a_detector_with_splitter_and_scorer():
    rng = np.random.RandomState(0)
    X_normal = rng.normal(size=(90, 4))
    X_anomalies = rng.normal(loc=6.0, size=(10, 4))
    X = np.vstack([X_normal, X_anomalies])
    y = np.r_[np.ones(90, int), -np.ones(10, int)]
    fitted = []

    class Recording(GANomalyDetector):
        def fit(self, X, y=None):
            fitted.append(np.asarray(X).copy())
            return super().fit(X, y)

    search = GridSearchCV(
        Recording(latent_dim=2, n_filters=4, max_epochs=1, batch_size=32,
                  random_state=0),
        {"loss_weights": [(1.0, 1.0, 1.0), (1.0, 50.0, 1.0)]}, cv=NormalOnlyKFold(3),
        refit=False,
        scoring={"auc": anomaly_roc_auc_scorer,
                 "p": anomaly_precision_at_rate_scorer})
    search.fit(X, y)
    assert len(fitted) == 6
    assert all(len(f) == 60 and np.abs(f).max() < 5 for f in fitted)
    # Far-away anomalies rank high even after one epoch (chance: 0.5).
    assert np.all(search.cv_results_["mean_test_auc"] > 0.8)
    assert np.all(search.cv_results_["mean_test_p"] >= 0.5)

