"""Safe, atomic model files for the detectors.

``save`` writes one zip archive, in one format:

``manifest.json``
    format name and version, the detector's class, the versions of
    skganomaly, torch and scikit-learn that wrote it, what the networks
    were built from (their working sample shape, ``latent_dim`` and
    ``n_filters``), the estimator's parameters (without
    ``callbacks`` and ``accelerator``), the fitted attributes (``offset_``,
    ``n_features_in_``, ``feature_names_in_``, ``sample_shape_``, ``n_iter_``,
    ``device_``, ``precision_``, and under ``extra`` any other public fitted
    attribute that is a number, a string or a numeric array; arrays of more
    than ``INLINE_ARRAY_MAX`` values only by dtype and shape), the input
    scaling (shift and scale as lists of floats, exact in JSON), the training
    history, and for each weight file its size and SHA-256;
``generator.pt``, ``discriminator.pt``
    the networks' ``state_dict`` (CPU tensors) written by ``torch.save``;
``arrays.pt``
    only when there are any: the fitted arrays too large for the manifest
    (such as ``reference_codes_``, up to 10,000 codes), as a dict of CPU
    tensors written by ``torch.save`` (as JSON numbers they would take about
    20 bytes per value);
``optimizer.pt``, ``optimizer_discriminator.pt``
    the two Adam optimizers' ``state_dict`` (moment estimates and step
    counts), unless saved with ``include_optimizer=False``. With them a
    ``warm_start`` fit after ``load`` continues exactly as one after
    unpickling; without them Adam starts afresh.

``callbacks`` are not stored.

Loading never unpickles arbitrary objects: the manifest is JSON and the
weights are read with ``torch.load(..., weights_only=True)`` after their
SHA-256 was checked. Every entry is checked before a detector is built, so a
file is either loaded whole or refused with a ``ValueError``.

The checksums detect corruption and edits of the weight files; they are not a
signature. Whoever can write the file can also rewrite the checksums, so load
only files from sources you trust to give you a *good model* (loading cannot
run code either way).

Writes are atomic: the archive goes to a temporary file in the destination's
folder, is flushed and ``fsync``-ed, then renamed over the destination with
``os.replace``. A failure at any point (full disk, exception, interrupt)
removes the temporary file and leaves an existing file untouched.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import warnings
import zipfile

import numpy as np
import sklearn
import torch
from skorch.history import History

from ._data import InputScaler
from ._device import bf16_supported, fork_global_rng, resolve_device
from ._version import __version__

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_detector", "save_detector"]

#: Identifies the archive as a skganomaly model file.
FORMAT_NAME = "skganomaly.model"
#: Bumped whenever a change to the layout would make older readers misread
#: a file; readers refuse versions they do not know.
FORMAT_VERSION = 1

MANIFEST = "manifest.json"
WEIGHT_FILES = {"generator": "generator.pt", "discriminator": "discriminator.pt"}
OPTIMIZER_FILES = {"optimizer": "optimizer.pt",
                   "optimizer_discriminator": "optimizer_discriminator.pt"}
ARRAY_FILES = {"arrays": "arrays.pt"}
STATE_FILES = {**WEIGHT_FILES, **OPTIMIZER_FILES, **ARRAY_FILES}
#: Fitted arrays with more values than this go to ``arrays.pt``.
INLINE_ARRAY_MAX = 1024
#: Refuse manifests larger than this (the history of a long training run is a
#: few MB): guards against zip bombs.
MAX_MANIFEST_BYTES = 64 * 2**20


# -- writing ------------------------------------------------------------------


def save_detector(detector, path, include_optimizer=True):
    """Write a fitted detector to ``path`` atomically (see module docstring)."""
    path = os.fspath(path)
    net = detector.net_
    blobs = {name: _torch_bytes(_uncompiled(module).state_dict())
             for name, module in [("generator", net.module_),
                                  ("discriminator", net.discriminator_)]}
    if include_optimizer:
        blobs.update((name, _torch_bytes(getattr(net, f"{name}_").state_dict()))
                     for name in OPTIMIZER_FILES)
    arrays = {}
    fitted = _fitted_to_json(detector, arrays)
    if arrays:
        blobs["arrays"] = _torch_bytes(arrays)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": type(detector).__name__,
        "skganomaly_version": __version__,
        "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__,
        "params": _params_to_json(detector),
        "network": _network_to_json(net),
        "fitted": fitted,
        "scaler": {
            "shift": detector._scaler.shift_.tolist(),
            "scale": detector._scaler.scale_.tolist(),
        },
        "weights": {
            name: {
                "file": STATE_FILES[name],
                "bytes": len(blob),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
            for name, blob in blobs.items()
        },
        "history": _history_to_json(detector.net_.history),
    }
    text = json.dumps(manifest, allow_nan=False, indent=1).encode("utf-8")

    def write(fileobj):
        with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, text)
            for name, blob in blobs.items():
                archive.writestr(STATE_FILES[name], blob)

    atomic_write(path, write)
    return path


def _network_to_json(net):
    """What the networks were built from (see ``BaseGANomaly._network_spec``),
    read from the fitted net: the parameters may have changed since."""
    image_size = net.image_size
    return {"work_shape": [int(s) for s in net.module__sample_shape],
            "image_size": None if image_size is None else [int(s) for s in image_size],
            "latent_dim": int(net.module__latent_dim),
            "n_filters": int(net.module__n_filters)}


def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file next to ``path``, flush it
    to disk and rename it over ``path``; on any failure remove it and leave
    ``path`` as it was."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(
        folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 applies the umask, like a plain open() would.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as fileobj:
            write(fileobj)
            fileobj.flush()
            os.fsync(fileobj.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder):
    # Makes the rename itself durable (POSIX); not possible everywhere.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _uncompiled(module):
    # torch.compile wraps a module and prefixes its state_dict keys; files
    # always hold the plain module's weights.
    return getattr(module, "_orig_mod", module)


def _torch_bytes(state):
    """``torch.save`` bytes of a state dict, every tensor on the CPU."""
    def cpu(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu()
        if isinstance(value, dict):
            return {key: cpu(v) for key, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(cpu(v) for v in value)
        return value

    buffer = io.BytesIO()
    torch.save(cpu(state), buffer)
    return buffer.getvalue()


def _params_to_json(detector):
    params = detector.get_params(deep=False)
    out = {}
    for name, value in params.items():
        if name == "callbacks":
            if value:
                warnings.warn(
                    "callbacks are not saved (they may hold arbitrary code); the "
                    "loaded detector has callbacks=None. Set them again with "
                    "set_params before refitting.",
                    UserWarning, stacklevel=4,
                )
            continue
        if name == "accelerator":
            # A handle on the training session, not a setting: the loaded
            # detector has accelerator=None and runs on its device_.
            continue
        if isinstance(value, torch.device):
            value = str(value)
        elif isinstance(value, np.random.RandomState):
            warnings.warn(
                "random_state is a RandomState instance, which is not saved; the "
                "loaded detector has random_state=None.",
                UserWarning, stacklevel=4,
            )
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, (tuple, list)):
            value = [v.item() if isinstance(v, np.generic) else v for v in value]
        if not (value is None or isinstance(value, (bool, int, float, str)) or (
                isinstance(value, list)
                and all(isinstance(v, (int, float)) for v in value))):
            raise TypeError(
                f"Cannot save parameter {name}={value!r} of type "
                f"{type(value).__name__}; set it to a plain value before saving."
            )
        out[name] = value
    return out


def _fitted_to_json(detector, arrays):
    """The fitted attributes as JSON; arrays too large for it are moved to
    ``arrays`` (name -> tensor) and recorded by dtype and shape."""
    fitted = {
        "offset_": float(detector.offset_),
        "n_features_in_": int(detector.n_features_in_),
        "sample_shape_": [int(s) for s in detector.sample_shape_],
        "n_iter_": int(detector.n_iter_),
        "device_": str(detector.device_),
    }
    if hasattr(detector, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(n) for n in detector.feature_names_in_]
    fitted["precision_"] = str(detector.precision_)
    fitted["extra"] = {}
    for name, value in sorted(vars(detector).items()):
        if not name.endswith("_") or name.startswith("_") or name in _CORE_FITTED:
            continue
        if isinstance(value, np.ndarray) and value.size > INLINE_ARRAY_MAX \
                and value.dtype.name in _ARRAY_DTYPES:
            arrays[name] = torch.from_numpy(np.ascontiguousarray(value))
            value = {"file": ARRAY_FILES["arrays"], "dtype": value.dtype.name,
                     "shape": list(value.shape)}
        else:
            value = _value_to_json(name, value)
        fitted["extra"][name] = value
    return fitted


#: Fitted attributes with their own entry in the manifest; any other public
#: fitted attribute (``name_``) goes to ``fitted["extra"]``.
_CORE_FITTED = {"net_", "offset_", "n_features_in_", "feature_names_in_",
                "sample_shape_", "n_iter_", "device_", "precision_"}
_ARRAY_DTYPES = {"float64", "float32", "int64", "int32", "bool"}


def _value_to_json(name, value):
    """A fitted attribute as JSON: plain numbers and strings as they are,
    numeric arrays as ``{"dtype", "shape", "data"}``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple) and all(isinstance(v, (int, float, str)) for v in value):
        return {"tuple": list(value)}
    if isinstance(value, np.ndarray) and value.dtype.name in _ARRAY_DTYPES:
        data = value.tolist() if value.dtype.kind != "f" else [
            repr(v) if not math.isfinite(v) else v for v in value.ravel().tolist()]
        return {"dtype": value.dtype.name, "shape": list(value.shape), "data": data}
    raise TypeError(
        f"Cannot save the fitted attribute {name} of type {type(value).__name__}; "
        "save stores numbers, strings and numeric arrays only.")


