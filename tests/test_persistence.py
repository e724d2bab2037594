"""Model files: pickle / joblib round trips, ``save`` / ``load``, tampering,
atomic writes.

==================================================  =======================================
Case                                                Outcome
==================================================  =======================================
pickle and joblib round trip                        identical scores, ``offset_``, predict
``save`` then ``load`` (tabular, DataFrame, image)  identical scores, params, attributes
``warm_start`` fit after ``load`` / after pickle    bit-identical (optimizer states stored)
``save(include_optimizer=False)``, format 1 files   load; < 0.6x the size; Adam afresh
large fitted arrays (``reference_codes_``)          in ``arrays.pt``, bit-identical; format 3
``arrays.pt`` forged, unlisted, of another shape    ``ValueError`` naming the problem
``callbacks`` set when saving                       ``UserWarning``; loaded with ``None``
model trained on CUDA, loaded on a CPU-only host    loads on the CPU (``map_location``)
model trained on CUDA, unpickled on a CPU-only host on the CPU, ``device_ == 'cpu'``
not a zip / truncated / empty file                  ``ValueError`` "not a skganomaly ..."
unknown format version                              ``ValueError`` "format version"
weight blob altered (manifest unchanged)            ``ValueError`` "SHA-256 ... altered"
entry missing, extra or duplicated                  ``ValueError`` "entries are not ..."
manifest not JSON / wrong fitted values             ``ValueError`` naming the problem
weights of another architecture (checksums valid)   ``ValueError`` "do not fit"
optimizer state of another model / only one of two  ``ValueError`` naming the problem
pickle payload in place of weights (checksums ok)   ``ValueError``; the payload never runs
failure mid-write (exception, full disk, fsync,     the old file is intact, no temporary
rename, KeyboardInterrupt)                          file is left
==================================================  =======================================
"""

import hashlib
import io
import json
import os
import pickle
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import EarlyStopping
from skorch.exceptions import DeviceWarning

import skganomaly
from skganomaly import GANomalyDetector
from skganomaly import _persistence

TINY = dict(latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(60, 4))


@pytest.fixture(scope="module")
def fitted(X):
    return GANomalyDetector(**TINY).fit(X)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.skgan"
    fitted.save(path)
    return path


def assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.offset_ == b.offset_
    assert a.get_params() == b.get_params()
    for name in ("n_features_in_", "sample_shape_", "n_iter_"):
        assert getattr(a, name) == getattr(b, name)


def rewrite(src, dst, change):
    """Copy the archive ``src`` to ``dst``, passing ``{name: bytes}`` through
    ``change`` (which may edit, add or drop entries)."""
    with zipfile.ZipFile(src) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries = change(entries) or entries
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return dst


def edit_manifest(edit):
    def change(entries):
        manifest = json.loads(entries["manifest.json"])
        edit(manifest)
        entries["manifest.json"] = json.dumps(manifest).encode()
    return change


def replace_weights(name, blob):
    """Put ``blob`` in place of a weight file *and* fix up its checksum: a
    deliberate forgery, not corruption."""
    def change(entries):
        entries[f"{name}.pt"] = blob
        manifest = json.loads(entries["manifest.json"])
        manifest["weights"][name].update(
            bytes=len(blob), sha256=hashlib.sha256(blob).hexdigest())
        entries["manifest.json"] = json.dumps(manifest).encode()
    return change


# -- round trips -----------------------------------------------------------------


def test_pickle_and_joblib_round_trips(fitted, X, tmp_path):
    assert_same_model(pickle.loads(pickle.dumps(fitted)), fitted, X)
    joblib.dump(fitted, tmp_path / "model.joblib")
    assert_same_model(joblib.load(tmp_path / "model.joblib"), fitted, X)


