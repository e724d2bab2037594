"""Data sets and the one-class split protocol shared by the benchmarks.

Protocol (the paper's, applied to every suite): one class is the anomaly and
all other classes are normal; normal samples are shuffled with the seed, 80 %
train the detector, and the test set is the other 20 % plus every sample of
the anomaly class. Nothing from the test set is used for training or for any
choice of settings.
"""

import gzip
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load_digits_images():
    """scikit-learn's digits as ``(n, 1, 8, 8)`` float images (0-16) and labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8), y


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir=DEFAULT_DATA, pad_to=32):
    """The MNIST *test* set (10,000 images; the training set is not available
    here), padded with zeros from 28x28 to ``pad_to`` x ``pad_to`` as in the
    paper's protocol. Returns ``(n, 1, pad_to, pad_to)`` uint8 and labels."""
    root = Path(data_dir) / "mnist"
    X = _read_idx(root / "t10k-images-idx3-ubyte.gz")
    y = _read_idx(root / "t10k-labels-idx1-ubyte.gz").astype(int)
    if pad_to and pad_to > 28:
        before = (pad_to - 28) // 2
        X = np.pad(X, ((0, 0), (before, pad_to - 28 - before),
                       (before, pad_to - 28 - before)))
    return X[:, None], y


def load_cifar10(data_dir=DEFAULT_DATA):
    """The CIFAR-10 test set (a slightly lossy JPEG copy) as ``(n, 3, 32, 32)``
    uint8 and labels."""
    with np.load(Path(data_dir) / "cifar10" / "cifar10_test.npz") as data:
        return data["X"].transpose(0, 3, 1, 2), data["y"].astype(int)


def load_odds(name, data_dir=DEFAULT_DATA):
    """An ODDS ``.mat`` set: ``X`` float64 and ``y`` with 1 = outlier."""
    from scipy.io import loadmat

    mat = loadmat(Path(data_dir) / "odds" / f"{name}.mat")
    return mat["X"].astype(np.float64), mat["y"].ravel().astype(int)


def odds_names(data_dir=DEFAULT_DATA):
    return sorted(p.stem for p in (Path(data_dir) / "odds").glob("*.mat"))


def one_class_split(y, anomaly, seed, train_fraction=0.8):
    """Indices ``(train, test)`` and ``is_anomaly`` for the test rows.

    ``anomaly`` is a label of ``y`` (or ``True`` for sets where ``y`` is
    already 1 = outlier).
    """
    rng = np.random.RandomState(seed)
    is_anomaly = y == anomaly
    normal = rng.permutation(np.flatnonzero(~is_anomaly))
    n_train = int(train_fraction * len(normal))
    test = np.concatenate([normal[n_train:], np.flatnonzero(is_anomaly)])
    return normal[:n_train], test, is_anomaly[test].astype(int)
