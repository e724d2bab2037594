"""GANomalyDetector: outlier-detector conventions, inputs, ecosystem, quality."""

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skorch.callbacks import EarlyStopping
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skganomaly import GANomalyDetector
from skganomaly._scores import AUTO_FALSE_ALARM_RATE, conformal_threshold
from skganomaly.net import GANomalyNet

# -- outlier-detector conventions ---------------------------------------------


def test_score_decision_predict_are_consistent(tiny, blobs):
    det = tiny().fit(blobs)
    scores = det.score_samples(blobs)
    assert scores.dtype == np.float64 and scores.shape == (len(blobs),)
    np.testing.assert_array_equal(det.decision_function(blobs), scores - det.offset_)
    pred = det.predict(blobs)
    assert pred.dtype.kind == "i" and set(np.unique(pred)) <= {-1, 1}
    np.testing.assert_array_equal(pred == -1, scores - det.offset_ < 0)
    np.testing.assert_array_equal(tiny().fit_predict(blobs), pred)


def test_score_samples_is_minus_the_latent_distance(tiny, blobs):
    det = tiny().fit(blobs)
    x = torch.from_numpy(det._scaler.transform(blobs))
    det.net_.module_.eval()
    with torch.no_grad():
        _, z, z_hat = det.net_.module_(x)
    expected = -((z - z_hat) ** 2).mean(dim=1).double().numpy()
    np.testing.assert_allclose(det.score_samples(blobs), expected, rtol=1e-5)


def test_a_score_depends_on_its_sample_alone(tiny, blobs):
    det = tiny().fit(blobs)
    full = det.score_samples(blobs)
    singles = np.array([det.score_samples(blobs[i:i + 1])[0] for i in range(10)])
    np.testing.assert_allclose(singles, full[:10], rtol=1e-6)
    reversed_ = det.score_samples(blobs[::-1])[::-1]
    np.testing.assert_allclose(reversed_, full, rtol=1e-6)
    # Scoring never changes the model (no BatchNorm statistics update).
    np.testing.assert_array_equal(det.score_samples(blobs), full)


def test_far_away_points_score_as_less_normal(tiny, blobs):
    # Tiny networks barely trained rank arbitrarily; a little training suffices.
    det = tiny(n_filters=16, max_epochs=20).fit(blobs)
    low = np.percentile(det.score_samples(blobs), 5)
    for shift in [25.0, 1e3]:
        assert np.all(det.score_samples(blobs[:20] + shift) < low)


@pytest.mark.parametrize("contamination", [0.05, 0.1, 0.25, 0.5])
def test_float_contamination_flags_that_share_of_training_data(tiny, blobs,
                                                                contamination):
    det = tiny(contamination=contamination).fit(blobs)
    share = np.mean(det.predict(blobs) == -1)
    assert share == pytest.approx(contamination, abs=1 / len(blobs))
    assert det.offset_ == pytest.approx(
        np.percentile(det.score_samples(blobs), 100 * contamination))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_auto_contamination_is_a_conformal_quantile_of_held_out_normals(
        tiny, early_stopping):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 4))
    det = tiny(validation_fraction=0.25, early_stopping=early_stopping).fit(X)
    assert det.do_early_stopping_ is early_stopping
    # The held-out rows are never seen by the weight updates ...
    batches = det.net_.history[0]["batches"]
    n_trained = sum(b.get("train_batch_size", 0) for b in batches)
    n_valid = sum(b.get("valid_batch_size", 0) for b in batches)
    assert n_trained == 300
    order = np.random.RandomState(0)
    order.randint(np.iinfo(np.int32).max)  # the seed drawn first in fit
    held_out = np.sort(order.permutation(400)[:100])
    # ... with early stopping, half of them give valid_loss and the other
    # half calibrate the threshold, so that no choice is made on the rows
    # that set it ...
    calibration = held_out[1::2] if early_stopping else held_out
    assert n_valid == (50 if early_stopping else 100)
    # ... and the threshold is the split-conformal quantile of their scores.
    calibration_scores = -det.score_samples(X[calibration])
    assert det.offset_ == pytest.approx(
        -conformal_threshold(calibration_scores, AUTO_FALSE_ALARM_RATE))
    # k = ceil(101 * 0.95) = 96 of 100 (four rows above the threshold), or
    # ceil(51 * 0.95) = 49 of 50 (one above).
    n_above = 1 if early_stopping else 4
    assert np.sum(det.predict(X[calibration]) == -1) == n_above
    # New normal data: 5 % flagged on average over calibration sets; for one
    # set of n held-out rows the rate spreads with a standard deviation of
    # about sqrt(0.05 * 0.95 / n), so allow three of them.
    spread = np.sqrt(0.05 * 0.95 / len(calibration))
    assert np.mean(det.predict(rng.normal(size=(2000, 4))) == -1) < 0.05 + 3 * spread


