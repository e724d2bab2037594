"""Out-of-core data: numpy memmaps and torch Datasets read on demand.

The promise: fitting or scoring a memmap or a map-style Dataset gives the
same numbers as the same data in memory, while memory holds one chunk or
batch at a time. The last test enforces the memory part with a kernel
limit in a subprocess.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import Dataset, IterableDataset, TensorDataset

from skganomaly._data import InputScaler
from skganomaly._data import DatasetRows, MemmapRows, as_row_source


def _memmap(X, tmp_path, name="x.dat"):
    path = tmp_path / name
    writable = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    writable[:] = X
    writable.flush()
    del writable
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


class ArrayItems(Dataset):
    """Items are numpy samples, optionally with a label; counts reads."""

    def __init__(self, X, labels=False):
        self.X, self.labels, self.reads = X, labels, 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return (self.X[i], 0) if self.labels else self.X[i]


def _fitted_pair(tiny, X, lazy, **params):
    eager = tiny(**params).fit(np.array(X))
    streamed = tiny(**params).fit(lazy)
    return eager, streamed


@pytest.fixture
def images():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(70, 1, 9, 7)).astype(np.uint8)
    X[:, :, 3:6, 2:5] = 255  # some structure to learn
    return X


# -- same numbers as in memory --------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_memmap_fit_and_scores_equal_in_memory(tiny, blobs, tmp_path, dtype):
    X = (blobs * 10).astype(dtype)
    mm = _memmap(X, tmp_path)
    eager, streamed = _fitted_pair(tiny, X, mm)
    assert streamed.offset_ == eager.offset_
    np.testing.assert_array_equal(streamed._scaler.shift_, eager._scaler.shift_)
    np.testing.assert_array_equal(streamed.score_samples(mm), eager.score_samples(X))
    np.testing.assert_array_equal(streamed.score_samples(X), eager.score_samples(X))
    for a, b in zip(streamed.net_.history[:, "train_loss"],
                    eager.net_.history[:, "train_loss"]):
        assert a == b
    assert streamed.n_features_in_ == X.shape[1]


def test_memmap_images_equal_in_memory(tiny, images, tmp_path):
    mm = _memmap(images, tmp_path)
    eager, streamed = _fitted_pair(tiny, images, mm)
    assert streamed.sample_shape_ == (1, 9, 7)
    np.testing.assert_array_equal(streamed.score_samples(mm),
                                  eager.score_samples(images))
    np.testing.assert_array_equal(streamed.predict(mm), eager.predict(images))
    # Outputs in the layout of the input, as for arrays.
    np.testing.assert_array_equal(streamed.reconstruct(mm), eager.reconstruct(images))
    np.testing.assert_array_equal(streamed.anomaly_map(mm, units="input"),
                                  eager.anomaly_map(images, units="input"))
    np.testing.assert_array_equal(streamed.encode(mm), eager.encode(images))


@pytest.mark.parametrize("labels", [False, True])
def test_dataset_fit_and_scores_equal_in_memory(tiny, images, labels):
    X = images[:, 0]  # (n, H, W) grayscale stack
    data = ArrayItems(X, labels=labels)
    eager, streamed = _fitted_pair(tiny, X, data)
    assert streamed.offset_ == eager.offset_
    np.testing.assert_array_equal(streamed.score_samples(data), eager.score_samples(X))


def test_tensor_dataset_with_targets(tiny, images):
    X = torch.from_numpy(images.astype(np.float32))
    data = TensorDataset(X, torch.zeros(len(X)))
    eager, streamed = _fitted_pair(tiny, X.numpy(), data)
    np.testing.assert_array_equal(streamed.score_samples(data),
                                  eager.score_samples(X.numpy()))


def test_dataset_is_read_in_batches_not_loaded(tiny, blobs):
    data = ArrayItems(blobs)
    tiny(max_epochs=3, validation_fraction=0.1).fit(data)
    n, n_valid = len(blobs), 12
    # Item 0 for the sample shape, then per pass: scaler (3 passes over the
    # training rows), the held-out rows checked up front, 3 epochs of
    # training and validation, the BatchNorm refresh, the offset. Nothing is
    # cached: memory never holds the set.
    expected = 1 + 3 * (n - n_valid) + n_valid + 3 * n + (n - n_valid) + n_valid
    assert data.reads == expected


def test_warm_start_on_memmap_continues(tiny, blobs, tmp_path):
    mm = _memmap(blobs.astype(np.float32), tmp_path)
    eager = tiny(warm_start=True).fit(np.array(mm)).fit(np.array(mm))
    streamed = tiny(warm_start=True).fit(mm).fit(mm)
    assert streamed.n_iter_ == 4
    np.testing.assert_array_equal(streamed.score_samples(mm), eager.score_samples(mm))


# -- bad input gets the same clear errors -------------------------------------


def test_nan_in_memmap_is_refused_before_training(tiny, blobs, tmp_path):
    X = blobs.copy()
    X[-1, 2] = np.nan  # wherever the split puts this row, it is read first
    for where in range(2):
        detector = tiny()
        with pytest.raises(ValueError, match="Input X contains NaN"):
            detector.fit(_memmap(X, tmp_path, f"nan{where}.dat"))
        assert not hasattr(detector, "net_")
        X = np.roll(X, 60, axis=0)


def test_nan_in_memmap_is_refused_at_scoring(tiny, blobs, tmp_path):
    detector = tiny().fit(blobs)
    X = blobs.copy()
    X[100, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        detector.score_samples(_memmap(X, tmp_path))


def test_wrong_width_at_scoring(tiny, blobs, tmp_path):
    detector = tiny().fit(_memmap(blobs, tmp_path))
    with pytest.raises(ValueError, match="X has 4 features, but GANomalyDetector"):
        detector.score_samples(_memmap(blobs[:, :4].copy(), tmp_path, "y.dat"))
    with pytest.raises(ValueError, match="expecting 5 features"):
        detector.score_samples(ArrayItems(blobs[:, :4]))


@pytest.mark.parametrize("make, error, match", [
    (lambda tmp: _memmap(np.zeros(10), tmp), ValueError, "memmap with 1 dimension"),
    (lambda tmp: _memmap(np.zeros((1, 3)), tmp), ValueError, "minimum of 2 is required"),
    (lambda tmp: _memmap(np.zeros((4, 3), dtype=np.complex64), tmp), ValueError,
     "numeric dtype"),
    (lambda tmp: ArrayItems(np.zeros((4, 2, 2, 2, 2))), ValueError, "expected 1-D"),
    (lambda tmp: ArrayItems([np.zeros(3), np.zeros(3), np.zeros(4)]), ValueError,
     "Item 2 of the Dataset has shape"),
    (lambda tmp: ArrayItems(np.array([["a", "b"], ["c", "d"]])), ValueError,
     "convert"),
])
def test_bad_sources(tiny, tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        tiny().fit(make(tmp_path))


def test_iterable_and_unsized_datasets_are_refused(tiny):
    class Stream(IterableDataset):
        def __iter__(self):
            yield from np.zeros((4, 3))

    class Unsized(Dataset):
        def __getitem__(self, i):
            return np.zeros(3)

    with pytest.raises(TypeError, match="map-style torch Dataset"):
        tiny().fit(Stream())
    with pytest.raises(TypeError, match="without __len__"):
        tiny().fit(Unsized())


def test_only_memmaps_and_datasets_are_sources(blobs):
    assert as_row_source(blobs) is None
    assert as_row_source(blobs.tolist()) is None
    assert isinstance(as_row_source(ArrayItems(blobs)), DatasetRows)


def test_memmap_rows_slice_and_gather(blobs, tmp_path):
    rows = MemmapRows(_memmap(blobs.astype(np.float32), tmp_path))
    assert rows.shape == blobs.shape and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[5:9], blobs[5:9].astype(np.float32))
    np.testing.assert_array_equal(rows[np.array([7, 1, 7])],
                                  blobs[[7, 1, 7]].astype(np.float32))


# -- the scaler's statistics do not depend on the chunking --------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 60),
    n_cuts=st.integers(0, 6),
    magnitude=st.sampled_from([1e-30, 1.0, 1e30, 1e300]),
    seed=st.integers(0, 2**16),
)
def test_chunked_scaler_statistics_match_whole_array(n, n_cuts, magnitude, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * magnitude + magnitude
    cuts = np.sort(rng.integers(0, n, size=n_cuts))
    whole = InputScaler().fit(X, (3,))
    chunked = InputScaler().fit_chunks(lambda: iter(np.split(X, cuts)), (3,))
    np.testing.assert_allclose(chunked.shift_, whole.shift_, rtol=1e-12)
    np.testing.assert_allclose(chunked.scale_, whole.scale_, rtol=1e-9)
    images = np.abs(X).reshape(n, 3, 1, 1)
    whole = InputScaler().fit(images.reshape(n, -1), (3, 1, 1))
    chunked = InputScaler().fit_chunks(
        lambda: iter(np.split(images.reshape(n, -1), cuts)), (3, 1, 1))
    np.testing.assert_array_equal(chunked.shift_, whole.shift_)
    np.testing.assert_array_equal(chunked.scale_, whole.scale_)


# -- memory: a memmap 3.8x larger than the memory the process may allocate ------

LIMITED_FIT = textwrap.dedent("""
    import resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from skganomaly import GANomalyDetector

    path, n, d, budget = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n, d))
    params = dict(latent_dim=4, n_filters=4, max_epochs=1, batch_size=64,
                  random_state=0)
    # Every code path once, in memory, before the limit: imports and
    # allocator pools are not what is measured.
    GANomalyDetector(**params).fit(np.array(X[:300])).score_samples(np.array(X[:5]))

    def vm_data():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024

    # RLIMIT_DATA caps the private memory (heap, anonymous maps) the process
    # may allocate; a read-only file map is not counted, so the memmap
    # itself fits while a copy of it would not.
    limit = vm_data() + budget
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    mode = sys.argv[5]
    data = np.array(X) if mode == "copy" else X
    detector = GANomalyDetector(**params).fit(data)
    scores = detector.score_samples(X)
    assert scores.shape == (n,) and np.isfinite(scores).all()
    print("OK", detector.n_iter_, float(detector.offset_))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="RLIMIT_DATA and /proc are Linux features")
def test_fit_and_score_memmap_larger_than_allowed_memory(tmp_path):
    n, d, budget = 16_000, 2_500, 40 * 2**20  # 153 MiB of data, 40 MiB allowed
    assert n * d * 4 >= 3.8 * budget
    path = tmp_path / "big.f32"
    data = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, d))
    rng = np.random.default_rng(0)
    for start in range(0, n, 2_000):
        data[start:start + 2_000] = rng.standard_normal((2_000, d), dtype=np.float32)
    data.flush()
    del data
    script = tmp_path / "limited_fit.py"
    script.write_text(LIMITED_FIT)

    def run(mode):
        return subprocess.run(
            [sys.executable, str(script), str(path), str(n), str(d), str(budget), mode],
            capture_output=True, text=True, timeout=600,
        )

    streamed = run("memmap")
    assert streamed.returncode == 0, streamed.stderr[-3000:]
    assert streamed.stdout.startswith("OK 1 ")
    # The control: the same data copied into memory cannot be fitted under
    # the limit, so the limit is real.
    copied = run("copy")
    assert copied.returncode != 0
    assert "MemoryError" in copied.stderr or "Unable to allocate" in copied.stderr