def test_save_load_round_trip(fitted, saved, X):
    loaded = GANomalyDetector.load(saved)
    assert_same_model(loaded, fitted, X)
    assert loaded.device_ == "cpu"
    assert len(loaded.net_.history) == fitted.n_iter_
    assert loaded.net_.history[-1, "train_loss"] == fitted.net_.history[-1, "train_loss"]
    for a, b in zip(loaded.net_.discriminator_.state_dict().values(),
                    fitted.net_.discriminator_.state_dict().values()):
        assert torch.equal(a, b)


def test_save_load_dataframe_and_images(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(rng.normal(size=(30, 3)), columns=["x", "y", "z"])
    det = GANomalyDetector(**TINY).fit(frame)
    det.save(tmp_path / "frame.skgan")
    loaded = GANomalyDetector.load(tmp_path / "frame.skgan")
    assert list(loaded.feature_names_in_) == ["x", "y", "z"]
    assert_same_model(loaded, det, frame)
    with pytest.raises(ValueError, match="feature names should match"):
        loaded.score_samples(frame.rename(columns={"z": "w"}))

    images = rng.randint(0, 256, size=(20, 3, 6, 5)).astype(np.uint8)
    det = GANomalyDetector(**{**TINY, "image_shape": [3, 6, 5]}).fit(
        images.reshape(20, -1))
    det.save(str(tmp_path / "images.skgan"))
    loaded = GANomalyDetector.load(str(tmp_path / "images.skgan"))
    assert loaded.image_shape == (3, 6, 5) and loaded.sample_shape_ == (3, 6, 5)
    np.testing.assert_array_equal(loaded.score_samples(images.reshape(20, -1)),
                                  det.score_samples(images.reshape(20, -1)))


def test_files_rebuild_the_fitted_networks_whatever_the_parameters_are_now(tmp_path):
    # Parameters changed after fit describe another model: a file rebuilds
    # the networks that were fitted (as a pickle keeps them), and the
    # fitted methods keep working on the fitted networks.
    images = np.random.RandomState(0).uniform(0, 16, size=(20, 1, 8, 8))
    det = GANomalyDetector(**TINY).fit(images)
    expected = det.score_samples(images)
    codes = det.encode(images)
    det.set_params(latent_dim=7, n_filters=2, min_image_size=None)
    np.testing.assert_array_equal(det.encode(images), codes)
    det.save(tmp_path / "model.skgan")
    with zipfile.ZipFile(tmp_path / "model.skgan") as archive:
        network = json.loads(archive.read("manifest.json"))["network"]
    assert network == {"work_shape": [1, 16, 16], "image_size": [16, 16],
                       "latent_dim": TINY["latent_dim"], "n_filters": TINY["n_filters"]}
    loaded = GANomalyDetector.load(tmp_path / "model.skgan")
    assert loaded.latent_dim == 7  # the parameters as they were saved
    np.testing.assert_array_equal(loaded.score_samples(images), expected)
    np.testing.assert_array_equal(loaded.encode(images), codes)


def test_early_stopping_survives_save_and_load(tmp_path):
    X = np.random.RandomState(0).normal(size=(300, 4))
    det = GANomalyDetector(**{**TINY, "max_epochs": 40,
                              "validation_fraction": 0.34}).fit(X)
    assert det.do_early_stopping_  # 102 held-out rows
    loaded = GANomalyDetector.load(det.save(tmp_path / "es.skgan"))
    assert loaded.do_early_stopping_
    stopper = dict(loaded.net_.callbacks_)["early_stopping"]
    assert stopper.patience == det.n_iter_no_change
    # A warm start after loading stops early too.
    first = loaded.n_iter_
    loaded.set_params(warm_start=True).fit(X)
    assert loaded.n_iter_ < first + 40
    assert stopper.misses_ == stopper.patience


def test_loaded_model_continues_training_as_the_unpickled_one(fitted, saved, X,
                                                              tmp_path):
    def continued(det):
        return det.set_params(warm_start=True, max_epochs=1).fit(X).score_samples(X)

    expected = continued(pickle.loads(pickle.dumps(fitted)))
    loaded = GANomalyDetector.load(saved)
    for name in ("optimizer_", "optimizer_discriminator_"):
        a, b = getattr(loaded.net_, name), getattr(fitted.net_, name)
        assert a.state_dict()["param_groups"] == b.state_dict()["param_groups"]
        assert all(torch.equal(a.state[p]["exp_avg"], b.state[q]["exp_avg"])
                   for p, q in zip(a.state, b.state))
    np.testing.assert_array_equal(continued(loaded), expected)
    assert loaded.n_iter_ == 3

    # Without the optimizers: a smaller file, and Adam starts afresh.
    light = fitted.save(tmp_path / "light.skgan", include_optimizer=False)
    with zipfile.ZipFile(light) as archive:
        assert "optimizer.pt" not in archive.namelist()
    assert os.path.getsize(light) < 0.6 * os.path.getsize(saved)
    loaded = GANomalyDetector.load(light)
    assert not loaded.net_.optimizer_.state
    assert_same_model(loaded, fitted, X)
    restarted = continued(loaded)
    assert np.isfinite(restarted).all() and not np.array_equal(restarted, expected)


def test_file_layout_and_versions(saved, fitted):
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == [
            "discriminator.pt", "generator.pt", "manifest.json",
            "optimizer.pt", "optimizer_discriminator.pt"]
        manifest = json.loads(archive.read("manifest.json"))
        blob = archive.read("generator.pt")
    assert manifest["format"] == "skganomaly.model" and manifest["format_version"] == 1
    assert manifest["estimator"] == "GANomalyDetector"
    assert set(manifest["network"]) == {"work_shape", "image_size", "latent_dim",
                                        "n_filters"}
    assert manifest["skganomaly_version"] == skganomaly.__version__
    assert "callbacks" not in manifest["params"]
    assert manifest["fitted"]["offset_"] == fitted.offset_
    assert manifest["weights"]["generator"]["sha256"] == hashlib.sha256(blob).hexdigest()


def test_weights_are_read_with_weights_only(saved, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    GANomalyDetector.load(saved)
    assert len(calls) == 4  # two networks, two optimizers
    assert all(c["weights_only"] is True and c["map_location"] == "cpu" for c in calls)


def test_callbacks_are_not_saved(X, tmp_path):
    det = GANomalyDetector(**TINY, callbacks=[EarlyStopping(patience=5)]).fit(X)
    with pytest.warns(UserWarning, match="callbacks are not saved"):
        det.save(tmp_path / "m.skgan")
    loaded = GANomalyDetector.load(tmp_path / "m.skgan")
    assert loaded.callbacks is None
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))