def test_early_stopping_keeps_the_best_epoch_and_is_auto_on_larger_sets(tiny):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 4))
    det = tiny(max_epochs=60, n_iter_no_change=3, validation_fraction=0.25).fit(X)
    assert det.do_early_stopping_ and det.stopped_early_  # 100 held-out rows
    history = det.net_.history
    assert det.n_iter_ < 60
    # It watches the held-out rows' reconstruction error.
    losses = history[:, "valid_loss_con"]
    best = int(np.argmin(losses))
    # Stopped n_iter_no_change epochs after the best one (whose weights are
    # restored).
    assert len(losses) - 1 - best == 3
    stopper = dict(det.net_.callbacks_)["early_stopping"]
    assert stopper.best_epoch_ == best + 1
    # The kept generator is the best epoch's: the same training rows and
    # order, trained exactly that many epochs, score identically.
    plain = tiny(max_epochs=best + 1, early_stopping=False,
                 validation_fraction=0.25).fit(X)
    np.testing.assert_array_equal(det.score_samples(X), plain.score_samples(X))
    # Fewer than 100 held-out rows: "auto" trains every epoch.
    small = tiny(max_epochs=4).fit(X)
    assert not small.do_early_stopping_ and not small.stopped_early_
    assert small.n_iter_ == 4
    assert "early_stopping" not in dict(small.net_.callbacks_)
    with pytest.raises(ValueError, match="early_stopping needs held-out"):
        tiny(early_stopping=True, validation_fraction=None).fit(X)


def test_conformal_threshold_lies_between_scores():
    scores = np.arange(1.0, 100.0)  # 99 scores: k = ceil(100 * 0.95) = 95
    assert conformal_threshold(scores, 0.05) == 95.5
    assert np.mean(scores > conformal_threshold(scores, 0.05)) <= 0.05
    # Too few scores for the guarantee: just above the maximum.
    assert conformal_threshold(np.array([1.0, 2.0, 4.0]), 0.05) == pytest.approx(
        4.0, rel=2e-6)
    assert conformal_threshold(np.array([1.0, 2.0, 4.0]), 0.05) > 4.0


def test_auto_contamination_without_held_out_rows_uses_training_scores(tiny, blobs):
    det = tiny(validation_fraction=None).fit(blobs)
    assert det.offset_ == pytest.approx(
        np.percentile(det.score_samples(blobs), 100 * AUTO_FALSE_ALARM_RATE))
    assert det.net_.history[0].get("valid_loss") is None


# -- reproducibility -------------------------------------------------------------


def test_random_state_gives_bit_identical_scores_and_spares_global_rng(tiny, blobs):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()
    a = tiny(random_state=3).fit(blobs).score_samples(blobs)
    b = tiny(random_state=3).fit(blobs).score_samples(blobs)
    c = tiny(random_state=4).fit(blobs).score_samples(blobs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)


# -- inputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [(30, 28, 28), (30, 28, 20), (30, 8, 8), (30, 3, 8, 8),
              (30, 1, 64, 64), (30, 2, 5, 7)])
def test_images_of_any_size_and_channels(tiny, shape):
    X = np.random.RandomState(0).uniform(0, 255, size=shape)
    det = tiny(max_epochs=1).fit(X)
    expected = shape[1:] if len(shape) == 4 else (1, *shape[1:])
    assert det.sample_shape_ == expected
    assert det.n_features_in_ == int(np.prod(shape[1:]))
    scores = det.score_samples(X)
    assert scores.shape == (30,) and np.all(np.isfinite(scores))
    # The flattened rows are the same images.
    np.testing.assert_array_equal(det.score_samples(X.reshape(30, -1)), scores)


@pytest.mark.parametrize("min_image_size, generator, canvas", [
    ("auto", "ganomaly", 16), ("auto", "skip", 8), (None, "ganomaly", 8),
    (32, "ganomaly", 32), (16, "skip", 16)])
