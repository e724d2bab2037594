"""ONNX export (skganomaly.onnx): onnxruntime's label and scores against
predict and decision_function, for both detectors, every score type and
every input layout; skl2onnx's conventions; refusals."""

import importlib
import pathlib
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skganomaly import GANomalyDetector, SkipGANomalyDetector
from skganomaly._device import bf16_supported

onnx = pytest.importorskip("onnx")
rt = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
sko = pytest.importorskip("skganomaly.onnx")

DETECTORS = {"ganomaly": GANomalyDetector, "skip": SkipGANomalyDetector}
SCORE_TYPES = ["latent", "reconstruction", "combined", "latent_lof"]
# fp32 whatever the CPU: on one with native bf16, precision="auto" would score
# images in bfloat16, and the graph holds the fp32 networks (bf16 models are
# tested on their own below).
TINY = dict(latent_dim=3, n_filters=2, max_epochs=1, batch_size=16, random_state=0,
            precision="fp32")


def run(onx, X):
    """``(label, scores)`` of the graph, flattened from ``(N, 1)``."""
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    label, scores = sess.run(None, {sess.get_inputs()[0].name: X.astype(np.float32)})
    assert label.dtype == np.int64 and label.shape == (len(X), 1)
    assert scores.dtype == np.float32 and scores.shape == (len(X), 1)
    return label.ravel(), scores.ravel()


def assert_agrees(model, onx, X):
    """Scores equal decision_function to 1e-4 relative (relative to the
    magnitudes whose difference it is: score_samples and offset_), labels
    equal predict except within 1e-5 of the threshold."""
    label, scores = run(onx, X)
    detector = model[-1] if hasattr(model, "steps") else model
    decision = model.decision_function(X)
    scale = max(np.abs(model.score_samples(X)).max(), abs(detector.offset_), 1e-12)
    np.testing.assert_allclose(scores, decision, rtol=1e-4, atol=1e-4 * scale)
    clear = np.abs(decision) > 1e-5 * max(scale, 1.0)
    np.testing.assert_array_equal(label[clear], model.predict(X)[clear])
    assert set(np.unique(label)) <= {-1, 1}


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.RandomState(0)
    X = rng.normal(loc=50.0, scale=[1.0, 10.0, 100.0, 0.1, 5.0], size=(60, 5))
    X_new = np.vstack([X[:5], rng.normal(loc=50.0, scale=50.0, size=(20, 5))])
    return X, X_new


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(1)
    X = rng.rand(40, 1, 7, 6) * 255
    return X, np.vstack([X[:4], rng.rand(9, 1, 7, 6) * 255])


# -- what the issue asks for, one by one ---------------------------------------------


def test_tabular_pipeline_round_trips(tabular):
    X, X_new = tabular
    pipe = make_pipeline(StandardScaler(), GANomalyDetector(**TINY)).fit(X)
    onx = sko.to_onnx(pipe, X[:1])
    assert [o.name for o in onx.graph.output] == ["label", "scores"]
    assert onx.graph.input[0].name == "X"
    assert_agrees(pipe, onx, X_new)
    # skl2onnx converts the detector too once skganomaly.onnx is imported
    # (a float64 X makes a double graph; its scores cast to float32 here).
    direct = skl2onnx.to_onnx(pipe, X[:1].astype(np.float32),
                              target_opset={"": 17, "ai.onnx.ml": 3})
    assert_agrees(pipe, direct, X_new)


@pytest.mark.parametrize("params", [{}, {"score_type": "latent"}],
                         ids=["latent_lof_default", "latent"])
def test_image_detector_round_trips(images, params):
    X, X_new = images
    det = GANomalyDetector(**TINY, **params).fit(X)
    assert det.score_type_ == params.get("score_type", "latent_lof")
    assert det.net_.image_size is not None  # 7x6 images are enlarged to 16
    assert_agrees(det, sko.to_onnx(det, X[:1]), X_new)


def test_skip_combined_round_trips(images):
    X, X_new = images
    det = SkipGANomalyDetector(**TINY).fit(X)
    assert det.score_type_ == "combined"
    assert_agrees(det, sko.to_onnx(det, X[:1]), X_new)


