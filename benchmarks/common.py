"""What every benchmark shares: data and the one-class protocol, the machine
description and header of result files, the study logs, and the few
skganomaly internals the benchmarks use (imported here and nowhere else, so
that a change of the package's private modules is a change of this file).

Protocol (the paper's, applied to every suite): one class is the anomaly and
all other classes are normal; normal samples are shuffled with the seed, 80 %
train the detector, and the test set is the other 20 % plus every sample of
the anomaly class. Nothing from the test set is used for training or for any
choice of settings.
"""

import datetime
import gzip
import os
import platform
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# -- skganomaly internals (private API: adapt here when the package moves them) --
from skganomaly import _persistence  # noqa: F401  (INLINE_ARRAY_MAX, model_file_size)
from skganomaly._device import bf16_supported, resolve_precision  # noqa: F401
from skganomaly.net import ema_step  # noqa: F401
from skganomaly.networks import (  # noqa: F401
    ConvEncoder,
    Discriminator,
    Generator,
    weights_init,
)

def build_networks(sample_shape, latent_dim, n_filters):
    """Initialised ``(generator, discriminator)`` as the detector builds them,
    for the plain PyTorch references of the speed benchmarks."""
    generator = Generator(sample_shape, latent_dim, n_filters).apply(weights_init)
    discriminator = Discriminator(sample_shape, n_filters).apply(weights_init)
    return generator, discriminator


HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STUDY_RESULTS = HERE / "studies" / "results"
DEFAULT_DATA = HERE.parent / ".." / "shared" / "data"


# -- the machine and the header of result files --------------------------------------


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def status_kib(field):
    """A memory field of /proc/self/status (VmRSS, VmHWM, RssAnon, ...) in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def now():
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command_line(module=None, argv=None):
    """The command that produced a result: ``python -m MODULE ARGS`` when the
    module is given (``argv`` defaults to this process's arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if module:
        return " ".join(["python -m", module, *args])
    return " ".join([Path(sys.executable).name, *sys.argv])


def machine_info(device="cpu", module=None, argv=None):
    """Date, command, versions, CPU, cores (and GPU) for a result file."""
    import torch

    import skganomaly

    info = {
        "date": now(),
        "command": command_line(module, argv),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skganomaly": skganomaly.__version__,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def header_lines(info):
    """The Markdown header lines every result file starts with."""
    return [
        f"- date: {info['date']}; command: `{info['command']}`",
        f"- machine: {info['cpu']}, {info['cores']} cores, torch threads "
        f"{info['torch_threads']}" + (f", GPU {info['gpu']}" if "gpu" in info else ""),
        f"- versions: python {info['python']}, torch {info['torch']}, "
        f"skganomaly {info['skganomaly']}",
    ]


def bf16_note(device):
    """``None`` where ``device`` runs bfloat16 natively, else the sentence that
    result files and printed output give for the bf16 rows left out."""
    if bf16_supported(device):
        return None
    return (f"bf16 skipped: no native bfloat16 on this {device} "
            "(it would be emulated, far slower, and the estimator refuses it)")


# -- study logs ------------------------------------------------------------------------


@contextmanager
def study_log(path):
    """Yield ``say(line)``, which prints a line and appends it to ``path``
    (a ``pathlib.Path``; its folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as out:
        def say(line):
            print(line, flush=True)
            out.write(line + "\n")
            out.flush()

        yield say


# -- data sets and the one-class split -------------------------------------------------


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
