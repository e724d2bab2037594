"""Does per-image contrast normalisation lift the pixel peers on CIFAR-10?

On the CIFAR-10 protocol (one class anomalous, the other nine normal) every
detector of ``benchmarks.quality`` is at chance, and all of them rank the
same classes as anomalous (automobile, truck) and as normal (bird, deer):
they follow brightness and contrast, not objects. Global contrast
normalisation (each image minus its mean, divided by its standard deviation,
as in Deep SVDD's CIFAR-10 preprocessing) removes exactly those statistics.
If it helped the pixel peers, it would be a candidate input option for
GANomaly. This measures it on the same splits (seeds 0, 1, 2); there is no
model selection: each variant is fitted once with library defaults::

    python -m benchmarks.studies.cifar_contrast --data ../shared/data

prints a table and writes ``benchmarks/studies/results/cifar_contrast.md``.
"""

import argparse
import datetime
import os
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor

from ..common import DEFAULT_DATA, STUDY_RESULTS as RESULTS, cpu_model, load_cifar10, one_class_split
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
           "ship", "truck")


def contrast_normalise(X, floor=1e-3):
    """Each row minus its mean, divided by its standard deviation."""
    X = X - X.mean(axis=1, keepdims=True)
    return X / np.maximum(X.std(axis=1, keepdims=True), floor)


def detectors(seed):
    return {"LOF": LocalOutlierFactor(novelty=True),
            "IsolationForest": IsolationForest(random_state=seed)}


def run(data_dir, seeds):
    X, y = load_cifar10(data_dir)
    pixels = X.reshape(len(X), -1).astype(np.float32) / 255.0
    inputs = {"pixels": pixels, "contrast-normalised": contrast_normalise(pixels)}
    auc = {}  # (detector, input) -> array (seed, class)
    for s, seed in enumerate(seeds):
        for c in range(len(CLASSES)):
            train, test, is_anomaly = one_class_split(y, c, seed)
            for input_name, F in inputs.items():
                for name, det in detectors(seed).items():
                    det.fit(F[train])
                    key = (name, input_name)
                    auc.setdefault(key, np.zeros((len(seeds), len(CLASSES))))
                    auc[key][s, c] = roc_auc_score(is_anomaly, -det.score_samples(F[test]))
            print(f"seed {seed} {CLASSES[c]}: " + ", ".join(
                f"{n}/{i} {a[s, c]:.3f}" for (n, i), a in auc.items()), flush=True)
    return auc


def to_markdown(auc, seeds, command):
    lines = [
        "# CIFAR-10: pixel peers with and without contrast normalisation",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"command: `{command}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores; scikit-learn "
        f"{sklearn.__version__}",
        "- data: CIFAR-10 **test set, lossy JPEG copy**; each class in turn "
        f"anomalous, 80 % of the other nine classes for training; seeds {seeds}",
        "- ROC AUC (anomaly = positive class), mean over seeds; last row: mean "
        "over classes ± std of the per-seed means",
        "",
        "| class | " + " | ".join(f"{n} {i}" for n, i in auc) + " |",
        "|---|" + "---|" * len(auc),
    ]
    for c, cls in enumerate(CLASSES):
        lines.append(f"| {cls} | " + " | ".join(
            f"{a[:, c].mean():.3f}" for a in auc.values()) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"**{a.mean():.3f}** ± {a.mean(axis=1).std():.3f}" for a in auc.values())
        + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=RESULTS / "cifar_contrast.md")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    auc = run(args.data, seeds)
    command = " ".join(["python -m benchmarks.studies.cifar_contrast", *sys.argv[1:]])
    report = to_markdown(auc, seeds, command)
    print(report)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