def test_small_images_are_upsampled_for_the_networks(tiny, min_image_size, generator,
                                                    canvas):
    X = np.random.RandomState(0).uniform(0, 16, size=(30, 1, 8, 8))
    det = tiny(max_epochs=1, min_image_size=min_image_size, generator=generator).fit(X)
    assert det.net_.module_.sample_shape == (1, canvas, canvas)
    assert det.net_.discriminator_.padcrop.isize == canvas
    # Callers never see the working canvas.
    assert det.reconstruct(X).shape == X.shape
    errors = det.anomaly_map(X)
    assert errors.shape == X.shape
    reconstruction = det.set_params(score_type="reconstruction").fit(X)
    np.testing.assert_allclose(-reconstruction.score_samples(X),
                               reconstruction.anomaly_map(X).mean(axis=(1, 2, 3)),
                               rtol=1e-5)


def test_flat_rows_with_image_shape_equal_image_stacks(tiny):
    X = np.random.RandomState(0).uniform(0, 16, size=(40, 1, 8, 8))
    flat = tiny(image_shape=(8, 8)).fit(X.reshape(40, -1))
    stack = tiny().fit(X)
    chw = tiny(image_shape=(1, 8, 8)).fit(X.reshape(40, -1))
    np.testing.assert_array_equal(flat.score_samples(X), stack.score_samples(X))
    np.testing.assert_array_equal(chw.score_samples(X), stack.score_samples(X))


def test_raw_pixels_and_unit_pixels_give_the_same_model(tiny):
    X = np.random.RandomState(0).randint(0, 256, size=(40, 10, 10)).astype(float)
    raw = tiny().fit(X).score_samples(X)
    unit = tiny().fit(X / 255).score_samples(X / 255)
    np.testing.assert_allclose(raw, unit, rtol=1e-3)


def test_unscaled_features_give_the_same_model(tiny, blobs):
    shifted = blobs * 100 + 1000
    np.testing.assert_allclose(tiny().fit(shifted).score_samples(shifted),
                               tiny().fit(blobs).score_samples(blobs), rtol=1e-3)


def test_dataframes_keep_feature_names(tiny, blobs):
    df = pd.DataFrame(blobs, columns=list("abcde"))
    det = tiny().fit(df)
    np.testing.assert_array_equal(det.feature_names_in_, list("abcde"))
    # An array after a DataFrame scores the same, with sklearn's warning.
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = det.score_samples(blobs)
    np.testing.assert_array_equal(det.score_samples(df), from_array)
    with pytest.raises(ValueError, match="feature names"):
        det.score_samples(df.rename(columns={"a": "z"}))


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([[0.0, np.nan]] * 5), ValueError, "NaN"),
        (np.array([[0.0, np.inf]] * 5), ValueError, "infinity"),
        (np.empty((0, 3)), ValueError, "0 sample"),
        (np.zeros((1, 3)), ValueError, "1 sample"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "convert"),
        (np.zeros((4, 1, 1, 8, 8)), ValueError, "5 dimensions"),
        (np.zeros(5), ValueError, "2D array"),
        (sp.csr_matrix(np.eye(4)), TypeError, "[Ss]parse"),
    ],
)
def test_bad_training_input_is_rejected_clearly(tiny, X, error, match):
    with pytest.raises(error, match=match):
        tiny().fit(X)


def test_bad_scoring_input_is_rejected_clearly(tiny, blobs):
    det = tiny().fit(blobs)
    with pytest.raises(ValueError, match="X has 4 features, but GANomalyDetector "
                                         "is expecting 5 features"):
        det.score_samples(blobs[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        det.predict(np.full((2, 5), np.nan))
    images = tiny().fit(np.zeros((10, 6, 6)) + np.arange(36).reshape(6, 6))
    with pytest.raises(ValueError, match=r"shape \(4, 9\).*\(1, 6, 6\)"):
        images.score_samples(np.zeros((2, 4, 9)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"n_filters": 2.5}, "n_filters"),
        ({"contamination": 0.7}, "contamination"),
        ({"contamination": "high"}, "contamination"),
        ({"lr": -1.0}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"loss_weights": (1, -1, 1)}, r"loss_weights must be three finite, "
                                         r"non-negative numbers \(w_adv, w_con, w_enc\)"),
        ({"device": "tpu"}, "device='tpu' is not understood"),
        ({"image_shape": (7, 7)}, "holds 49 values per image, but X has 5"),
    ],
)
def test_invalid_parameters_are_rejected_in_fit(tiny, blobs, params, match):
    det = tiny(**params)  # no validation in __init__
    with pytest.raises(ValueError, match=match):
        det.fit(blobs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_request_without_cuda_is_a_clear_error(tiny, blobs):
    with pytest.raises(ValueError, match="CUDA is not available"):
        tiny(device="cuda").fit(blobs)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    X=hnp.arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.int64]),
        shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=12),
        elements=st.integers(-10**6, 10**6),
    ),
    scale=st.sampled_from([1e-30, 1.0, 1e30]),
)
def test_scores_are_always_finite_float64(tiny, X, scale):
    if X.dtype == np.float64:
        X = X * scale
    det = tiny(max_epochs=1, batch_size=4).fit(X)
    probe = np.concatenate([X, X[:1] * 1e6 + 1e6])
    scores = det.score_samples(probe)
    assert scores.dtype == np.float64 and scores.shape == (len(probe),)
    assert np.all(np.isfinite(scores))


