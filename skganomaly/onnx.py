"""Export fitted detectors to ONNX, through skl2onnx.

:func:`to_onnx` converts a fitted :class:`~skganomaly.GANomalyDetector` or
:class:`~skganomaly.SkipGANomalyDetector`, or a scikit-learn
:class:`~sklearn.pipeline.Pipeline` ending in one, into one ONNX graph with
skl2onnx's outputs of outlier detectors: ``label`` (int64, +1 inlier / -1
outlier, as ``predict``) and ``scores`` (``decision_function``), both of
shape ``(n_samples, 1)`` as skl2onnx's ``IsolationForest`` converter gives
them. Importing this module registers a converter for both detector
classes with :func:`skl2onnx.update_registered_converter`, so that
``skl2onnx.to_onnx`` and ``skl2onnx.convert_sklearn`` convert them too,
inside any pipeline whose other steps skl2onnx converts.

The detector's part of the graph is its scoring path in torch, exported
with :func:`torch.onnx.export` (evaluation mode, the weights scoring uses,
float32 networks even for a model trained in bfloat16):

- the input scaling learned in ``fit`` (in float64, clipped as in
  :class:`~skganomaly._data.InputScaler`) and the image layout;
- the resizing of images to the networks' working size and back (as
  matrix products equal to the estimator's bilinear and area resizing);
- the generator (and, for Skip-GANomaly's latent error, the
  discriminator), with the padding of images inside the modules;
- the score of ``score_type_``: the ``[latent, reconstruction]`` errors and
  their weights, or the local outlier factor of the codes among
  ``reference_codes_`` (:class:`~skganomaly._scores.LatentLOF`: distances,
  top-k, reachability and ratio as float64 tensor operations);
- the threshold: ``scores = score_samples - offset_``, ``label = -1``
  where ``scores < 0``.

This module needs the ``onnx`` extra: ``pip install "skganomaly[onnx]"``
(onnx, skl2onnx and onnxruntime to run the graphs).
"""

import copy
import io
import warnings

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import NotFittedError, check_is_fitted
from torch import nn

try:
    import onnx
    import skl2onnx
    from onnx import helper
    from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType,
                                            Int64TensorType, guess_data_type)
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skganomaly.onnx needs onnx and skl2onnx (and onnxruntime to run the "
        "exported graphs): pip install \"skganomaly[onnx]\"") from exc

from ._base import BaseGANomaly
from ._data import CLIP
from ._device import inner_module
from ._ganomaly import GANomalyDetector
from ._skip_ganomaly import SkipGANomalyDetector

__all__ = ["to_onnx"]

#: Opsets of the default ONNX domain a graph can target. Below 13 some
#: operators the networks need (Pad with a runtime value, ReduceSum with
#: axes as an input) have other signatures; above skl2onnx's latest tested
#: opset its converters are untested.
MIN_OPSET = 13
MAX_OPSET = int(skl2onnx.get_latest_tested_opset_version())

#: The newest opset torch's TorchScript-based exporter writes. Targets above
#: it get the networks at this opset: the operators used changed in later
#: opsets only by supporting more element types.
TORCH_MAX_OPSET = 20

#: The opset ``target_opset=None`` stands for: the one the networks are
#: exported at, so that nothing in the graph needs a newer runtime than they do.
DEFAULT_OPSET = min(MAX_OPSET, TORCH_MAX_OPSET)

#: ``ai.onnx.ml`` domain versions by the first default-domain opset that
#: comes with them (ONNX's release table): skl2onnx's ML operators (in
#: StandardScaler and other steps) are written at the version matching the
#: target opset.
_ML_OPSETS = {1: 11, 2: 15, 3: 18}

#: Name of the graph's input for a single array (skl2onnx's own choice).
INPUT_NAME = "X"


# -- the detector's scoring path in torch ------------------------------------------