def test_other_fitted_attributes_round_trip(X, tmp_path):
    det = GANomalyDetector(**TINY).fit(X)
    det.center_ = np.array([[1.5, -2.0], [np.inf, 3.0]])
    det.counts_ = np.arange(3, dtype=np.int32)
    det.label_, det.ratio_, det.pair_ = "a", float("nan"), (1, 2)
    det.save(tmp_path / "m.skgan")
    loaded = GANomalyDetector.load(tmp_path / "m.skgan")
    np.testing.assert_array_equal(loaded.center_, det.center_)
    assert loaded.counts_.dtype == np.int32 and list(loaded.counts_) == [0, 1, 2]
    assert (loaded.label_, loaded.pair_) == ("a", (1, 2)) and np.isnan(loaded.ratio_)

    det.model_ = object()
    with pytest.raises(TypeError, match="model_"):
        det.save(tmp_path / "other.skgan")
    assert not (tmp_path / "other.skgan").exists()


def test_save_requires_a_fitted_detector(tmp_path):
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        GANomalyDetector().save(tmp_path / "m.skgan")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
def test_cuda_trained_model_loads_on_a_cpu_only_machine(fitted, X, tmp_path):
    # The file records where the model was trained; the weights are stored as
    # CPU tensors and mapped to the device chosen at load time.
    path = rewrite(fitted.save(tmp_path / "m.skgan"), tmp_path / "cuda.skgan",
                   edit_manifest(lambda m: m["fitted"].update(device_="cuda:0")))
    loaded = GANomalyDetector.load(path)
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    with pytest.raises(ValueError, match="CUDA is not available"):
        GANomalyDetector.load(path, device="cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
def test_cuda_trained_model_unpickles_on_a_cpu_only_machine(X):
    # A pickle of a model trained on a GPU (as a Dask or Ray worker receives
    # it): skorch maps the weights to the CPU; device_ must follow, or a
    # warm_start fit would ask for CUDA.
    det = GANomalyDetector(**TINY).fit(X)
    expected = det.score_samples(X)
    det.device_ = det.net_.device = "cuda:0"
    with pytest.warns(DeviceWarning, match="(?i)cuda"):
        loaded = pickle.loads(pickle.dumps(det))
    assert loaded.device_ == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    np.testing.assert_array_equal(loaded.score_samples(X), expected)
    loaded.set_params(warm_start=True, max_epochs=1).fit(X)
    assert loaded.n_iter_ == 3 and loaded.device_ == "cpu"
    assert not torch.cuda.is_initialized()


# -- refused files ---------------------------------------------------------------------

REFUSED = {
    "format version 2": (edit_manifest(lambda m: m.update(format_version=2)),
                         "format version 2"),
    "development format": (
        edit_manifest(lambda m: m.update(format="skganomaly.GANomalyDetector")),
        "files written by development versions before the detectors' redesign"),
    "no network description": (edit_manifest(lambda m: m.pop("network")),
                               "description of the networks is missing"),
    "another network description": (
        edit_manifest(lambda m: m["network"].update(latent_dim=5)),
        "generator weights do not fit the networks the file describes"),
    "one optimizer state only": (
        lambda e: (e.pop("optimizer_discriminator.pt"), edit_manifest(
            lambda m: m["weights"].pop("optimizer_discriminator"))(e)) and None,
        "nothing or both optimizers"),
    "optimizer state of another model": (
        lambda e: replace_weights("optimizer", _other_optimizer_blob())(e),
        "optimizer state does not fit"),
    "weights in place of an optimizer state": (
        lambda e: replace_weights("optimizer", e["generator.pt"])(e),
        "not an optimizer's state dict"),
    "other format": (edit_manifest(lambda m: m.update(format="something")),
                     "not a skganomaly model file"),
    "altered weights": (
        lambda e: e.update({"generator.pt": e["generator.pt"][:-9] + b"X" * 9}),
        "SHA-256 of generator.pt does not match"),
    "truncated weights": (
        lambda e: e.update({"discriminator.pt": e["discriminator.pt"][:100]}),
        "does not have the size"),
    "missing entry": (lambda e: e.pop("discriminator.pt") and None,
                      r"missing: \['discriminator.pt'\]"),
    "extra entry": (lambda e: e.update({"run.py": b"print('hi')"}),
                    r"unexpected: \['run.py'\]"),
    "manifest not JSON": (lambda e: e.update({"manifest.json": b"{not json"}),
                          "manifest cannot be read"),
    "unknown parameter": (edit_manifest(lambda m: m["params"].update(dropout=0.5)),
                          "does not have.*dropout"),
    "invalid parameter": (edit_manifest(lambda m: m["params"].update(latent_dim=-3)),
                          "parameters are invalid"),
    "NaN offset_": (edit_manifest(lambda m: m["fitted"].update(offset_="NaN")),
                    "offset_ is missing or malformed"),
    "inconsistent n_features_in_": (
        edit_manifest(lambda m: m["fitted"].update(n_features_in_=5)),
        "n_features_in_ does not match"),
    "bad scaler": (edit_manifest(lambda m: m["scaler"].update(scale=[1.0, 0.0, 1.0, 1.0])),
                   "non-positive scales"),
    "scaler of the wrong length": (edit_manifest(lambda m: m["scaler"].update(shift=[0.0])),
                                   r"input scaling \(shift\)"),
    "malformed extra attribute": (
        edit_manifest(lambda m: m["fitted"].update(extra={"x_": {"dtype": "object",
                                                                 "shape": [1],
                                                                 "data": [1]}})),
        "fitted attribute x_ is malformed"),
    "extra attribute shadowing a method": (
        edit_manifest(lambda m: m["fitted"].update(extra={"_score": 1})),
        "extra fitted attributes are malformed"),
    "weights of another architecture": (
        lambda e: replace_weights("generator", _other_generator_blob())(e),
        "generator weights do not fit"),
    "not a state dict": (
        lambda e: replace_weights("generator", _torch_bytes([1, 2, 3]))(e),
        "not a state dict of tensors"),
}


def _torch_bytes(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _other_optimizer_blob():
    other = GANomalyDetector(**{**TINY, "latent_dim": 5, "max_epochs": 1}).fit(
        np.random.RandomState(1).normal(size=(10, 4)))
    return _torch_bytes(other.net_.optimizer_.state_dict())


def _other_generator_blob():
    other = GANomalyDetector(**{**TINY, "latent_dim": 5, "max_epochs": 0}).fit(
        np.random.RandomState(1).normal(size=(10, 4)))
    return _torch_bytes(other.net_.module_.state_dict())


@pytest.mark.parametrize("case", list(REFUSED))
def test_damaged_or_forged_files_are_refused(case, saved, tmp_path):
    change, match = REFUSED[case]
    path = rewrite(saved, tmp_path / "bad.skgan", change)
    with pytest.raises(ValueError, match=match):
        GANomalyDetector.load(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", None],
                         ids=["empty", "text", "truncated zip"])
def test_non_archives_are_refused(content, saved, tmp_path):
    path = tmp_path / "bad.skgan"
    path.write_bytes(saved.read_bytes()[:200] if content is None else content)
    with pytest.raises(ValueError, match="not a skganomaly model file"):
        GANomalyDetector.load(path)


class _Payload:
    """Pickles to a call of ``open(sentinel, 'w')``: creates a file if run."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def test_code_in_a_forged_weight_file_never_runs(saved, tmp_path):
    sentinel = tmp_path / "pwned"
    forged = _torch_bytes({"encoder1.features.0.weight": _Payload(sentinel)})
    path = rewrite(saved, tmp_path / "forged.skgan", replace_weights("generator", forged))
    with pytest.raises(ValueError, match="generator weights cannot be read"):
        GANomalyDetector.load(path)
    assert not sentinel.exists()


# -- atomic writes ---------------------------------------------------------------------


def _fail_on_second_weight(monkeypatch, error):
    real = zipfile.ZipFile.writestr
    calls = []

    def writestr(self, name, data, *args, **kwargs):
        calls.append(name)
        if len(calls) == 3:  # manifest and generator written, then the failure
            raise error
        return real(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)


FAILURES = {
    "full disk mid-write": lambda mp: _fail_on_second_weight(
        mp, OSError(28, "No space left on device")),
    "KeyboardInterrupt mid-write": lambda mp: _fail_on_second_weight(
        mp, KeyboardInterrupt()),
    "fsync fails": lambda mp: mp.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error"))),
    "rename fails": lambda mp: mp.setattr(
        os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(18, "cross-device"))),
    "serialising fails": lambda mp: mp.setattr(
        torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom"))),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(
        failure, fitted, X, tmp_path, monkeypatch):
    path = tmp_path / "model.skgan"
    fitted.save(path)
    good = path.read_bytes()
    retrained = GANomalyDetector(**{**TINY, "random_state": 1}).fit(X)

    FAILURES[failure](monkeypatch)
    with pytest.raises((OSError, KeyboardInterrupt, RuntimeError)):
        retrained.save(path)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["model.skgan"]
    assert path.read_bytes() == good
    np.testing.assert_array_equal(GANomalyDetector.load(path).score_samples(X),
                                  fitted.score_samples(X))


def test_failed_first_save_leaves_nothing(fitted, tmp_path, monkeypatch):
    _fail_on_second_weight(monkeypatch, OSError(28, "No space left on device"))
    with pytest.raises(OSError):
        fitted.save(tmp_path / "model.skgan")
    assert os.listdir(tmp_path) == []


def test_save_replaces_an_existing_file(fitted, X, tmp_path):
    path = tmp_path / "model.skgan"
    GANomalyDetector(**{**TINY, "random_state": 1}).fit(X).save(path)
    assert fitted.save(path) == str(path)
    assert os.listdir(tmp_path) == ["model.skgan"]
    np.testing.assert_array_equal(GANomalyDetector.load(path).score_samples(X),
                                  fitted.score_samples(X))


# -- large fitted arrays ------------------------------------------------------


@pytest.fixture(scope="module")
def lof_saved(tmp_path_factory):
    X = np.random.RandomState(2).normal(size=(400, 4))
    det = GANomalyDetector(**{**TINY, "score_type": "latent_lof"}).fit(X)
    path = tmp_path_factory.mktemp("lof") / "lof.skgan"
    det.save(path)
    return det, path, X


def _manifest(path):
    with zipfile.ZipFile(path) as archive:
        return (json.loads(archive.read("manifest.json")), archive.namelist(),
                archive.getinfo("manifest.json").file_size)


def test_large_fitted_arrays_are_stored_as_tensors(lof_saved, tmp_path, monkeypatch):
    det, path, X = lof_saved
    codes = det.reference_codes_
    assert codes.size > _persistence.INLINE_ARRAY_MAX
    manifest, names, manifest_bytes = _manifest(path)
    assert "arrays.pt" in names
    assert manifest["fitted"]["extra"]["reference_codes_"] == {
        "file": "arrays.pt", "dtype": "float32", "shape": list(codes.shape)}
    loaded = GANomalyDetector.load(path)
    assert loaded.reference_codes_.dtype == np.float32
    np.testing.assert_array_equal(loaded.reference_codes_, codes)
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))

    # The codes as JSON numbers in the manifest would take about 20 bytes
    # per value more; small arrays are stored so, and load alike.
    monkeypatch.setattr(_persistence, "INLINE_ARRAY_MAX", 10**9)
    inline = det.save(tmp_path / "inline.skgan")
    manifest, names, inline_bytes = _manifest(inline)
    assert "arrays.pt" not in names
    assert inline_bytes > manifest_bytes + 10 * codes.size
    np.testing.assert_array_equal(GANomalyDetector.load(inline).reference_codes_, codes)


def _edit_arrays(edit):
    def change(entries):
        arrays = torch.load(io.BytesIO(entries["arrays.pt"]), weights_only=True)
        edit(arrays)
        replace_weights("arrays", _torch_bytes(arrays))(entries)
    return change


@pytest.mark.parametrize("change, match", [
    (_edit_arrays(lambda a: a.update(reference_codes_=a["reference_codes_"][:-1])),
     "reference_codes_ is missing from arrays.pt or does not have"),
    (_edit_arrays(lambda a: a.update(reference_codes_=a["reference_codes_"].double())),
     "reference_codes_ is missing from arrays.pt or does not have"),
    (_edit_arrays(lambda a: a.update(other_=torch.zeros(3))),
     r"arrays.pt holds arrays the manifest does not list: \['other_'\]"),
    (lambda e: replace_weights("arrays", _torch_bytes([1, 2]))(e),
     "arrays.pt is not a dict of tensors"),
    (lambda e: e.update({"arrays.pt": e["arrays.pt"][:-9] + b"X" * 9}),
     "SHA-256 of arrays.pt does not match"),
], ids=["shape", "dtype", "unlisted", "not a dict", "altered"])
def test_forged_arrays_are_refused(lof_saved, change, match, tmp_path):
    path = rewrite(lof_saved[1], tmp_path / "bad.skgan", change)
    with pytest.raises(ValueError, match=match):
        GANomalyDetector.load(path)