def _value_from_json(name, value, arrays):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and set(value) == {"file", "dtype", "shape"} \
            and value["file"] == ARRAY_FILES["arrays"]:
        # Popped: _check_fitted refuses whatever arrays.pt holds besides.
        tensor = arrays.pop(name, None)
        if tensor is not None and value["dtype"] in _ARRAY_DTYPES \
                and isinstance(value["shape"], list) \
                and list(tensor.shape) == value["shape"]:
            array = tensor.numpy()
            if array.dtype.name == value["dtype"]:
                return array
        raise _Refuse(f"the fitted attribute {name} is missing from arrays.pt "
                      "or does not have the dtype and shape the manifest records.")
    if isinstance(value, dict) and set(value) == {"float"} and \
            value["float"] in ("nan", "inf", "-inf"):
        return float(value["float"])
    if isinstance(value, dict) and set(value) == {"tuple"} and \
            isinstance(value["tuple"], list):
        return tuple(value["tuple"])
    if isinstance(value, dict) and set(value) == {"dtype", "shape", "data"} and \
            value["dtype"] in _ARRAY_DTYPES and isinstance(value["shape"], list) \
            and isinstance(value["data"], list):
        try:
            data = [float(v) if isinstance(v, str) and v in ("nan", "inf", "-inf")
                    else v for v in value["data"]]
            array = np.asarray(data, dtype=value["dtype"])
            return array.reshape([int(s) for s in value["shape"]])
        except (TypeError, ValueError):
            pass
    raise _Refuse(f"the fitted attribute {name} is malformed.")