def _resize_matrix(n_in, n_out, enlarge):
    """``(n_out, n_in)`` matrix of a 1-D resize: ``M @ v`` resizes ``v``
    like :func:`~skganomaly.networks.resize_images` does along one axis
    (bilinear when enlarging, averages over areas when shrinking; both are
    separable, so two products resize an image)."""
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 1, n_in)
    if enlarge:
        rows = nn.functional.interpolate(basis, size=n_out, mode="linear",
                                         align_corners=False)
    else:
        rows = nn.functional.interpolate(basis, size=n_out, mode="area")
    return rows.reshape(n_in, n_out).T.float().contiguous()


def _scoring_copy(module):
    """A float32, CPU, evaluation-mode copy of a fitted network (compiled,
    data-parallel and bfloat16 ``channels_last`` models included)."""
    module = getattr(inner_module(module), "_orig_mod", inner_module(module))
    module = copy.deepcopy(module).cpu().float().eval()
    return module.to(memory_format=torch.contiguous_format)


class _ScoringGraph(nn.Module):
    """``x`` (float64 rows as given) -> ``(label, decision)``, what
    ``predict`` and ``decision_function`` compute, as one torch module."""

    def __init__(self, detector):
        super().__init__()
        net = detector.net_
        scaler = detector._scaler
        self.sample_shape = tuple(detector.sample_shape_)
        self.is_image = len(self.sample_shape) == 3
        self.register_buffer("shift", torch.as_tensor(scaler.shift_, dtype=torch.float64))
        self.register_buffer("scale", torch.as_tensor(scaler.scale_, dtype=torch.float64))
        self.generator = _scoring_copy(net.module_)
        self.kind = detector.score_type_
        self.offset = float(detector.offset_)
        self.resize = self.is_image and net.image_size is not None
        if self.resize:
            (height, width), work = self.sample_shape[1:], tuple(net.image_size)
            self.register_buffer("up_h", _resize_matrix(height, work[0], True))
            self.register_buffer("up_w", _resize_matrix(width, work[1], True))
            self.register_buffer("down_h", _resize_matrix(work[0], height, False))
            self.register_buffer("down_w", _resize_matrix(work[1], width, False))
        if self.kind == "latent_lof":
            self.lof = copy.deepcopy(detector._latent_lof()).cpu()
            return
        self.weights = [float(w) for w in detector.score_weights_]
        self.center = [float(c) for c in detector.score_center_]
        self.spread = [float(s) for s in detector.score_scale_]
        # Skip-GANomaly's latent error compares discriminator features.
        self.discriminator = (_scoring_copy(net.discriminator_)
                              if isinstance(detector, SkipGANomalyDetector)
                              and self.weights[0] != 0 else None)

    def _scaled(self, x):
        """The estimator's input scaling: float64, clipped, then float32."""
        n = x.shape[0]
        if self.is_image:
            x = x.reshape(n, self.sample_shape[0], -1)
        x = torch.clamp((x - self.shift) / self.scale, -CLIP, CLIP)
        return x.float().reshape(n, *self.sample_shape)

    def _latent_error(self, x, x_hat, z, z_hat):
        if self.discriminator is not None:
            _, real = self.discriminator(x)
            _, fake = self.discriminator(x_hat)
            z, z_hat = real, fake
        return (z.double() - z_hat.double()).pow(2).flatten(1).mean(dim=1)

    def _error_score(self, x_in, x):
        """``score_type_`` of the ``[latent, reconstruction]`` errors."""
        x_hat, z, z_hat = self.generator(x)
        score = torch.zeros_like(x_in.flatten(1)[:, 0], dtype=torch.float64)
        if self.weights[0] != 0:
            error = self._latent_error(x, x_hat, z, z_hat)
            score = score + self.weights[0] * ((error - self.center[0]) / self.spread[0])
        if self.weights[1] != 0:
            if self.resize:  # the error at the size of the samples given
                x_hat = self.down_h @ x_hat @ self.down_w.T
            error = (x_in.double() - x_hat.double()).abs().flatten(1).mean(dim=1)
            score = score + self.weights[1] * ((error - self.center[1]) / self.spread[1])
        return score

    def forward(self, x):
        x_in = self._scaled(x)
        x = self.up_h @ x_in @ self.up_w.T if self.resize else x_in
        if self.kind == "latent_lof":
            score = self.lof(self.generator.encode(x).float().flatten(1))
        else:
            score = self._error_score(x_in, x)
        decision = -score - self.offset
        label = torch.where(decision < 0, -1, 1).to(torch.int64)
        return label.unsqueeze(1), decision.unsqueeze(1)


