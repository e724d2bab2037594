"""score_type: latent (GANomaly's), reconstruction, combined (standardised on
held-out normal rows), latent_lof (local outlier factor of the codes among the training rows'), and
'auto'."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils._param_validation import InvalidParameterError

import skganomaly._scores as scores_module
from skganomaly import GANomalyDetector


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(80, 5)), rng.normal(loc=3.0, size=(10, 5))


def _fit(X, **params):
    base = dict(latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0)
    return GANomalyDetector(**{**base, **params}).fit(X)


def _errors_by_hand(det, X):
    gen = det.net_.module_.eval()
    with torch.no_grad():
        x = torch.from_numpy(det._scaler.transform(X))
        x_hat, z, z_hat = gen(x)
    lat = ((z.double() - z_hat.double()) ** 2).mean(dim=1).numpy()
    rec = (x.double() - x_hat.double()).abs().flatten(1).mean(dim=1).numpy()
    return lat, rec


@pytest.mark.parametrize("shape, kind", [
    ((60, 1, 8, 8), "latent_lof"),  # an image stack
    ((60, 64), "latent"),  # the same values as tabular rows
])
def test_auto_picks_the_score_per_input_kind(shape, kind):
    X = np.random.RandomState(0).normal(size=shape)
    auto, explicit = _fit(X, n_filters=2), _fit(X, n_filters=2, score_type=kind)
    assert auto.score_type_ == kind
    np.testing.assert_array_equal(auto.score_samples(X[:7]), explicit.score_samples(X[:7]))
    assert auto.offset_ == explicit.offset_
    if len(shape) == 4:  # flat rows with image_shape are images too
        flat = _fit(X.reshape(len(X), -1), n_filters=2, image_shape=shape[1:])
        assert flat.score_type_ == "latent_lof"


def test_latent_is_the_tabular_default_and_ganomalys_score(data):
    X, A = data
    auto, latent = _fit(X), _fit(X, score_type="latent")
    assert auto.score_type == "auto" and auto.score_type_ == "latent"
    np.testing.assert_array_equal(auto.score_samples(A), latent.score_samples(A))
    assert auto.offset_ == latent.offset_
    lat, _ = _errors_by_hand(auto, A)
    np.testing.assert_allclose(-auto.score_samples(A), lat, rtol=1e-5)


def test_reconstruction_is_the_mean_absolute_scaled_error(data):
    X, A = data
    det = _fit(X, score_type="reconstruction")
    _, rec = _errors_by_hand(det, A)
    np.testing.assert_allclose(-det.score_samples(A), rec, rtol=1e-5)
    np.testing.assert_array_equal(det.score_weights_, [0, 1])


def test_combined_standardises_with_training_rows_without_holdout(data):
    X, A = data
    det = _fit(X, score_type="combined", score_lambda=0.7, validation_fraction=None)
    lat, rec = _errors_by_hand(det, X)
    np.testing.assert_allclose(det.score_center_, [lat.mean(), rec.mean()], rtol=1e-5)
    np.testing.assert_allclose(det.score_scale_, [lat.std(), rec.std()], rtol=1e-4)
    lat_a, rec_a = _errors_by_hand(det, A)
    expected = (0.3 * (lat_a - lat.mean()) / lat.std()
                + 0.7 * (rec_a - rec.mean()) / rec.std())
    np.testing.assert_allclose(-det.score_samples(A), expected, rtol=1e-4, atol=1e-6)


def test_combined_statistics_come_from_the_held_out_rows_only(data):
    X, _ = data
    det = _fit(X, score_type="combined")
    # Replay the detector's held-out split (same random_state, same draws).
    rng = np.random.RandomState(0)
    rng.randint(np.iinfo(np.int32).max)
    _, valid = det._split_holdout(len(X), rng)
    assert len(valid) == 8
    lat, rec = _errors_by_hand(det, X[valid])
    np.testing.assert_allclose(det.score_center_, [lat.mean(), rec.mean()], rtol=1e-5)
    # The held-out normal rows are centred (mean score 0), the anomalies not.
    assert abs(det.score_samples(X[valid]).mean()) < 1e-6


def test_scores_depend_on_the_sample_alone(data):
    X, A = data
    for kind in ["latent", "reconstruction", "combined", "latent_lof"]:
        det = _fit(X, score_type=kind)
        whole = det.score_samples(np.vstack([X, A]))
        alone = np.array([det.score_samples(row[None])[0] for row in A])
        np.testing.assert_allclose(alone, whole[len(X):], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["latent", "reconstruction", "combined", "latent_lof"])
def test_contamination_threshold_holds_for_every_score_type(data, kind):
    X, _ = data
    det = _fit(X, score_type=kind, contamination=0.1)
    assert (det.predict(X) == -1).mean() == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize("kind", ["latent", "reconstruction", "combined", "latent_lof"])
def test_far_anomalies_rank_high_for_every_score_type(kind):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 4))
    A = rng.normal(loc=8.0, size=(10, 4))
    T = rng.normal(size=(30, 4))
    det = _fit(X, score_type=kind, max_epochs=10)
    assert det.score_samples(A).max() < det.score_samples(T).min()


@pytest.mark.parametrize("params, match", [
    ({"score_type": "score"}, "score_type"),
    ({"loss_weights": "paper"}, "loss_weights"),
    ({"score_lambda": 1.5}, "score_lambda"),
    ({"n_neighbors": 0}, "n_neighbors"),
    ({"n_neighbors": 2.5}, "n_neighbors"),
    ({"n_neighbors": "auto"}, "n_neighbors"),
])
def test_invalid_new_parameters_are_refused(data, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        GANomalyDetector(**params).fit(data[0])


def test_score_type_is_frozen_at_fit_and_survives_save_load(data, tmp_path):
    X, A = data
    det = _fit(X, score_type="combined", score_lambda=0.5)
    before = det.score_samples(A)
    loaded = GANomalyDetector.load(det.save(tmp_path / "c.skgan"))
    np.testing.assert_array_equal(loaded.score_samples(A), before)
    for name in ["score_center_", "score_scale_", "score_weights_"]:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(det, name))
    # Changing the parameter needs a refit, as for any parameter.
    det.set_params(score_type="latent")
    np.testing.assert_array_equal(det.score_samples(A), before)


# -- latent_lof ------------------------------------------------------------------


def _holdout(det, n):
    """Replay the detector's split: ``(training rows, held-out rows)``."""
    rng = np.random.RandomState(det.random_state)
    rng.randint(np.iinfo(np.int32).max)
    return det._split_holdout(n, rng)