def _history_to_json(history):
    try:
        return _plain(list(history))
    except TypeError:
        warnings.warn("The training history holds values that JSON cannot "
                      "represent; it is not saved.", UserWarning, stacklevel=4)
        return None


def _plain(obj):
    if isinstance(obj, dict):
        return {str(key): _plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(value) for value in obj]
    if isinstance(obj, (np.generic, torch.Tensor)) and np.size(obj) == 1:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(type(obj).__name__)


# -- reading ------------------------------------------------------------------


class _Refuse(ValueError):
    pass


def load_detector(cls, path, device=None):
    """Read a file written by :func:`save_detector`; see the module docstring.

    Every entry is checked before anything is built: the archive and its
    manifest, the parameters, the fitted attributes and the input scaling,
    the state files; only then are the networks rebuilt and filled.
    """
    path = os.fspath(path)
    try:
        manifest, blobs = _read_archive(path)
        detector = _detector_from_params(cls, manifest)
        arrays = _read_arrays(blobs.pop("arrays", None))
        fitted = _check_fitted(manifest.get("fitted"), arrays)
        scaler = _check_scaler(manifest.get("scaler"), fitted["sample_shape_"])
        network = _check_network(manifest.get("network"), fitted["sample_shape_"])
        device = _load_device(device, fitted["device_"])
        states = _read_states(blobs, device)
        net = _rebuild_net(detector, network, fitted, device, states)
    except _Refuse as exc:
        raise ValueError(f"Cannot load {path!r}: {exc}") from None
    history = manifest.get("history")
    if isinstance(history, list) and all(isinstance(h, dict) for h in history):
        net.history = History(history)
    _fill(detector, net, scaler, fitted, device)
    return detector


