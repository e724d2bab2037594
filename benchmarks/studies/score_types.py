"""Score types and Skip-GANomaly on scikit-learn's digits.

Protocol (``benchmarks/common.py``, the paper's): each digit in turn is the
anomaly and the nine others are normal; normal images are shuffled with the
seed, 80 % train the detector and the test set is the other 20 % plus every
image of the anomalous digit. One seed, fixed settings (the package defaults:
the paper's networks, 15 epochs, ``validation_fraction=0.1``), nothing chosen
on the test set.

For each digit and generator (``'ganomaly'``, ``'skip'``) one detector is
fitted with ``score_type='combined'``; its three scores are read from the
same fitted networks: ``latent`` and ``reconstruction`` are the raw
per-sample errors and ``combined`` is ``score_samples``. Training does not
depend on ``score_type`` (the tests check that ``'auto'`` and ``'latent'``
give bit-identical models), so this equals fitting three detectors.

Metric: ROC AUC with the anomaly as the positive class.

Usage (about 5 minutes on 2 busy CPU cores)::

    nice -n 10 python -m benchmarks.studies.score_types

writes ``benchmarks/studies/results/score_types.md``.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.metrics import roc_auc_score

import skganomaly
from skganomaly import GANomalyDetector, SkipGANomalyDetector

from ..common import STUDY_RESULTS as RESULTS, load_digits_images, one_class_split
SCORES = ("latent", "reconstruction", "combined")
GENERATORS = ("ganomaly", "skip")


def run(seed, max_epochs, threads):
    torch.set_num_threads(threads)
    X, y = load_digits_images()
    rows = []  # (digit, generator, score, auc, fit_seconds)
    for digit in range(10):
        train, test, is_anomaly = one_class_split(y, digit, seed)
        for generator in GENERATORS:
            detector = SkipGANomalyDetector if generator == "skip" else GANomalyDetector
            det = detector(score_type="combined", max_epochs=max_epochs, device="cpu",
                           random_state=seed)
            start = time.perf_counter()
            det.fit(X[train])
            seconds = time.perf_counter() - start
            errors = det._errors(X[test].reshape(len(test), -1))
            anomaly_scores = {
                "latent": errors[:, 0],
                "reconstruction": errors[:, 1],
                "combined": -det.score_samples(X[test]),
            }
            for score in SCORES:
                auc = roc_auc_score(is_anomaly, anomaly_scores[score])
                rows.append((digit, generator, score, auc, seconds))
                print(f"digit {digit} {generator:>8} {score:>14}: AUC {auc:.3f}",
                      flush=True)
    return rows


def to_markdown(rows, args, wall):
    lines = [
        "# Score types and Skip-GANomaly on digits",
        "",
        f"Command: `python -m benchmarks.studies.score_types --seed {args.seed} "
        f"--max-epochs {args.max_epochs} --threads {args.threads}`  ",
        f"skganomaly {skganomaly.__version__}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}, Python {sys.version.split()[0]}, "
        f"{platform.machine()}, CPU, {args.threads} torch thread(s); "
        f"{time.strftime('%Y-%m-%d')}; total {wall / 60:.1f} min.",
        "",
        "ROC AUC (anomaly = positive class) with each digit as the anomaly; "
        "package defaults (latent 100, 64 filters, "
        f"{args.max_epochs} epochs, `score_lambda=0.9`), seed {args.seed}, "
        "test set = 20 % held-out normal digits + all images of the anomaly. "
        "`auto` is `ganomaly/latent` and `skip/combined`.",
        "",
    ]
    header = "| digit | " + " | ".join(f"{g}/{s}" for g in GENERATORS for s in SCORES)
    lines += [header + " |", "|---" * (1 + len(GENERATORS) * len(SCORES)) + "|"]
    table = {(d, g, s): auc for d, g, s, auc, _ in rows}
    for digit in range(10):
        cells = [f"{table[digit, g, s]:.3f}" for g in GENERATORS for s in SCORES]
        lines.append(f"| {digit} | " + " | ".join(cells) + " |")
    means = [np.mean([table[d, g, s] for d in range(10)])
             for g in GENERATORS for s in SCORES]
    lines.append("| **mean** | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    fit = {g: np.mean([sec for _, gg, s, _, sec in rows if gg == g and s == SCORES[0]])
           for g in GENERATORS}
    lines += ["", "Mean fit time per detector: " + ", ".join(
        f"{g} {fit[g]:.1f} s" for g in GENERATORS) + ".", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest on a shared machine)")
    parser.add_argument("--out", default=str(RESULTS / "score_types.md"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run(args.seed, args.max_epochs, args.threads)
    text = to_markdown(rows, args, time.perf_counter() - start)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
