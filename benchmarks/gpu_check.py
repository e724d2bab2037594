"""One-shot GPU check: correctness against the CPU, portability, and speed.

Meant for a lent GPU machine with a few minutes of budget. In one run it

1. fits the same detector on scikit-learn's digits on CPU (fp32) and on
   CUDA (fp32 and bf16) and compares their ROC AUCs and score ranks, with
   the default score for images (``latent_lof``) and, in fp32, with the
   paper's latent score;
2. pickles the CUDA model and scores with it in a subprocess that sees no
   GPU (``CUDA_VISIBLE_DEVICES=""``): the scores must equal the CUDA ones up
   to float tolerance; saves it (with the optimizers' state), loads it on the
   GPU and continues training one epoch: the scores must equal those of the
   unpickled model continued the same way;
3. runs ``python -m benchmarks.speed`` on CUDA (paper's networks, 1x32x32): the
   estimator against the plain loop in fp32 and bf16, then its training
   throughput by batch size and with ``compile=True``; the tables
   (``speed_cuda.*``, ``speed_cuda_sweep.*``) go to ``--out``.

Usage (on the GPU machine, from the project root)::

    python -m benchmarks.gpu_check --out "$OUT"

``--device cpu --skip-speed --tiny`` smoke-tests it without a GPU in seconds;
where the device has no native bfloat16 the bf16 fit is left out and the
summary says so (``bf16_skipped``).

Exit status 0 when every check passed; the summary is printed and written to
``<out>/gpu_check.json``.
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector

from .common import RESULTS, bf16_note, load_digits_images, one_class_split

LOAD_ON_CPU = r"""
import pickle, sys, numpy as np, torch, warnings
assert not torch.cuda.is_available()
warnings.simplefilter("ignore")
det = pickle.load(open(sys.argv[1], "rb"))
X = np.load(sys.argv[2])
np.save(sys.argv[3], det.score_samples(X))
print(det.net_.device)
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--n-train", type=int, default=16384)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--device", default="cuda",
                        help="'cpu' only to smoke-test this script without a GPU")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny networks, one epoch, no AUC threshold: to "
                             "smoke-test this script in seconds")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gpu = args.device
    if gpu.startswith("cuda"):
        assert torch.cuda.is_available(), "this script needs a CUDA device"
    summary = {"gpu": torch.cuda.get_device_name() if gpu.startswith("cuda") else None,
               "torch": torch.__version__, "checks": {},
               "bf16_skipped": bf16_note(gpu)}
    gpu_runs = [(gpu, "fp32")] + ([] if summary["bf16_skipped"] else [(gpu, "bf16")])
    if summary["bf16_skipped"]:
        print(summary["bf16_skipped"], flush=True)

    X, y = load_digits_images()
    train, test, is_anomaly = one_class_split(y, 8, seed=0)
    params = dict(random_state=0)  # the package defaults (the paper's settings)
    if args.tiny:
        params.update(latent_dim=4, n_filters=4, max_epochs=1)
    min_auc = 0.0 if args.tiny else 0.8
    results = {}
    for device, precision in [("cpu", "fp32"), *gpu_runs]:
        start = time.perf_counter()
        det = GANomalyDetector(device=device, precision=precision, **params)
        det.fit(X[train])
        scores = det.score_samples(X[test])
        results[(device, precision)] = (det, scores)
        summary["checks"][f"{device}-{precision}"] = {
            "auc": roc_auc_score(is_anomaly, -scores),
            "fit_s": time.perf_counter() - start,
            "finite": bool(np.all(np.isfinite(scores))),
        }
    cpu = results[("cpu", "fp32")][1]
    for key in gpu_runs:
        rho = spearmanr(cpu, results[key][1]).statistic
        summary["checks"][f"{key[0]}-{key[1]}"]["spearman_vs_cpu"] = rho

    # The defaults above score images with 'latent_lof' (codes computed on
    # the GPU, training rows indexed where they are kept; the LOF on the
    # CPU); the paper's latent score, computed on the GPU alone:
    latent = {device: GANomalyDetector(device=device, score_type="latent", **params)
              .fit(X[train]).score_samples(X[test]) for device in ("cpu", gpu)}
    summary["checks"]["latent"] = {
        "auc": roc_auc_score(is_anomaly, -latent[gpu]),
        "finite": bool(np.all(np.isfinite(latent[gpu]))),
        "spearman_vs_cpu": spearmanr(latent["cpu"], latent[gpu]).statistic,
    }

    # A CUDA-fitted model unpickled where no GPU exists.
    det, scores = results[(gpu, "fp32")]
    model, data, scored = out / "cuda_model.pkl", out / "X_test.npy", out / "cpu_scores.npy"
    model.write_bytes(pickle.dumps(det))
    np.save(data, X[test])
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", LOAD_ON_CPU, str(model), str(data),
                           str(scored)], env=env, capture_output=True, text=True)
    portable = proc.returncode == 0 and np.allclose(np.load(scored), scores,
                                                    rtol=1e-3, atol=1e-9)
    summary["checks"]["cuda_model_loads_on_cpu"] = {
        "ok": bool(portable), "stderr_tail": proc.stderr[-500:]}
    for path in (model, data, scored):
        path.unlink(missing_ok=True)

    # Saved with its optimizers' state and loaded on the GPU, the model
    # continues training like the unpickled one (Adam's step counts must
    # stay on the CPU for a non-capturable Adam, or the first step fails).
    saved = out / "cuda_model.skgan"
    continued = {}
    try:
        det.save(saved)
        for how, copy in [("unpickled", pickle.loads(pickle.dumps(det))),
                          ("loaded", GANomalyDetector.load(saved, device=gpu))]:
            copy.set_params(warm_start=True, max_epochs=1).fit(X[train])
            continued[how] = copy.score_samples(X[test])
        error = None
    except Exception as exc:  # noqa: BLE001 - reported in the summary
        error = repr(exc)
    finally:
        saved.unlink(missing_ok=True)
    resumes = error is None and np.allclose(continued["loaded"],
                                            continued["unpickled"],
                                            rtol=1e-3, atol=1e-9)
    summary["checks"]["loaded_model_continues_like_unpickled"] = {
        "ok": bool(resumes), "error": error}

    ok = portable and resumes and all(
        c.get("finite", True) and c.get("auc", 1) > min_auc
        and c.get("spearman_vs_cpu", 1) > 0.8
        for c in summary["checks"].values() if isinstance(c, dict))
    summary["ok"] = bool(ok)
    print(json.dumps(summary, indent=2, default=float))
    (out / "gpu_check.json").write_text(json.dumps(summary, indent=2, default=float))

    if not args.skip_speed:
        speed = [sys.executable, "-m", "benchmarks.speed",
                 "--device", gpu, "--out", "speed_cuda", "--results-dir", str(out)]
        # Estimator vs the plain loop, fp32 and bf16 (pairs, as on the CPU).
        subprocess.run([*speed, "--n-train", str(args.n_train), "--epochs", "2",
                        "--pairs", "3", "--rss-rows", "0"], check=False)
        # Throughput by batch size, and with torch.compile.
        subprocess.run([*speed, "--n-train", str(2 * args.n_train), "--epochs", "3",
                        "--sweep", "64,256,1024", "--sweep-compile", "64"],
                       check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