def _read_archive(path):
    """The manifest and the state files' bytes, checked against it."""
    try:
        archive = zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile as exc:
        raise _Refuse(
            f"not a skganomaly model file ({exc}). Files are written by the "
            "detectors' save method.") from None
    with archive:
        manifest = _read_manifest(archive)
        return manifest, _read_weights(archive, manifest)


def _detector_from_params(cls, manifest):
    """An unfitted detector of class ``cls`` with the file's parameters."""
    if manifest.get("estimator") != cls.__name__:
        raise _Refuse(
            f"it holds a {manifest.get('estimator')!r}, not a {cls.__name__}; load it "
            f"with {manifest.get('estimator')}.load.")
    params = manifest.get("params")
    if not isinstance(params, dict):
        raise _Refuse("the manifest has no 'params' object.")
    unknown = sorted(set(params) - set(cls().get_params(deep=False)))
    if unknown or "callbacks" in params:
        raise _Refuse(
            f"it sets parameters this version of {cls.__name__} does not have: "
            f"{unknown or ['callbacks']}. Upgrade skganomaly "
            f"(the file was written by {manifest.get('skganomaly_version')!r}).")
    params = {name: tuple(value) if name in _TUPLE_PARAMS and isinstance(value, list)
              else value for name, value in params.items()}
    detector = cls(**params)
    try:
        detector._validate_params()
    except (TypeError, ValueError) as exc:
        raise _Refuse(f"its parameters are invalid: {exc}") from None
    return detector


#: Parameters that are tuples, which JSON stores as lists.
_TUPLE_PARAMS = ("image_shape", "loss_weights")


def _check_network(network, sample_shape):
    """What the networks are built from, as ``BaseGANomaly._network_spec``
    gives it."""
    def positive_ints(values, length):
        return (isinstance(values, list) and len(values) == length and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values))

    if not (isinstance(network, dict)
            and set(network) == {"work_shape", "image_size", "latent_dim", "n_filters"}
            and positive_ints(network["work_shape"], len(sample_shape))
            and (network["image_size"] is None or positive_ints(network["image_size"], 2))
            and positive_ints([network["latent_dim"], network["n_filters"]], 2)):
        raise _Refuse("the description of the networks is missing or malformed.")
    return network


def _load_device(device, fitted_device):
    """``device``, or the one the model was trained on when it is available
    here and the CPU otherwise."""
    if device is not None:
        return resolve_device(device)
    try:
        return resolve_device(fitted_device)
    except ValueError:  # e.g. trained on CUDA, loaded on a CPU-only machine
        return "cpu"


def _read_states(blobs, device):
    """The state files as checked state dicts (weights on ``device``)."""
    states = {}
    for name, blob in blobs.items():
        optimizer = name in OPTIMIZER_FILES
        try:
            # Optimizer states load on the CPU: load_state_dict moves the
            # moments to their parameters' device and keeps Adam's step
            # counts on the CPU, where a non-capturable Adam needs them.
            state = torch.load(io.BytesIO(blob), weights_only=True,
                               map_location="cpu" if optimizer else device)
        except Exception as exc:  # noqa: BLE001 - any unreadable blob
            raise _Refuse(f"the {name} {'state' if optimizer else 'weights'} cannot "
                          f"be read: {exc}") from None
        if optimizer and not (isinstance(state, dict)
                              and set(state) == {"state", "param_groups"}):
            raise _Refuse(f"the {name} state is not an optimizer's state dict.")
        if not optimizer and not (isinstance(state, dict) and all(
                isinstance(k, str) and isinstance(v, torch.Tensor)
                for k, v in state.items())):
            raise _Refuse(f"the {name} weights are not a state dict of tensors.")
        states[name] = state
    return states


