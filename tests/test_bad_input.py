"""What ``GANomalyDetector`` does with bad, odd and extreme input.

Every input below either **works** -- ``fit`` succeeds and ``score_samples``
returns finite float64 scores, one per row -- or is **refused** with a
``ValueError`` / ``TypeError`` whose message says what is wrong and what to
pass instead. No input crashes deep inside torch and no input yields a NaN
score. A refused ``fit`` leaves the detector as it was (see
``tests/test_faults.py``).

======================================  =======  ===========================================
Input                                   Where    Outcome
======================================  =======  ===========================================
NaN, +inf or -inf anywhere              fit      ValueError "Input X contains NaN / infinity"
NaN, +inf or -inf anywhere              score    ValueError (same messages)
empty ``(0, d)`` / ``(0, H, W)``        fit      ValueError "Found array with 0 sample(s)"
no features ``(n, 0)``                  fit      ValueError "Found array with 0 feature(s)"
empty ``(0, d)``                        score    ValueError "Found array with 0 sample(s)"
one sample                              fit      ValueError "... a minimum of 2 is required"
one sample                              score    works (single-sample ``predict``)
two samples                             fit      works (nothing held out)
one feature                             both     works
constant features (some or all)         both     works (unit scale, maps to 0)
magnitudes 1e30, 1e-30, 1e300, mixed    both     works (per-feature scaling)
unseen magnitudes up to +-1e300         score    works (scaled inputs clipped to +-1e4)
int8 ... int64, uint8, bool             both     works (converted to float64)
float16, float32, float64               both     works
read-only ``np.memmap``                 both     works, no copy needed, same scores
non-contiguous view, Fortran order      both     works, bit-identical scores to C order
pandas DataFrame                        fit      works, ``feature_names_in_`` kept
DataFrame, same columns                 score    works, no warning
DataFrame, other or reordered names     score    ValueError "feature names should match"
ndarray after fit on a DataFrame        score    UserWarning "does not have valid feature names"
scipy sparse (csr, csc, coo)            both     TypeError "... use '.toarray()'"
nested lists (2-D rows, 3-D images)     both     works, same scores as the array
ragged nested lists                     fit      ValueError "Could not convert X ..."
1-D array, scalar                       both     ValueError "Expected 2D array ... reshape"
5-D array                               both     ValueError "X has 5 dimensions; expected ..."
complex numbers                         fit      ValueError "Complex data not supported"
``image_shape`` vs row length           fit      ValueError "image_shape=(2, 2) holds 4 values ..."
``image_shape`` vs 3-D / 4-D X          fit      ValueError "... does not match the shape ..."
``image_shape`` with 0 or a string      fit      ValueError "positive integers" / "must be ..."
images of another shape                 score    ValueError "fitted on samples of shape ..."
``batch_size`` > ``n_samples``          fit      works (one batch per epoch)
``max_epochs=0``                        fit      works: initial weights, ``n_iter_ == 0``,
                                                 ``offset_`` set
``batch_size=1``                        fit      ValueError "range [2, inf)" (BatchNorm
                                                 cannot train on one sample; it used to
                                                 train nothing silently)
``latent_dim=True`` (a bool)            fit      works, as ``latent_dim=1`` (bools are ints)
any other invalid value or type         fit      ValueError/TypeError (scikit-learn's
                                                 ``InvalidParameterError``: "The 'lr'
                                                 parameter ... must be ... Got ...")
``device='gpu'`` / CUDA not present     fit      ValueError "use 'auto', 'cpu', 'cuda' ..."
======================================  =======  ===========================================

The hypothesis tests at the end draw shapes (1 to 6 features, or images of
1x1 to 12x12 with 1 to 3 channels), dtypes and value ranges (magnitudes from
1e-30 to 1e300) and check that ``fit`` + ``score_samples`` give finite float64
scores for all of them.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skganomaly import GANomalyDetector

TINY = dict(latent_dim=2, n_filters=4, max_epochs=1, batch_size=16, random_state=0)


def tiny(**params):
    return GANomalyDetector(**{**TINY, **params})


def assert_finite_scores(scores, n):
    assert isinstance(scores, np.ndarray)
    assert scores.dtype == np.float64
    assert scores.shape == (n,)
    assert np.isfinite(scores).all()


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(40, 3))


@pytest.fixture(scope="module")
def fitted(X):
    """A tabular detector fitted once for the scoring cases."""
    return tiny().fit(X)


@pytest.fixture(scope="module")
def fitted_images():
    rng = np.random.RandomState(0)
    return tiny().fit(rng.randint(0, 256, size=(20, 6, 5)).astype(np.uint8))


# -- fit: inputs that work -----------------------------------------------------


def _memmap(X, tmp_path):
    path = tmp_path / "x.dat"
    writable = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    writable[:] = X
    writable.flush()
    del writable
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


WORKS = {
    "two samples": lambda X, tmp: X[:2],
    "one feature": lambda X, tmp: X[:, :1],
    "all features constant": lambda X, tmp: np.full((20, 3), 7.0),
    "one feature constant": lambda X, tmp: np.c_[X[:, :2], np.full(len(X), -3.0)],
    "magnitude 1e30": lambda X, tmp: X * 1e30,
    "magnitude 1e-30": lambda X, tmp: X * 1e-30,
    "magnitude 1e300": lambda X, tmp: X * 1e300,
    "mixed magnitudes": lambda X, tmp: X * [1e-30, 1.0, 1e30],
    "int64": lambda X, tmp: np.round(X * 10).astype(np.int64),
    "int8": lambda X, tmp: np.round(X * 10).astype(np.int8),
    "uint8": lambda X, tmp: np.round(np.abs(X) * 50).astype(np.uint8),
    "bool": lambda X, tmp: X > 0,
    "float16": lambda X, tmp: X.astype(np.float16),
    "float32": lambda X, tmp: X.astype(np.float32),
    "float64": lambda X, tmp: X.astype(np.float64),
    "read-only memmap": lambda X, tmp: _memmap(X, tmp),
    "non-contiguous view": lambda X, tmp: np.repeat(X, 2, axis=1)[:, ::2],
    "Fortran order": lambda X, tmp: np.asfortranarray(X),
    "nested lists": lambda X, tmp: X.tolist(),
    "DataFrame": lambda X, tmp: pd.DataFrame(X, columns=["a", "b", "c"]),
    "images 3-D": lambda X, tmp: X[:, :2].reshape(40, 1, 2) * 100,
    "images 4-D, 1x1": lambda X, tmp: X[:, :1].reshape(40, 1, 1, 1),
    "images as nested lists": lambda X, tmp: X.reshape(40, 3, 1).tolist(),
}


@pytest.mark.parametrize("case", list(WORKS))
def test_fit_and_score_work(case, X, tmp_path):
    data = WORKS[case](X, tmp_path)
    det = tiny().fit(data)
    assert_finite_scores(det.score_samples(data), len(data))
    assert set(np.unique(det.predict(data))) <= {-1, 1}


@pytest.mark.parametrize("params", [
    dict(batch_size=1000),
    dict(max_epochs=0),
    dict(max_epochs=0, validation_fraction=None),
    dict(latent_dim=True),
    dict(latent_dim=np.int64(3), n_filters=np.int32(4), batch_size=np.int16(8)),
], ids=["batch_size>n_samples", "max_epochs=0", "max_epochs=0 no holdout",
        "bool latent_dim", "numpy ints"])
def test_unusual_parameters_work(params, X):
    det = tiny(**params).fit(X)
    assert_finite_scores(det.score_samples(X), len(X))
    assert np.isfinite(det.offset_)


def test_max_epochs_zero_gives_the_initial_untrained_model(X):
    det = tiny(max_epochs=0).fit(X)
    assert det.n_iter_ == 0
    assert len(det.net_.history) == 0
    # The initial weights, drawn from random_state: the same for any data.
    other = tiny(max_epochs=0).fit(X * 3 + 1)
    for a, b in zip(det.net_.module_.parameters(), other.net_.module_.parameters()):
        assert torch.equal(a, b)


def test_memory_layouts_give_identical_scores(fitted, X, tmp_path):
    expected = fitted.score_samples(np.ascontiguousarray(X))
    for variant in (np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2],
                    _memmap(X, tmp_path), X.tolist()):
        np.testing.assert_array_equal(fitted.score_samples(variant), expected)


# -- fit: inputs that are refused ----------------------------------------------

REFUSED = {
    # case: (X builder, params, exception, message pattern)
    "NaN": (lambda X: np.where(X > 1.5, np.nan, X), {}, ValueError, "contains NaN"),
    "+inf": (lambda X: np.where(X > 1.5, np.inf, X), {}, ValueError, "infinity"),
    "-inf": (lambda X: np.where(X > 1.5, -np.inf, X), {}, ValueError, "infinity"),
    "NaN in images": (lambda X: np.full((4, 8, 8), np.nan), {}, ValueError, "NaN"),
    "float16 inf": (lambda X: np.full((4, 2), np.inf, dtype=np.float16), {},
                    ValueError, "infinity"),
    "empty rows": (lambda X: np.empty((0, 3)), {}, ValueError, "0 sample"),
    "empty image stack": (lambda X: np.empty((0, 8, 8)), {}, ValueError, "0 sample"),
    "no features": (lambda X: np.empty((5, 0)), {}, ValueError, "0 feature"),
    "one sample": (lambda X: X[:1], {}, ValueError, "minimum of 2"),
    "one image": (lambda X: np.ones((1, 8, 8)), {}, ValueError, "minimum of 2"),
    "sparse csr": (lambda X: sp.csr_matrix(X), {}, TypeError, "toarray"),
    "sparse csc": (lambda X: sp.csc_matrix(X), {}, TypeError, "toarray"),
    "sparse coo": (lambda X: sp.coo_matrix(X), {}, TypeError, "toarray"),
    "ragged nested lists": (lambda X: [[1.0, 2.0], [3.0]], {}, ValueError,
                            "Could not convert X"),
    "1-D": (lambda X: X[:, 0], {}, ValueError, "(?s)Expected 2D array.*[Rr]eshape"),
    "scalar": (lambda X: 3.0, {}, ValueError, "Expected 2D array"),
    "5-D": (lambda X: np.zeros((4, 1, 2, 2, 2)), {}, ValueError,
            "5 dimensions.*Reshape X"),
    "complex": (lambda X: X.astype(complex), {}, ValueError, "Complex data"),
    "image_shape vs row length": (lambda X: X, dict(image_shape=(2, 2)), ValueError,
                                  r"image_shape=\(2, 2\) holds 4 values"),
    "image_shape vs 3-D X": (lambda X: np.zeros((4, 8, 8)), dict(image_shape=(4, 16)),
                             ValueError, "does not match.*Pass image_shape=None"),
    "image_shape with a 0": (lambda X: X, dict(image_shape=(0, 3)), ValueError,
                             "positive integers"),
    "image_shape as a string": (lambda X: X, dict(image_shape="8x8"), ValueError,
                                "'image_shape' parameter"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_fit_refuses_with_a_clear_message(case, X):
    make, params, exc, match = REFUSED[case]
    det = tiny(**params)
    with pytest.raises(exc, match=match):
        det.fit(make(X))
    # Nothing half-fitted is left behind.
    with pytest.raises(NotFittedError):
        check_is_fitted(det)


INVALID_PARAMS = [
    dict(latent_dim=0), dict(latent_dim=2.5), dict(latent_dim="3"),
    dict(latent_dim=None), dict(n_filters=0), dict(max_epochs=-1),
    dict(max_epochs=1.5), dict(batch_size=1), dict(batch_size=0),
    dict(lr=0), dict(lr=-1e-3), dict(lr=float("inf")), dict(lr=float("nan")),
    dict(lr="fast"), dict(ema_decay=1.0),
    dict(ema_decay=-0.5), dict(ema_decay="0.99"), dict(loss_weights=(-1, 50, 1)),
    dict(loss_weights=(1, float("nan"), 1)), dict(loss_weights=(1, 50, "1")),
    dict(loss_weights=(1, 50)), dict(loss_weights=5.0), dict(contamination=0.0),
    dict(contamination=0.6), dict(contamination="high"),
    dict(validation_fraction=0.0), dict(validation_fraction=1.0),
    dict(device="gpu"), dict(device=3), dict(callbacks="EarlyStopping"),
    dict(warm_start="yes"), dict(random_state="seed"), dict(image_shape=8),
]


@pytest.mark.parametrize(
    "params", INVALID_PARAMS,
    ids=[",".join(f"{k}={v!r}" for k, v in p.items()) for p in INVALID_PARAMS])
def test_invalid_parameters_are_refused(params, X):
    det = tiny(**params)
    with pytest.raises((ValueError, TypeError), match=f"{next(iter(params))}"):
        det.fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_requested_without_cuda(X):
    with pytest.raises(ValueError, match="CUDA is not available.*device='cpu'"):
        tiny(device="cuda").fit(X)


# -- scoring -------------------------------------------------------------------

SCORE_REFUSED = {
    "NaN": (lambda X: np.where(X > 1.5, np.nan, X), ValueError, "contains NaN"),
    "inf": (lambda X: np.where(X > 1.5, np.inf, X), ValueError, "infinity"),
    "empty": (lambda X: np.empty((0, 3)), ValueError, "0 sample"),
    "wrong number of features": (lambda X: X[:, :2], ValueError,
                                 "has 2 features.*expecting 3"),
    "sparse": (lambda X: sp.csr_matrix(X), TypeError, "toarray"),
    "1-D": (lambda X: X[0], ValueError, "(?s)Expected 2D array.*[Rr]eshape"),
    "5-D": (lambda X: X.reshape(40, 3, 1, 1, 1), ValueError, "5 dimensions"),
    "rows as 3-D images": (lambda X: X.reshape(40, 1, 3), ValueError,
                           "fitted on samples of shape"),
}


@pytest.mark.parametrize("case", list(SCORE_REFUSED))
@pytest.mark.parametrize("method", ["score_samples", "decision_function", "predict"])
def test_scoring_refuses_with_a_clear_message(case, method, fitted, X):
    make, exc, match = SCORE_REFUSED[case]
    with pytest.raises(exc, match=match):
        getattr(fitted, method)(make(X))


@pytest.mark.parametrize("make", [
    lambda X: X[:1],
    lambda X: X * 1e300,
    lambda X: -X * 1e300,
    lambda X: X * 1e-300,
    lambda X: np.full((3, 3), np.finfo(np.float64).max / 4),
    lambda X: (X * 1000).astype(np.int16),
    lambda X: X.astype(np.float16),
    lambda X: X > 0,
], ids=["one row", "1e300", "-1e300", "1e-300", "near float max", "int16",
        "float16", "bool"])
def test_scoring_extreme_and_odd_inputs_gives_finite_scores(make, fitted, X):
    data = make(X)
    assert_finite_scores(fitted.score_samples(data), len(data))
    assert_finite_scores(fitted.decision_function(data), len(data))


def test_dataframe_feature_names(X):
    names = ["a", "b", "c"]
    det = tiny().fit(pd.DataFrame(X, columns=names))
    assert list(det.feature_names_in_) == names
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = det.score_samples(pd.DataFrame(X, columns=names))
    assert_finite_scores(same, len(X))
    for other in (["a", "b", "d"], ["c", "b", "a"]):
        with pytest.raises(ValueError, match="feature names should match"):
            det.score_samples(pd.DataFrame(X, columns=other))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        plain = det.score_samples(X)
    np.testing.assert_array_equal(plain, same)


def test_images_of_another_shape_are_refused(fitted_images):
    rng = np.random.RandomState(1)
    assert_finite_scores(fitted_images.score_samples(rng.rand(3, 6, 5)), 3)
    assert_finite_scores(fitted_images.score_samples(rng.rand(3, 30)), 3)
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(1, 6, 5\)"):
        fitted_images.score_samples(rng.rand(3, 5, 6))


# -- hypothesis: shapes x dtypes x value ranges --------------------------------

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]


@st.composite
def matrices(draw, shape):
    """Finite arrays of any supported dtype; floats of magnitude up to
    ``10**exponent`` with exponent in [-30, 300] (capped by the dtype)."""
    dtype = draw(st.sampled_from([bool, *INT_DTYPES, *FLOAT_DTYPES]))
    if dtype is bool:
        elements = st.booleans()
    elif np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    else:
        exponent = draw(st.sampled_from([-30, -5, 0, 3, 30, 300]))
        bound = min(10.0 ** exponent, float(np.finfo(dtype).max))
        width = np.finfo(dtype).bits
        bound = float(np.array(bound, dtype=dtype))  # representable in dtype
        elements = st.floats(-bound, bound, width=width, allow_nan=False,
                             allow_infinity=False)
    return draw(hnp.arrays(dtype, shape, elements=elements))


SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@SETTINGS
@given(data=st.data(), n=st.integers(2, 30), d=st.integers(1, 6))
def test_hypothesis_tabular_gives_finite_float64_scores(data, n, d):
    X = data.draw(matrices((n, d)))
    det = tiny(max_epochs=1, batch_size=8).fit(X)
    assert_finite_scores(det.score_samples(X), n)
    X_new = data.draw(matrices((3, d)))
    assert_finite_scores(det.score_samples(X_new), 3)


@SETTINGS
@given(data=st.data(), n=st.integers(2, 12), channels=st.sampled_from([None, 1, 3]),
       height=st.integers(1, 12), width=st.integers(1, 12))
def test_hypothesis_images_give_finite_float64_scores(data, n, channels, height,
                                                      width):
    shape = (n, height, width) if channels is None else (n, channels, height, width)
    X = data.draw(matrices(shape))
    det = tiny(max_epochs=1, batch_size=8).fit(X)
    assert_finite_scores(det.score_samples(X), n)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.just(3)),
                    elements=st.floats(-1e300, 1e300, allow_nan=False)))
def test_hypothesis_scoring_any_finite_values_gives_finite_scores(fitted, X):
    assert_finite_scores(fitted.score_samples(X), len(X))
