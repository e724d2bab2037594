"""reconstruct, anomaly_map and encode: layouts, units, numbers, and maps
that point at the anomalous region."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skganomaly import GANomalyDetector, SkipGANomalyDetector

LAYOUTS = {
    "tabular": lambda rng: rng.normal(size=(40, 5)) * [1, 10, 100, 1, 0.1] + 50,
    "flat image": lambda rng: rng.uniform(0, 16, size=(40, 8 * 6)),
    "3-D": lambda rng: rng.uniform(0, 255, size=(40, 7, 5)),
    "4-D": lambda rng: rng.uniform(-3, 3, size=(40, 2, 6, 9)),
}


@pytest.fixture(scope="module", params=sorted(LAYOUTS))
def fitted(request):
    rng = np.random.RandomState(0)
    X = LAYOUTS[request.param](rng)
    image_shape = (8, 6) if request.param == "flat image" else None
    det = GANomalyDetector(latent_dim=3, n_filters=4, max_epochs=2, batch_size=16,
                           image_shape=image_shape, random_state=0).fit(X)
    return det, X


def test_outputs_keep_the_layout_of_the_input(fitted):
    det, X = fitted
    for out in [det.reconstruct(X), det.anomaly_map(X),
                det.anomaly_map(X, units="input")]:
        assert out.shape == X.shape and out.dtype == np.float64
        assert np.all(np.isfinite(out))
    Z = det.encode(X)
    assert Z.shape == (len(X), 3) and Z.dtype == np.float64


def test_input_unit_map_is_the_absolute_difference_to_the_reconstruction(fitted):
    det, X = fitted
    np.testing.assert_array_equal(det.anomaly_map(X, units="input"),
                                  np.abs(X - det.reconstruct(X)))


def test_scaled_map_is_the_input_map_divided_by_the_input_scale(fitted):
    det, X = fitted
    scale = det._scaler.scale_  # per feature, or per channel of images
    n = len(X)
    in_units = det.anomaly_map(X, units="input")
    if scale.ndim == 1:  # tabular: one scale per feature
        expected = in_units / scale
    else:  # images: one scale per channel, shape (C, 1)
        expected = (in_units.reshape(n, scale.shape[0], -1) / scale).reshape(X.shape)
    # The scaled input is float32: agreement to float32 precision.
    np.testing.assert_allclose(det.anomaly_map(X), expected, rtol=1e-5, atol=1e-6)


def test_mean_of_the_scaled_map_is_the_reconstruction_score(fitted):
    det, X = fitted
    det_rec = GANomalyDetector(**{**det.get_params(), "score_type": "reconstruction"})
    det_rec.fit(X)
    per_sample = det_rec.anomaly_map(X).reshape(len(X), -1).mean(axis=1)
    np.testing.assert_allclose(-det_rec.score_samples(X), per_sample, rtol=1e-12)


def test_outputs_of_a_sample_depend_on_that_sample_alone(fitted):
    det, X = fitted
    # Equal up to float32 rounding, which may depend on the batch size.
    np.testing.assert_allclose(det.reconstruct(X[3:4]), det.reconstruct(X)[3:4],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(det.encode(X[3:4]), det.encode(X)[3:4],
                               rtol=1e-5, atol=1e-7)


def test_encode_is_the_generators_first_code():
    import torch

    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 4))
    det = GANomalyDetector(latent_dim=2, n_filters=4, max_epochs=1,
                           random_state=0).fit(X)
    gen = det.net_.module_.eval()
    with torch.no_grad():
        z = gen.encode(torch.from_numpy(det._scaler.transform(X))).numpy()
    np.testing.assert_allclose(det.encode(X), z, rtol=1e-6)


def test_reconstructions_are_in_input_units():
    # Pixels 100..200: the tanh output maps back into that range.
    rng = np.random.RandomState(0)
    X = rng.uniform(100, 200, size=(30, 8, 8))
    det = GANomalyDetector(latent_dim=2, n_filters=4, max_epochs=1,
                           random_state=0).fit(X)
    X_hat = det.reconstruct(X)
    assert X_hat.min() >= X.min() - 1e-6 and X_hat.max() <= X.max() + 1e-6
    assert abs(X_hat.mean() - X.mean()) < 50


def test_bad_units_and_unfitted_detector():
    X = np.zeros((4, 3))
    with pytest.raises(NotFittedError):
        GANomalyDetector().anomaly_map(X)
    det = GANomalyDetector(latent_dim=2, n_filters=4, max_epochs=0,
                           random_state=0).fit(np.random.RandomState(0).rand(10, 3))
    with pytest.raises(ValueError, match="units must be 'scaled' or 'input'"):
        det.anomaly_map(X, units="pixels")
    with pytest.raises(ValueError, match="3 features"):
        det.reconstruct(np.zeros((2, 4)))


def _ramps(rng, n):
    """8x8 images whose brightness rises left to right (random contrast)."""
    contrast = rng.uniform(0.3, 1.0, size=(n, 1, 1))
    ramp = np.linspace(0, 1, 8)[None, None, :] * np.ones((n, 8, 8))
    return (contrast * ramp + rng.normal(scale=0.03, size=(n, 8, 8))) * 255


@pytest.mark.parametrize("detector", [GANomalyDetector, SkipGANomalyDetector])
def test_map_is_larger_on_the_anomalous_region(detector):
    rng = np.random.RandomState(0)
    X = _ramps(rng, 300)
    A = _ramps(rng, 20)
    A[:, 1:4, 5:8] = 0  # a dark patch where the ramp is bright
    mask = np.zeros((8, 8), dtype=bool)
    mask[1:4, 5:8] = True
    det = detector(latent_dim=4, n_filters=8, max_epochs=10, batch_size=32,
                   random_state=0).fit(X)
    maps = det.anomaly_map(A)
    inside, outside = maps[:, mask].mean(axis=1), maps[:, ~mask].mean(axis=1)
    assert np.all(inside > outside)
    assert inside.mean() > 2 * outside.mean()
    # Normal images have no such hot spot.
    normal = det.anomaly_map(X[:20])
    assert normal[:, mask].mean() < 0.6 * inside.mean()