def _export_graph(detector, in_shape, opset):
    """The detector's scoring graph for inputs of per-sample shape
    ``in_shape``, exported by torch (an :class:`onnx.GraphProto`)."""
    module = _ScoringGraph(detector).eval()
    example = torch.zeros((2, *in_shape), dtype=torch.float64)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The exporter warns about its own deprecation and about traced
        # shapes; the batch dimension is declared dynamic below.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False,
                          opset_version=min(opset, TORCH_MAX_OPSET),
                          input_names=["x"], output_names=["label", "scores"],
                          dynamic_axes={name: {0: "N"} for name in ("x", "label",
                                                                    "scores")},
                          do_constant_folding=True)
    return onnx.load_from_string(buffer.getvalue()).graph


# -- the skl2onnx converter ----------------------------------------------------------


def _input_shape(detector, variable):
    """Per-sample shape of the converter's input: as declared when fully
    known and of the fitted size, else the flat rows the detector takes."""
    dims = list(variable.type.shape)[1:]
    n_features = int(detector.n_features_in_)
    if not dims or not all(isinstance(d, (int, np.integer)) for d in dims):
        return (n_features,)
    dims = tuple(int(d) for d in dims)
    image = detector.sample_shape_
    accepted = [(n_features,)]
    if len(image) == 3:
        accepted += [tuple(image)] + ([tuple(image[1:])] if image[0] == 1 else [])
    if dims not in accepted:
        raise ValueError(
            f"{type(detector).__name__} receives inputs of shape (N, "
            f"{', '.join(map(str, dims))}) in this graph, but it was fitted on "
            f"samples of shape {tuple(image)}; it accepts "
            f"{' or '.join('(N, ' + ', '.join(map(str, a)) + ')' for a in accepted)}. "
            "Pass to_onnx an X of the layout used in fit.")
    return dims


def _detector_output_shapes(operator):
    """skl2onnx shape calculator: ``label`` int64 and ``scores`` of the
    input's float type, both ``(N, 1)`` (as for ``IsolationForest``)."""
    variable = operator.inputs[0]
    if not isinstance(variable.type, (FloatTensorType, DoubleTensorType)):
        raise TypeError(
            f"{type(operator.raw_operator).__name__} converts float or double "
            f"inputs, got {type(variable.type).__name__}: cast the input "
            "(X.astype(np.float32)) or the step before it to floats.")
    n = variable.get_first_dimension()
    operator.outputs[0].type = Int64TensorType([n, 1])
    operator.outputs[1].type = type(variable.type)([n, 1])


def _convert_detector(scope, operator, container):
    """skl2onnx converter: the detector's scoring graph, exported by torch
    and spliced in between the operator's input and outputs."""
    detector = operator.raw_operator
    opset = _check_opset(container.target_opset)
    graph = _export_graph(detector, _input_shape(detector, operator.inputs[0]), opset)
    source = operator.inputs[0]
    if not isinstance(source.type, DoubleTensorType):
        # The scaling runs in float64, as in the estimator.
        name = scope.get_unique_variable_name(f"{source.onnx_name}_double")
        container.add_node("Cast", [source.onnx_name], [name],
                           name=scope.get_unique_operator_name("Cast"),
                           to=onnx.TensorProto.DOUBLE)
    else:
        name = source.onnx_name
    scores = scope.get_unique_variable_name("decision_double")
    _splice(graph, scope, container, {"x": name, "label": operator.outputs[0].onnx_name,
                                      "scores": scores}, min(opset, TORCH_MAX_OPSET))
    to = (onnx.TensorProto.DOUBLE if isinstance(operator.outputs[1].type, DoubleTensorType)
          else onnx.TensorProto.FLOAT)
    container.add_node("Cast", [scores], [operator.outputs[1].onnx_name],
                       name=scope.get_unique_operator_name("Cast"), to=to)