# -- training core: callbacks, verbosity --------------------------------------------


def test_early_stopping_on_held_out_normal_rows(tiny, blobs):
    stopper = EarlyStopping(monitor="valid_loss", patience=2, threshold=1e9)
    det = tiny(max_epochs=20, callbacks=[stopper]).fit(blobs)
    # A threshold no improvement can meet: stops after patience + 1 epochs.
    assert det.n_iter_ == 3
    assert all(np.isfinite(row["valid_loss"]) for row in det.net_.history)
    assert stopper.misses_ == 0  # the user's callback is cloned, not mutated


def test_verbose_prints_the_loss_table(tiny, blobs, capsys):
    det = tiny(verbose=1).fit(blobs)
    out = capsys.readouterr().out
    for column in ["train_loss", "train_loss_d", "train_loss_con", "valid_loss"]:
        assert column in out
    assert "progress_bar" not in dict(det.net_.callbacks_)  # one line per epoch
    tiny(verbose=0).fit(blobs)
    assert capsys.readouterr().out == ""
    det = tiny(verbose=2).fit(blobs)
    assert "progress_bar" in dict(det.net_.callbacks_)


# -- ecosystem: pipelines, search, persistence -------------------------------------------


def test_pipeline_beside_isolation_forest(tiny, blobs):
    for detector in [tiny(), IsolationForest(random_state=0)]:
        pipe = make_pipeline(StandardScaler(), detector).fit(blobs)
        assert pipe.predict(blobs).shape == (len(blobs),)
        assert np.all(np.isfinite(pipe.decision_function(blobs)))