def _layout(kind, X):
    if kind == "tabular" or kind == "4-D":
        return X
    return X.reshape(len(X), -1) if kind == "flat" else X[:, 0]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(generator=st.sampled_from(sorted(DETECTORS)), kind=st.sampled_from(SCORE_TYPES),
       layout=st.sampled_from(["tabular", "flat", "3-D", "4-D"]),
       height=st.integers(2, 9), width=st.integers(2, 9), channels=st.integers(1, 3),
       n_new=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_scores_agree_for_every_detector_score_type_shape_and_batch(
        generator, kind, layout, height, width, channels, n_new, seed):
    rng = np.random.RandomState(seed)
    channels = 1 if layout == "3-D" else channels
    shape = (height,) if layout == "tabular" else (channels, height, width)
    X = rng.normal(size=(24, *shape)) * 3 + 1
    params = dict(TINY, score_type=kind)
    if layout == "flat":
        params["image_shape"] = shape
    det = DETECTORS[generator](**params).fit(_layout(layout, X))
    X_new = _layout(layout, np.concatenate([X[:3], rng.normal(size=(n_new, *shape)) * 4]))
    onx = sko.to_onnx(det, X_new[:1])
    # One graph for any batch size.
    assert_agrees(det, onx, X_new)
    assert_agrees(det, onx, X_new[:1])


def test_steps_skl2onnx_converts_come_into_the_same_graph(tabular):
    X, X_new = tabular
    columns = ColumnTransformer([("scaled", StandardScaler(), [0, 1, 2]),
                                 ("kept", "passthrough", [3, 4])])
    pipe = make_pipeline(columns, PCA(n_components=4),
                         SkipGANomalyDetector(**TINY, score_type="latent_lof")).fit(X)
    onx = sko.to_onnx(pipe, X[:1])
    assert "TopK" in {node.op_type for node in onx.graph.node}  # the LOF's
    assert_agrees(pipe, onx, X_new)


@pytest.mark.parametrize("opset", [sko.MIN_OPSET, 17, sko.MAX_OPSET, None])
def test_supported_opsets(tabular, opset):
    X, X_new = tabular
    det = GANomalyDetector(**TINY, score_type="latent_lof").fit(X)
    onx = sko.to_onnx(det, X[:1], target_opset=opset)
    declared = next(o.version for o in onx.opset_import if o.domain == "")
    assert declared <= (sko.DEFAULT_OPSET if opset is None else opset)
    assert_agrees(det, onx, X_new)


def test_bf16_models_export_float32_graphs(images):
    X, X_new = images
    if bf16_supported("cpu"):
        det = GANomalyDetector(**{**TINY, "precision": "bf16"}).fit(X)
        det.net_.precision = "fp32"  # its weights scored in fp32, for reference
        expected = det.decision_function(X_new)
        det.net_.precision = "bf16"
    else:
        # No native bf16 here: fake a bf16-trained model as fit leaves one
        # (bf16 autocast, channels_last image networks, float32 weights).
        det = GANomalyDetector(**TINY).fit(X)
        expected = det.decision_function(X_new)
        det.precision_ = det.net_.precision = "bf16"
        det.net_.module_.to(memory_format=torch.channels_last)
        det.net_.discriminator_.to(memory_format=torch.channels_last)
    onx = sko.to_onnx(det, X[:1])
    allowed = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.INT64}
    assert {t.data_type for t in onx.graph.initializer} <= allowed
    assert all(n.attribute[0].i != onnx.TensorProto.BFLOAT16
               for n in onx.graph.node if n.op_type == "Cast")
    _, scores = run(onx, X_new)
    np.testing.assert_allclose(scores, expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
    assert det.precision_ == "bf16"


def test_saved_and_loaded_latent_lof_model_exports_the_same_graph(images, tmp_path):
    X, X_new = images
    det = GANomalyDetector(**TINY).fit(X)
    loaded = GANomalyDetector.load(det.save(tmp_path / "m.skgan"))
    np.testing.assert_array_equal(run(sko.to_onnx(loaded, X[:1]), X_new)[1],
                                  run(sko.to_onnx(det, X[:1]), X_new)[1])


# -- refusals ------------------------------------------------------------------------


def test_unfitted_models_are_refused(tabular):
    X, _ = tabular
    with pytest.raises(NotFittedError, match="to_onnx exports fitted models.*fit"):
        sko.to_onnx(GANomalyDetector(), X[:1])
    pipe = make_pipeline(StandardScaler(), GANomalyDetector(**TINY))
    with pytest.raises(NotFittedError, match="Pipeline first"):
        sko.to_onnx(pipe, X[:1])


def test_other_models_are_refused(tabular):
    X, _ = tabular
    with pytest.raises(TypeError, match="GANomalyDetector.*StandardScaler"):
        sko.to_onnx(StandardScaler().fit(X), X[:1])


def _shift(X):
    return X + 1.0


def test_a_step_skl2onnx_cannot_convert_is_named(tabular):
    X, _ = tabular
    pipe = make_pipeline(StandardScaler(), FunctionTransformer(_shift),
                         GANomalyDetector(**TINY)).fit(X)
    with pytest.raises(ValueError, match=r"step 1 \('functiontransformer', "
                                         r"FunctionTransformer\).*skl2onnx"):
        sko.to_onnx(pipe, X[:1])


@pytest.mark.parametrize("opset", [sko.MIN_OPSET - 1, sko.MAX_OPSET + 1, "17"])
def test_unsupported_opsets_are_refused(tabular, opset):
    X, _ = tabular
    det = GANomalyDetector(**TINY).fit(X)
    with pytest.raises(ValueError, match=f"opsets {sko.MIN_OPSET} to {sko.MAX_OPSET}"):
        sko.to_onnx(det, X[:1], target_opset=opset)


def test_another_layout_than_the_fitted_one_is_refused(images):
    X, _ = images
    det = GANomalyDetector(**TINY, score_type="latent").fit(X)
    with pytest.raises(ValueError, match=r"shape \(1, 7, 6\).*\(N, 42\)"):
        sko.to_onnx(det, X[:1, :, :6])
    with pytest.raises(ValueError, match="layout used in fit"):
        sko.to_onnx(det, X[0, 0, 0])


def test_without_the_extra_the_import_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    monkeypatch.delitem(sys.modules, "skganomaly.onnx")
    with pytest.raises(ImportError, match=r'pip install "skganomaly\[onnx\]"'):
        importlib.import_module("skganomaly.onnx")


def test_the_estimator_modules_do_not_import_onnx():
    package = pathlib.Path(sko.__file__).parent
    for path in package.rglob("*.py"):
        if path.name != "onnx.py":
            text = path.read_text()
            assert "import onnx" not in text and "skl2onnx" not in text, path
