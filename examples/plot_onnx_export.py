"""
===========================
Deployment: export to ONNX
===========================

:func:`skganomaly.onnx.to_onnx` turns a fitted detector, or a scikit-learn
pipeline ending in one, into one ONNX graph that
`onnxruntime <https://onnxruntime.ai>`_ runs without torch, skorch or
scikit-learn. The graph holds everything the detector does to score: its
input scaling, the resizing of images, the networks and the score with its
threshold. It outputs ``label`` (``predict``) and ``scores``
(``decision_function``), as skl2onnx's outlier detectors do.

Here the quick-start detector (digits, with smaller settings so that the
example runs in well under a minute) and a tabular pipeline are exported,
their ONNX outputs compared with the estimators', and the scoring times of
``score_samples`` and onnxruntime measured on the same rows. Needs the
``onnx`` extra: ``pip install "skganomaly[onnx]"``.
"""

# %%
# Fit the quick-start detector
# ----------------------------
# As in the quick start, the digit 8 is the anomaly and the other digits
# are normal. The default score for images is ``"latent_lof"``: the local
# outlier factor of each code among the training codes, which the graph
# computes too.
import numpy as np
from sklearn.datasets import load_digits

from skganomaly import GANomalyDetector

X, y = load_digits(return_X_y=True)
X_train, X_test = X[y != 8][:800], X[1200:]
det = GANomalyDetector(image_shape=(8, 8), latent_dim=16, n_filters=8,
                       max_epochs=2, random_state=0).fit(X_train)
print(f"score_type_={det.score_type_!r}, {len(det.reference_codes_)} reference codes")

# %%
# Export and run with onnxruntime
# -------------------------------
# ``X_train[:1]`` tells the converter the layout of the input (rows of 64
# pixels); the graph takes any number of rows, as float32.
import onnxruntime

from skganomaly.onnx import to_onnx

onx = to_onnx(det, X_train[:1])
print(f"ONNX graph: {len(onx.graph.node)} nodes, "
      f"{len(onx.SerializeToString()) / 1024:.0f} KiB, "
      f"opset {onx.opset_import[0].version}")

# As many threads as torch uses, and no busy-waiting between runs (which
# would take CPU time from torch in the timings below).
import torch

options = onnxruntime.SessionOptions()
options.intra_op_num_threads = torch.get_num_threads()
options.add_session_config_entry("session.intra_op.allow_spinning", "0")
sess = onnxruntime.InferenceSession(onx.SerializeToString(), options,
                                    providers=["CPUExecutionProvider"])
input_name = sess.get_inputs()[0].name
label, scores = sess.run(None, {input_name: X_test.astype(np.float32)})

# Both outputs have shape (n_samples, 1), as for skl2onnx's IsolationForest.
decision = det.decision_function(X_test)
print(f"largest difference of the scores: {np.abs(scores.ravel() - decision).max():.1e} "
      f"(scores range over {np.ptp(decision):.2f})")
print(f"same labels for {np.mean(label.ravel() == det.predict(X_test)):.1%} of "
      f"{len(X_test)} test images")

# %%
# A pipeline
# ----------
# Steps before the detector are converted by skl2onnx into the same graph;
# here a StandardScaler and a PCA in front of a detector on tabular rows
# (the pixel rows of the digits, read as 64 features).
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pipe = make_pipeline(StandardScaler(), PCA(n_components=20, random_state=0),
                     GANomalyDetector(latent_dim=8, n_filters=8, max_epochs=3,
                                      random_state=0)).fit(X_train)
pipe_sess = onnxruntime.InferenceSession(to_onnx(pipe, X_train[:1]).SerializeToString(),
                                         providers=["CPUExecutionProvider"])
pipe_label, pipe_scores = pipe_sess.run(None, {input_name: X_test.astype(np.float32)})
print(f"pipeline: largest difference of the scores "
      f"{np.abs(pipe_scores.ravel() - pipe.decision_function(X_test)).max():.1e}, "
      f"same labels for {np.mean(pipe_label.ravel() == pipe.predict(X_test)):.1%}")

# %%
# Scoring time
# ------------
# The same rows scored by ``score_samples`` (torch, through the estimator's
# validation and batching) and by onnxruntime, the best of a few runs each:
# one row (the latency of a single request) and batches of rows. Both use
# the same number of CPU threads; times vary between machines and with
# what else runs on them.
import time


def best_time(fn, repeat=10):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


rows = np.tile(X_test, (4, 1))  # 2388 rows
print(f"{'rows':>6} | {'score_samples (ms)':>18} | {'onnxruntime (ms)':>16} | speed-up")
for n in [1, 100, len(rows)]:
    batch = rows[:n]
    batch32 = batch.astype(np.float32)
    t_torch = best_time(lambda: det.score_samples(batch))
    t_onnx = best_time(lambda: sess.run(None, {input_name: batch32}))
    print(f"{n:>6} | {1000 * t_torch:>18.2f} | {1000 * t_onnx:>16.2f} | "
          f"{t_torch / t_onnx:>7.1f}x")