def test_grid_search_over_latent_dim_with_roc_auc(tiny):
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(size=(90, 4)), rng.normal(6, 1, size=(10, 4))])
    y = np.r_[np.ones(90, dtype=int), -np.ones(10, dtype=int)]  # +1 normal
    search = GridSearchCV(
        tiny(n_filters=16, max_epochs=30), {"latent_dim": [2, 4]},
        scoring="roc_auc",
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_params_["latent_dim"] in (2, 4)
    assert np.all(search.cv_results_["mean_test_score"] > 0.8)


def test_clone_gives_an_unfitted_copy_with_the_same_params(tiny, blobs):
    det = tiny(latent_dim=3).fit(blobs)
    copy = clone(det)
    assert copy.get_params() == det.get_params()
    assert not hasattr(copy, "net_")


def test_joblib_and_pickle_round_trips_give_identical_results(tiny, blobs):
    det = tiny().fit(blobs)
    buffer = io.BytesIO()
    joblib.dump(det, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.score_samples(blobs), det.score_samples(blobs))
    np.testing.assert_array_equal(loaded.predict(blobs), det.predict(blobs))
    again = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(again.decision_function(blobs),
                                  det.decision_function(blobs))


# -- quality ---------------------------------------------------------------------------


def test_default_settings_find_an_unseen_digit():
    """The paper's defaults on sklearn's digits, digit 0 as the anomaly."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(0)
    normal = rng.permutation(np.flatnonzero(y != 0))
    n_train = int(0.8 * len(normal))
    test = np.concatenate([normal[n_train:], np.flatnonzero(y == 0)])
    det = GANomalyDetector(random_state=0).fit(X[normal[:n_train]])
    auc = roc_auc_score(y[test] == 0, -det.score_samples(X[test]))
    assert auc > 0.85  # 0.94 when written; chance is 0.5, IsolationForest 0.82


def test_compile_wraps_both_networks_and_models_still_persist(tiny, blobs, monkeypatch,
                                                             tmp_path):
    # The "eager" backend traces with dynamo but skips code generation, so the
    # plumbing is tested in seconds; inductor itself is torch's business.
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile",
                        lambda module, **kw: real_compile(module, backend="eager"))
    det = tiny(compile=True).fit(blobs)
    assert type(det.net_.module_).__name__ == "OptimizedModule"
    assert type(det.net_.discriminator_).__name__ == "OptimizedModule"
    scores = det.score_samples(blobs)
    np.testing.assert_allclose(scores, tiny().fit(blobs).score_samples(blobs),
                               rtol=1e-4)
    again = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(again.score_samples(blobs), scores)
    det.save(tmp_path / "model.skgan")
    loaded = GANomalyDetector.load(tmp_path / "model.skgan")
    np.testing.assert_allclose(loaded.score_samples(blobs), scores, rtol=1e-6)


def test_refreshed_batchnorm_repairs_the_inverted_score_of_a_short_training(
        monkeypatch):
    # Stale running statistics after 10 epochs rank a far cluster as *more*
    # normal (AUC 0.0); statistics re-estimated with the final weights fix it.
    rng = np.random.RandomState(0)
    X_train = rng.normal(size=(90, 4))
    X_test = np.concatenate([rng.normal(size=(30, 4)), rng.normal(6, 1, (10, 4))])
    is_anomaly = np.r_[np.zeros(30), np.ones(10)]
    params = dict(latent_dim=4, n_filters=16, max_epochs=10, random_state=0)
    refreshed = GANomalyDetector(**params).fit(X_train).score_samples(X_test)
    monkeypatch.setattr(GANomalyNet, "refresh_batchnorm", lambda self, batches: None)
    stale = GANomalyDetector(**params).fit(X_train).score_samples(X_test)
    assert roc_auc_score(is_anomaly, -stale) < 0.2
    assert roc_auc_score(is_anomaly, -refreshed) > 0.95


def test_auto_epochs_train_at_least_the_minimum_number_of_steps(tiny, blobs, monkeypatch):
    import skganomaly._base as base_module

    det = tiny(max_epochs="auto", batch_size=32)
    # 15 epochs (the paper's), or more when an epoch has few batches.
    assert det._epochs(108) == max(15, -(-1000 // 4)) == 250
    assert det._epochs(32 * 1000) == 15
    assert det._epochs(32 * 50 + 1) == 20  # 51 batches: ceil(1000 / 51)
    monkeypatch.setattr(base_module, "AUTO_MIN_STEPS", 100)
    det.fit(blobs)  # 108 training rows after the 10 % hold-out: 4 batches
    assert det.n_iter_ == 25
    # 108 rows in batches of 64: 2 batches, 50 epochs for 100 steps.
    assert tiny(max_epochs="auto", batch_size=64).fit(blobs).n_iter_ == 50


def test_fitted_methods_read_fitted_state_only(tiny, blobs):
    # Parameters set after fit describe the next fit, not the fitted model.
    det = tiny().fit(blobs)
    scores, codes = det.score_samples(blobs), det.encode(blobs[:3])
    det.set_params(latent_dim=7, n_filters=9, batch_size=5, score_type="reconstruction",
                   n_neighbors=2, contamination=0.3)
    assert det.encode(blobs[:3]).shape == (3, 4)
    np.testing.assert_array_equal(det.encode(blobs[:3]), codes)
    np.testing.assert_array_equal(det.score_samples(blobs), scores)
    assert det.reconstruct(blobs[:3]).shape == (3, 5)


# -- small training sets ---------------------------------------------------------------


def test_a_small_set_trains_the_whole_auto_budget(tiny):
    # 150 rows: 15 held out, too few to decide on, so "auto" does not stop
    # early and trains at least AUTO_MIN_STEPS optimizer steps.
    X = np.random.RandomState(0).normal(size=(150, 6))
    det = tiny(max_epochs="auto").fit(X)
    steps = sum(len(epoch["batches"]) for epoch in det.net_.history)
    assert not det.do_early_stopping_ and not det.stopped_early_
    assert det.n_iter_ == 200 and steps >= 1000  # 5 batches of 32 rows an epoch
    # Unless the user asks otherwise.
    assert tiny(max_epochs=3).fit(X).n_iter_ == 3
    stopped = tiny(max_epochs="auto", early_stopping=True, n_iter_no_change=1).fit(X)
    assert stopped.stopped_early_ and stopped.n_iter_ < 200


@pytest.mark.parametrize("early_stopping, n_holdout, stops", [
    ("auto", 99, False), ("auto", 100, True), ("auto", 5000, True),
    (True, 4, True), (False, 5000, False)])
def test_stopping_rule(tiny, early_stopping, n_holdout, stops):
    det = tiny(early_stopping=early_stopping)
    assert det._stops_early(n_holdout, warm=False) is stops


def test_early_stopping_watches_the_held_out_reconstruction_error(tiny):
    X = np.random.RandomState(0).normal(size=(400, 4))
    det = tiny(max_epochs=2, validation_fraction=0.25).fit(X)
    stopper = dict(det.net_.callbacks_)["early_stopping"]
    assert stopper.monitor == "valid_loss_con" and stopper.load_best