def _splice(graph, scope, container, names, opset):
    """Add ``graph``'s initializers and nodes to skl2onnx's container, its
    inputs and outputs renamed by ``names`` and every other name made unique
    in the whole model (a pipeline may hold several detectors)."""
    renamed = dict(names)

    def rename(name):
        if name and name not in renamed:
            renamed[name] = scope.get_unique_variable_name(f"ganomaly_{name}")
        return renamed.get(name, name)

    for tensor in graph.initializer:
        container.add_initializer(rename(tensor.name), tensor.data_type,
                                  list(tensor.dims), tensor)
    for node in graph.node:
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for a in node.attribute):  # pragma: no cover - not in these networks
            raise NotImplementedError(f"{node.op_type} with a subgraph cannot be spliced.")
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = list(node.input)
        while inputs and not inputs[-1]:
            # Omitted optional inputs (Clip without max): skl2onnx's sorting
            # of the nodes takes "" for a missing variable; ONNX allows
            # leaving trailing ones out.
            inputs.pop()
        container.add_node(node.op_type, [rename(i) for i in inputs],
                           [rename(o) for o in node.output], op_domain=node.domain,
                           op_version=opset,
                           name=scope.get_unique_operator_name(f"ganomaly_{node.op_type}"),
                           **attributes)


for _cls in (GANomalyDetector, SkipGANomalyDetector):
    skl2onnx.update_registered_converter(
        _cls, f"Skganomaly{_cls.__name__}", _detector_output_shapes, _convert_detector)


# -- to_onnx -------------------------------------------------------------------------


def _check_opset(opset):
    """The default-domain opset ``opset`` (an int), refused outside the
    supported range."""
    if not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f"target_opset={opset!r} is not supported: skganomaly exports "
            f"detectors to ONNX opsets {MIN_OPSET} to {MAX_OPSET} of the "
            "default domain (the networks with torch's exporter, at most "
            f"opset {TORCH_MAX_OPSET}). Pass target_opset in that range, or "
            f"None for {DEFAULT_OPSET}.")
    return int(opset)


def _final_detector(model):
    """The detector ``model`` is or ends in; TypeError otherwise."""
    detector = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not isinstance(detector, BaseGANomaly):
        where = " as the last step" if detector is not model else ""
        raise TypeError(
            "to_onnx exports a fitted GANomalyDetector or SkipGANomalyDetector, "
            f"or a Pipeline ending in one; got {type(detector).__name__}{where}. "
            "For other scikit-learn models use skl2onnx.to_onnx.")
    return detector


def _check_fitted(model, detector):
    try:
        check_is_fitted(detector)
        if isinstance(model, Pipeline):
            for name, step in model.steps[:-1]:
                if step not in (None, "passthrough"):
                    check_is_fitted(step)
    except NotFittedError as exc:
        raise NotFittedError(
            f"to_onnx exports fitted models: {exc} Call fit(X) on the "
            f"{type(model).__name__} first, then export it.") from exc


def _initial_types(X):
    """skl2onnx's input declaration for ``X``: one float32 tensor named
    ``X`` with a dynamic batch dimension (per-column inputs for a
    DataFrame, its float64 columns declared float32)."""
    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        return [(name, FloatTensorType(kind.shape) if isinstance(kind, DoubleTensorType)
                 else kind) for name, kind in guess_data_type(X)]
    X = np.asarray(X)
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"to_onnx needs X of the layout used in fit: 2-D rows, or a 3-D or "
            f"4-D stack of images; got an array of {X.ndim} dimension(s).")
    return [(INPUT_NAME, FloatTensorType([None, *X.shape[1:]]))]


def _failing_step(model, X, opset):
    """When skl2onnx cannot convert a pipeline, a ValueError naming the
    step it fails on (converted alone, on its input); None if every step
    converts alone."""
    X_step = X
    for index, (name, step) in enumerate(model.steps[:-1]):
        if step in (None, "passthrough"):
            continue
        try:
            skl2onnx.convert_sklearn(step, initial_types=_initial_types(X_step),
                                     target_opset=_target_opset(opset))
        except Exception as step_exc:  # noqa: BLE001 - reported with its message
            return ValueError(
                f"skl2onnx cannot convert step {index} ({name!r}, "
                f"{type(step).__name__}) of the pipeline: {step_exc} Replace that "
                "step with one skl2onnx converts (see skl2onnx's list of "
                "supported scikit-learn models), register a converter for it, "
                "or apply it before the pipeline.")
        X_step = step.transform(X_step)
    return None