@pytest.mark.parametrize("k", [10, 7])
def test_latent_lof_is_sklearns_lof_on_the_training_codes(data, k):
    X, A = data
    det = _fit(X, score_type="latent_lof", **({} if k == 10 else {"n_neighbors": k}))
    train, valid = _holdout(det, len(X))
    assert len(valid) == 8 and det.score_type_ == "latent_lof"
    # The reference set is the codes of the training rows, never the
    # held-out ones, and the networks are the latent score's.
    np.testing.assert_allclose(det.reference_codes_, det.encode(X[train]), rtol=1e-6)
    np.testing.assert_array_equal(det.score_weights_, [0, 0])
    assert det.net_.codes([]).shape == (0, 3)
    lof = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(det.encode(X[train]))
    np.testing.assert_allclose(-det.score_samples(A), -lof.score_samples(det.encode(A)),
                               rtol=1e-5)
    latent = _fit(X)
    for a, b in zip(det.net_.module_.parameters(), latent.net_.module_.parameters()):
        assert torch.equal(a, b)


def test_latent_lof_threshold_is_calibrated_on_held_out_rows():
    # Enough rows that early stopping is on and the 5 % quantile of the
    # calibration half is not simply its largest score.
    X = np.random.RandomState(1).normal(size=(1000, 5))
    det = _fit(X, score_type="latent_lof")
    assert det.do_early_stopping_
    _, valid = _holdout(det, len(X))
    calib = valid[1::2]  # early stopping decides on the other half
    assert len(calib) == 50
    scores = -det.score_samples(X[calib])
    assert -det.offset_ < scores.max()
    expected = scores_module.conformal_threshold(scores, 0.05)
    assert det.offset_ == pytest.approx(-expected, rel=1e-6)


def test_latent_lof_flags_anomalies_between_the_modes_of_normal_data():
    # Two clusters of normal rows and anomalies halfway between them: the
    # latent score reconstructs the anomalies consistently and misses them;
    # their codes lie where no normal code is, which the LOF sees.
    rng = np.random.RandomState(0)
    centre = np.full(4, 4.0)
    X = np.vstack([rng.normal(scale=0.5, size=(100, 4)) + centre,
                   rng.normal(scale=0.5, size=(100, 4)) - centre])
    T = np.vstack([rng.normal(scale=0.5, size=(30, 4)) + centre,
                   rng.normal(scale=0.5, size=(30, 4)) - centre])
    A = rng.normal(scale=0.5, size=(20, 4))
    is_anomaly = np.r_[np.zeros(len(T)), np.ones(len(A))]
    auc = {kind: roc_auc_score(is_anomaly, -_fit(X, score_type=kind, max_epochs=10)
                               .score_samples(np.vstack([T, A])))
           for kind in ["latent", "latent_lof"]}
    assert auc["latent"] < 0.6
    assert auc["latent_lof"] > 0.99


