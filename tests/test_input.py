import numpy as np
import pytest
import torch

from skganomaly._data import (
    CLIP,
    InputScaler,
    flatten_samples,
    resolve_sample_shape,
)


def test_flatten_samples_keeps_2d_and_flattens_image_stacks():
    X = np.zeros((4, 3))
    assert flatten_samples(X)[0] is X and flatten_samples(X)[1] is None
    X2d, shape = flatten_samples(np.zeros((4, 5, 6)))
    assert X2d.shape == (4, 30) and shape == (5, 6)
    X2d, shape = flatten_samples(torch.zeros(4, 2, 5, 6))
    assert X2d.shape == (4, 60) and shape == (2, 5, 6)
    X2d, shape = flatten_samples([[[0, 1], [2, 3]]] * 3)
    assert X2d.shape == (3, 4) and shape == (2, 2)


def test_flatten_samples_rejects_5d_with_advice():
    with pytest.raises(ValueError, match="5 dimensions.*Reshape X"):
        flatten_samples(np.zeros((2, 1, 1, 4, 4)))


@pytest.mark.parametrize(
    "image_shape, nd_shape, n_features, expected",
    [
        (None, None, 7, (7,)),
        ((8, 8), None, 64, (1, 8, 8)),
        ((3, 4, 5), None, 60, (3, 4, 5)),
        (None, (6, 7), 42, (1, 6, 7)),
        ([6, 7], (6, 7), 42, (1, 6, 7)),
        (None, (2, 6, 7), 84, (2, 6, 7)),
    ],
)
def test_resolve_sample_shape(image_shape, nd_shape, n_features, expected):
    assert resolve_sample_shape(image_shape, nd_shape, n_features) == expected


@pytest.mark.parametrize(
    "image_shape, nd_shape, n_features, match",
    [
        ((8, 9), None, 64, "holds 72 values per image, but X has 64"),
        ((5,), None, 5, r"must be \(H, W\) or \(C, H, W\)"),
        ((0, 8), None, 0, "positive integers"),
        ((2.5, 2), None, 5, "positive integers"),
        ((4, 4), (5, 5), 25, "does not match the shape of the images"),
    ],
)
def test_resolve_sample_shape_errors_say_what_is_wrong(image_shape, nd_shape,
                                                       n_features, match):
    with pytest.raises(ValueError, match=match):
        resolve_sample_shape(image_shape, nd_shape, n_features)


def test_image_scaling_maps_each_channel_training_range_to_minus_one_one():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.uniform(0, 255, (10, 1, 4, 4)),
                        rng.uniform(-3, 7, (10, 1, 4, 4))], axis=1)
    X2d = X.reshape(10, -1)
    Xs = InputScaler().fit(X2d, (2, 4, 4)).transform(X2d)
    assert Xs.dtype == np.float32 and Xs.shape == (10, 2, 4, 4)
    for channel in range(2):
        assert Xs[:, channel].min() == pytest.approx(-1, abs=1e-6)
        assert Xs[:, channel].max() == pytest.approx(1, abs=1e-6)


def test_tabular_scaling_standardises_and_is_invariant_to_units():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 3))
    Xs = InputScaler().fit(X, (3,)).transform(X)
    np.testing.assert_allclose(Xs.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(Xs.std(axis=0), 1, atol=1e-5)
    shifted = X * 100 + 1000
    np.testing.assert_allclose(
        InputScaler().fit(shifted, (3,)).transform(shifted), Xs, atol=1e-5)


def test_constant_and_extreme_features_stay_finite():
    X = np.column_stack([np.full(20, 5.0), np.linspace(1e29, 2e30, 20),
                         np.linspace(1e-31, 3e-30, 20)])
    scaler = InputScaler().fit(X, (3,))
    Xs = scaler.transform(X)
    assert np.all(np.isfinite(Xs))
    assert np.all(Xs[:, 0] == 0)
    np.testing.assert_allclose(Xs[:, 1].std(), 1, rtol=1e-4)
    np.testing.assert_allclose(Xs[:, 2].std(), 1, rtol=1e-4)
    far = scaler.transform(np.array([[5.0, 1e300, -1e300]]))
    assert far[0, 1] == CLIP and far[0, 2] == -CLIP


def test_inverse_transform_round_trips():
    rng = np.random.RandomState(1)
    X = rng.uniform(0, 16, size=(6, 64))
    scaler = InputScaler().fit(X, (1, 8, 8))
    back = scaler.inverse_transform(scaler.transform(X))
    np.testing.assert_allclose(back.reshape(6, -1), X, atol=1e-4)
