"""Where the networks run and in which arithmetic.

Device policy (``device="auto"`` and its checks), precision policy (native
bfloat16 detection and ``precision="auto"``), placement of the training set,
and the lock on torch's process-wide random generators. The estimators, the
training core, the accelerate path and model files all import it; it imports
nothing of the package.
"""

import contextlib
import os
import re
import threading

import torch

__all__ = ["DISABLE_BF16_ENV", "PRECISIONS", "bf16_supported", "fork_global_rng",
           "inner_module", "resolve_device", "resolve_precision", "same_device",
           "to_training_device"]

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")

PRECISIONS = ("auto", "fp32", "bf16")

#: Set to ``1`` to behave as if no device had native bfloat16: ``"auto"``
#: resolves to fp32 and ``"bf16"`` is refused. CI runs the tests once so, to
#: cover fp32-only CPUs whatever CPU it runs on.
DISABLE_BF16_ENV = "SKGANOMALY_DISABLE_BF16"

#: torch's CPU random generator (and each CUDA device's) is one per process.
#: Whatever draws from it here (building networks, drawing weights) holds
#: this lock, so that fits in threads at once draw what they draw alone.
_GLOBAL_RNG_LOCK = threading.RLock()


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; others checked."""
    if isinstance(device, torch.device):
        device = str(device)
    if not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"device={device!r} is not understood; use 'auto', 'cpu', 'cuda' or "
            "'cuda:<index>'."
        )
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
    if device == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device='mps' was requested but MPS is not available.")
    return device


def same_device(a, b):
    """Whether two devices are the same: same type, and the same index where
    both have one (the CPU's index means nothing)."""
    a, b = torch.device(a), torch.device(b)
    return a.type == b.type and (
        a.type == "cpu" or None in (a.index, b.index) or a.index == b.index)


def bf16_supported(device):
    """Whether ``device`` runs bfloat16 convolutions and matmuls natively
    (CUDA with bf16 support, or a CPU with AVX512-BF16 / AMX through oneDNN),
    and the environment variable ``SKGANOMALY_DISABLE_BF16`` is not set to a
    true value."""
    if os.environ.get(DISABLE_BF16_ENV, "").strip().lower() in ("1", "true", "yes"):
        return False
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        try:
            return bool(check()) if check is not None else False
        except RuntimeError:
            return False
    return False


def resolve_precision(precision, device, sample_shape):
    """The arithmetic a fit uses: ``"fp32"`` or ``"bf16"``.

    ``"auto"`` picks bf16 autocast for images on hardware with native bf16
    (there it trains about 1.4x and scores about 2x faster than fp32 with the
    same AUC, see the Performance page) and fp32 everywhere else: for the
    small matrices of tabular MLPs bf16 gives no speed-up. ``"bf16"`` on
    hardware without native support is refused, since it would be slower.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is not one of {PRECISIONS}.")
    if precision == "fp32":
        return "fp32"
    supported = bf16_supported(device)
    if precision == "bf16":
        if not supported:
            raise ValueError(
                f"precision='bf16' was requested but device {str(device)!r} has no "
                "native bfloat16 support; use precision='fp32' or 'auto'."
            )
        return "bf16"
    return "bf16" if supported and len(sample_shape) == 3 else "fp32"


@contextlib.contextmanager
def fork_global_rng(device="cpu"):
    """Hold the lock on torch's global generators and give them back to the
    caller as they were (CPU, and ``device`` when it is a CUDA device)."""
    cuda = [torch.device(device)] if str(device).startswith("cuda") else []
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=cuda):
        yield cuda


def inner_module(module):
    """The module inside a ``DistributedDataParallel`` wrapper (data-parallel
    training through accelerate), or ``module`` itself."""
    if isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return module.module
    return module


def to_training_device(X, device):
    """Keep the training set on the GPU when it fits comfortably: one copy
    instead of a host-to-device transfer per batch and epoch."""
    if not str(device).startswith("cuda"):
        return X
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    if X.numel() * X.element_size() > free // 4:
        return X
    return X.to(device)