def _target_opset(opset):
    ml = max(v for v, first in _ML_OPSETS.items() if first <= opset)
    return {"": opset, "ai.onnx.ml": ml}


def to_onnx(model, X, *, target_opset=None):
    """Convert a fitted detector, or a pipeline ending in one, to ONNX.

    Parameters
    ----------
    model : GANomalyDetector, SkipGANomalyDetector or Pipeline
        A fitted detector, or a fitted :class:`~sklearn.pipeline.Pipeline`
        whose last step is one and whose other steps skl2onnx converts
        (StandardScaler, PCA, ColumnTransformer, ...).
    X : array-like or DataFrame
        A few samples in the layout the model was fitted on (``X[:1]``
        will do): 2-D rows (flattened images included), or 3-D ``(N, H,
        W)`` or 4-D ``(N, C, H, W)`` images. Only their shape and kind are
        used: the graph takes one float32 input ``"X"`` of that shape with
        any number of samples (a DataFrame gives one input per column, as
        in skl2onnx).
    target_opset : int, default=None
        Opset of the default ONNX domain, from ``MIN_OPSET`` (13) to
        ``MAX_OPSET`` (skl2onnx's newest tested opset, 22 for skl2onnx
        1.20); ``None`` is ``DEFAULT_OPSET`` (20, the newest torch's
        exporter writes the networks in).

    Returns
    -------
    onx : onnx.ModelProto
        The graph, with outputs ``label`` (int64, shape ``(N, 1)``: +1 for
        inliers, -1 for outliers, as ``predict``) and ``scores`` (float32,
        shape ``(N, 1)``: ``decision_function``). Run it with
        ``onnxruntime.InferenceSession(onx.SerializeToString())``.

    Raises
    ------
    TypeError
        If ``model`` is not a detector or a pipeline ending in one.
    sklearn.exceptions.NotFittedError
        If ``model`` (or a step of it) is not fitted.
    ValueError
        If ``target_opset`` is outside the supported range, ``X`` has
        another layout than the fitted one, or skl2onnx cannot convert a
        step of the pipeline (the message names the step).

    Notes
    -----
    The networks run in float32, as the estimator scores in fp32: scores
    agree with ``decision_function`` to float32 rounding (about 1e-6
    relative). A model trained with ``precision="bf16"`` exports float32
    networks too; its ONNX scores are those of its weights in fp32 and
    differ from its bfloat16 scores by bfloat16's rounding. Importing this
    module also lets ``skl2onnx.to_onnx`` convert the detectors.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skganomaly import GANomalyDetector
    >>> from skganomaly.onnx import to_onnx
    >>> X = np.random.RandomState(0).normal(size=(100, 4))
    >>> det = GANomalyDetector(latent_dim=2, n_filters=4, max_epochs=1,
    ...                        random_state=0).fit(X)
    >>> onx = to_onnx(det, X[:1])
    >>> sess = onnxruntime.InferenceSession(onx.SerializeToString())
    >>> label, scores = sess.run(None, {"X": X[:3].astype(np.float32)})
    >>> bool((label.ravel() == det.predict(X[:3])).all())
    True
    >>> bool(np.allclose(scores.ravel(), det.decision_function(X[:3]), atol=1e-5))
    True
    """
    detector = _final_detector(model)
    _check_fitted(model, detector)
    opset = _check_opset(DEFAULT_OPSET if target_opset is None else target_opset)
    initial_types = _initial_types(X)
    try:
        return skl2onnx.convert_sklearn(model, initial_types=initial_types,
                                        target_opset=_target_opset(opset))
    except Exception as exc:
        refusal = (_failing_step(model, X, opset)
                   if isinstance(model, Pipeline) else None)
        if refusal is not None:
            raise refusal from exc
        raise