def _rebuild_net(detector, network, fitted, device, states):
    """The fitted net: networks of the file's description, its weights and
    optimizer states loaded."""
    precision = fitted["precision_"]
    if precision == "bf16" and not bf16_supported(device):
        precision = "fp32"  # weights are float32 either way
    detector.precision_ = precision  # read by _make_net
    # Building the networks draws initial weights: keep the caller's global
    # torch random state as it was, and other threads' fits undisturbed.
    with fork_global_rng():
        # epochs: skorch's own max_epochs, unused (fit passes its epochs).
        net = detector._make_net(
            network, device, seed=0, epochs=0,
            early_stopping=bool(fitted["extra"].get("do_early_stopping_", False)))
        net.initialize()
    for name, module in [("generator", net.module_),
                         ("discriminator", net.discriminator_)]:
        try:
            _uncompiled(module).load_state_dict(states[name], strict=True)
        except RuntimeError as exc:
            raise _Refuse(f"the {name} weights do not fit the networks the file "
                          f"describes: {exc}") from None
    for name in OPTIMIZER_FILES:
        if name in states:
            _load_optimizer(getattr(net, f"{name}_"), name, states[name])
    return net


def _load_optimizer(optimizer, name, state):
    try:
        optimizer.load_state_dict(state)
        # load_state_dict counts parameters but does not check shapes.
        for group in optimizer.param_groups:
            for param in group["params"]:
                for key, value in optimizer.state.get(param, {}).items():
                    if value.ndim and value.shape != param.shape:
                        raise ValueError(
                            f"{key} of shape {tuple(value.shape)} for a "
                            f"parameter of shape {tuple(param.shape)}")
    except (ValueError, KeyError, TypeError, RuntimeError, AttributeError) as exc:
        raise _Refuse(f"the {name} state does not fit the networks: {exc}") from None


def _fill(detector, net, scaler, fitted, device):
    """Everything checked: only now make the detector a fitted one."""
    detector._scaler = scaler
    detector.sample_shape_ = fitted["sample_shape_"]
    detector.device_ = device
    detector.net_ = net
    detector.n_iter_ = fitted["n_iter_"]
    detector.n_features_in_ = fitted["n_features_in_"]
    if fitted["feature_names_in_"] is not None:
        detector.feature_names_in_ = np.asarray(fitted["feature_names_in_"],
                                                dtype=object)
    detector.offset_ = fitted["offset_"]
    for name, value in fitted["extra"].items():
        setattr(detector, name, value)


def _read_manifest(archive):
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(names) != len(set(names)) or MANIFEST not in names:
        _refuse_entries(names, {MANIFEST, *WEIGHT_FILES.values()})
    if archive.getinfo(MANIFEST).file_size > MAX_MANIFEST_BYTES:
        raise _Refuse("its manifest is implausibly large.")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (ValueError, zipfile.BadZipFile) as exc:  # bad JSON, UTF-8 or CRC
        raise _Refuse(f"its manifest cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _Refuse(
            "it is not a skganomaly model file (unknown 'format'; files written "
            "by development versions before the detectors' redesign are not "
            "read: fit the model again).")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise _Refuse(
            f"it has format version {version!r}, written by skganomaly "
            f"{manifest.get('skganomaly_version')!r}; this version reads format "
            f"{FORMAT_VERSION}. Load it with a matching skganomaly version.")
    expected = {MANIFEST, *_declared_files(manifest).values()}
    if set(names) != expected:
        _refuse_entries(names, expected)
    return manifest


def _refuse_entries(names, expected):
    raise _Refuse(
        "its entries are not those of a skganomaly model file "
        f"(missing: {sorted(expected - set(names))}, unexpected: "
        f"{sorted(set(names) - expected)}, duplicated: "
        f"{len(names) != len(set(names))}).")


def _declared_files(manifest):
    """``{name: file}`` of the state files the manifest lists: the networks,
    optionally both optimizers, optionally the arrays."""
    declared = manifest.get("weights")
    networks, optimizers, arrays = set(WEIGHT_FILES), set(OPTIMIZER_FILES), set(ARRAY_FILES)
    allowed = [networks, networks | optimizers, networks | arrays,
               networks | optimizers | arrays]
    if not isinstance(declared, dict) or set(declared) not in allowed:
        raise _Refuse("the manifest does not list the generator and "
                      "discriminator weights (and nothing or both optimizers "
                      "besides, and optionally the arrays).")
    return {name: STATE_FILES[name] for name in declared}