def test_latent_lof_keeps_a_seeded_subset_of_large_training_sets(data, monkeypatch):
    X, _ = data
    monkeypatch.setattr(scores_module, "MAX_REFERENCE_CODES", 30)
    det = _fit(X, score_type="latent_lof", contamination=0.1)
    again = _fit(X, score_type="latent_lof", contamination=0.1)
    assert det.reference_codes_.shape == (30, 3)
    np.testing.assert_array_equal(det.reference_codes_, again.reference_codes_)
    # Every kept code is one of the training rows' codes.
    train, _ = _holdout(det, len(X))
    codes = det.encode(X[train])
    distance = np.abs(det.reference_codes_[:, None, :] - codes[None]).max(axis=2)
    assert (distance.min(axis=1) < 1e-5).all()
    assert det._latent_lof().reference.shape == (30, 3)
    assert (det.predict(X) == -1).mean() == pytest.approx(0.1, abs=0.02)


@pytest.mark.parametrize("n, d, k", [(50, 3, 10), (200, 8, 7), (30, 2, 29), (300, 20, 1)])
def test_torch_lof_is_sklearns_lof_in_float64(n, d, k):
    # LatentLOF (tensor operations, also exported to ONNX) against
    # scikit-learn's LocalOutlierFactor(novelty=True): new points, far ones
    # and reference points themselves (distance 0 to their own code).
    rng = np.random.RandomState(n)
    R = rng.normal(size=(n, d))
    Q = np.vstack([rng.normal(size=(20, d)), R[:5], 5 * rng.normal(size=(3, d))])
    expected = -LocalOutlierFactor(n_neighbors=k, novelty=True).fit(R).score_samples(Q)
    lof = scores_module.LatentLOF(R, k)
    got = lof(torch.from_numpy(Q))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    # Chunked neighbour search of the reference set gives the same result.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(scores_module, "LOF_FIT_CHUNK", 7)
        chunked = scores_module.LatentLOF(R, k)(torch.from_numpy(Q))
    np.testing.assert_allclose(chunked.numpy(), expected, rtol=1e-6)


def test_latent_lof_with_fewer_rows_than_neighbours(data):
    X, A = data
    det = _fit(X[:4], score_type="latent_lof")
    assert det.reference_codes_.shape[0] == 4
    assert det.n_neighbors_ == det._latent_lof().n_neighbors == 3
    assert np.isfinite(det.score_samples(A)).all()


def test_latent_lof_survives_save_load_and_pickle(data, tmp_path):
    import pickle

    X, A = data
    det = _fit(X, score_type="latent_lof", n_neighbors=5)
    before = det.score_samples(A)
    loaded = GANomalyDetector.load(det.save(tmp_path / "lof.skgan"))
    np.testing.assert_array_equal(loaded.reference_codes_, det.reference_codes_)
    assert loaded.n_neighbors == 5
    np.testing.assert_array_equal(loaded.score_samples(A), before)
    assert loaded.offset_ == det.offset_
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(det)).score_samples(A), before)
    # A pickle that cached scikit-learn's LOF (earlier versions) refits it.
    old = pickle.loads(pickle.dumps(det))
    old._lof = LocalOutlierFactor(novelty=True)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(old)).score_samples(A), before)
    # The neighbour count is frozen at fit, in the file too.
    det.set_params(n_neighbors=2)
    reloaded = GANomalyDetector.load(det.save(tmp_path / "lof2.skgan"))
    assert reloaded.n_neighbors_ == 5
    np.testing.assert_array_equal(reloaded.score_samples(A), before)


def test_switching_away_from_latent_lof_drops_the_reference(data):
    X, A = data
    det = _fit(X, score_type="latent_lof", warm_start=True)
    det.set_params(score_type="latent").fit(X)
    assert not hasattr(det, "reference_codes_") and not hasattr(det, "n_neighbors_")
    lat, _ = _errors_by_hand(det, A)
    np.testing.assert_allclose(-det.score_samples(A), lat, rtol=1e-5)