def _read_weights(archive, manifest):
    declared = manifest["weights"]
    blobs = {}
    for name, filename in _declared_files(manifest).items():
        entry = declared[name]
        if not (isinstance(entry, dict) and entry.get("file") == filename
                and isinstance(entry.get("bytes"), int)
                and isinstance(entry.get("sha256"), str)):
            raise _Refuse(f"the manifest's entry for the {name} state is malformed.")
        if archive.getinfo(filename).file_size != entry["bytes"]:
            raise _Refuse(f"{filename} does not have the size the manifest records "
                          "(the file was altered or truncated).")
        try:
            with archive.open(filename) as fileobj:
                blob = fileobj.read(entry["bytes"] + 1)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # CRC, truncation
            raise _Refuse(f"{filename} cannot be read: {exc}") from None
        if len(blob) != entry["bytes"] or \
                hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            raise _Refuse(f"the SHA-256 of {filename} does not match the manifest "
                          "(the file was altered or corrupted).")
        blobs[name] = blob
    return blobs


def _read_arrays(blob):
    """``arrays.pt`` as ``{name: CPU tensor}`` (empty without the entry)."""
    if blob is None:
        return {}
    try:
        arrays = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable blob
        raise _Refuse(f"arrays.pt cannot be read: {exc}") from None
    if not (isinstance(arrays, dict) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in arrays.items())):
        raise _Refuse("arrays.pt is not a dict of tensors.")
    return dict(arrays)


def _check_fitted(fitted, arrays):
    if not isinstance(fitted, dict):
        raise _Refuse("the manifest has no 'fitted' object.")

    def get(key, kind):
        value = fitted.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _Refuse(f"the fitted attribute {key} is missing or malformed.")
        return value

    shape = get("sample_shape_", list)
    if len(shape) not in (1, 3) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise _Refuse("the fitted attribute sample_shape_ is malformed.")
    n_features = get("n_features_in_", int)
    if n_features != int(np.prod(shape)):
        raise _Refuse("n_features_in_ does not match sample_shape_.")
    offset = get("offset_", (int, float))
    if not math.isfinite(offset):
        raise _Refuse("the fitted attribute offset_ is not finite.")
    n_iter = get("n_iter_", int)
    if n_iter < 0:
        raise _Refuse("the fitted attribute n_iter_ is negative.")
    extra = fitted.get("extra", {})
    if not isinstance(extra, dict) or not all(
            isinstance(name, str) and name.isidentifier() and name.endswith("_")
            and not name.startswith("_") and name not in _CORE_FITTED
            for name in extra):
        raise _Refuse("the extra fitted attributes are malformed.")
    extra = {name: _value_from_json(name, value, arrays)
             for name, value in extra.items()}
    if arrays:
        raise _Refuse(f"arrays.pt holds arrays the manifest does not list: "
                      f"{sorted(arrays)}.")
    precision = fitted.get("precision_")
    if precision not in ("fp32", "bf16"):
        raise _Refuse("the fitted attribute precision_ is malformed.")
    names = fitted.get("feature_names_in_")
    if names is not None and not (
            isinstance(names, list) and len(names) == n_features
            and all(isinstance(n, str) for n in names)):
        raise _Refuse("the fitted attribute feature_names_in_ is malformed.")
    return {
        "sample_shape_": tuple(shape),
        "n_features_in_": n_features,
        "offset_": float(offset),
        "n_iter_": n_iter,
        "device_": get("device_", str),
        "feature_names_in_": names,
        "precision_": precision,
        "extra": extra,
    }


def _check_scaler(scaler, sample_shape):
    if not isinstance(scaler, dict):
        raise _Refuse("the manifest has no 'scaler' object.")
    expected = (sample_shape[0], 1) if len(sample_shape) == 3 else sample_shape
    arrays = {}
    for key in ("shift", "scale"):
        try:
            array = np.asarray(scaler.get(key), dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape != expected or not np.isfinite(array).all():
            raise _Refuse(f"the input scaling ({key}) is missing or malformed.")
        arrays[key] = array
    if not (arrays["scale"] > 0).all():
        raise _Refuse("the input scaling has non-positive scales.")
    result = InputScaler()
    result.sample_shape = tuple(sample_shape)
    result.shift_ = arrays["shift"]
    result.scale_ = arrays["scale"]
    return result
