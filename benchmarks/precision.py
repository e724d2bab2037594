"""Does bf16 cost accuracy? ROC AUC of fp32 vs bf16 on the same splits.

Digits: every digit in turn is the anomaly (8x8 images, the estimator's
defaults). MNIST (reduced so that it runs on two CPU cores): a few anomaly
digits, a capped number of training images, fewer epochs. Same seeds, same
splits, fixed settings; the test split only evaluates.

Where the device has no native bfloat16 the bf16 fits are left out (the
estimator refuses bf16 there): the tables then hold fp32 only, and say so.

Usage::

    python -m benchmarks.precision --data ../shared/data
    python -m benchmarks.precision --mnist-digits 0,1,2,3,4,5,6,7,8,9 --mnist-train 8000

Writes ``benchmarks/results/precision_<device>.{csv,md,rst}``.
"""

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector

from .common import (
    DEFAULT_DATA,
    RESULTS,
    bf16_note,
    header_lines,
    load_digits_images,
    load_mnist,
    machine_info,
    one_class_split,
)


def run(suite, X, y, anomalies, seeds, params, device, n_train_cap=None,
        precisions=("fp32", "bf16")):
    rows = []
    for anomaly in anomalies:
        for seed in seeds:
            train, test, is_anomaly = one_class_split(y, anomaly, seed)
            if n_train_cap:
                train = train[:n_train_cap]
            for precision in precisions:
                det = GANomalyDetector(precision=precision, device=device,
                                       random_state=seed, **params)
                start = time.perf_counter()
                det.fit(X[train])
                fit_s = time.perf_counter() - start
                auc = roc_auc_score(is_anomaly, -det.score_samples(X[test]))
                rows.append(dict(suite=suite, anomaly=anomaly, seed=seed,
                                 precision=det.precision_, auc=auc, fit_s=fit_s))
                print(f"{suite} anomaly={anomaly} seed={seed} {det.precision_}: "
                      f"AUC {auc:.3f} fit {fit_s:.1f}s", flush=True)
    return rows


def summary(rows):
    lines = ["| suite | fp32 mean AUC | bf16 mean AUC | bf16 - fp32 | "
             "max abs per-task diff | fp32 fit s | bf16 fit s |",
             "|---|---|---|---|---|---|---|"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        sub = [r for r in rows if r["suite"] == suite]
        a32 = np.array([r["auc"] for r in sub if r["precision"] == "fp32"])
        a16 = np.array([r["auc"] for r in sub if r["precision"] == "bf16"])
        t32 = sum(r["fit_s"] for r in sub if r["precision"] == "fp32")
        t16 = sum(r["fit_s"] for r in sub if r["precision"] == "bf16")
        if len(a16):
            lines.append(f"| {suite} | {a32.mean():.4f} | {a16.mean():.4f} | "
                         f"{a16.mean() - a32.mean():+.4f} | "
                         f"{np.abs(a16 - a32).max():.4f} | {t32:.0f} | {t16:.0f} |")
        else:
            lines.append(f"| {suite} | {a32.mean():.4f} | skipped | | | {t32:.0f} | |")
    return "\n".join(lines)


def summary_rst(rows):
    lines = [".. list-table::", "   :header-rows: 1", "",
             "   * - suite", "     - fp32 mean AUC", "     - bf16 mean AUC",
             "     - bf16 - fp32", "     - largest per-task difference",
             "     - tasks x seeds"]
    for suite in dict.fromkeys(r["suite"] for r in rows):
        sub = [r for r in rows if r["suite"] == suite]
        a32 = np.array([float(r["auc"]) for r in sub if r["precision"] == "fp32"])
        a16 = np.array([float(r["auc"]) for r in sub if r["precision"] == "bf16"])
        if len(a16):
            lines += [f"   * - {suite}", f"     - {a32.mean():.4f}",
                      f"     - {a16.mean():.4f}", f"     - {a16.mean() - a32.mean():+.4f}",
                      f"     - {np.abs(a16 - a32).max():.4f}", f"     - {len(a32)}"]
        else:
            lines += [f"   * - {suite}", f"     - {a32.mean():.4f}", "     - skipped",
                      "     -", "     -", f"     - {len(a32)}"]
    return "\n".join(lines) + "\n"


def render(csv_path):
    """Write the .rst table of an earlier run from its CSV."""
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    Path(csv_path).with_suffix(".rst").write_text(summary_rst(rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--mnist-digits", default="0,1,7")
    parser.add_argument("--mnist-train", type=int, default=2000)
    parser.add_argument("--mnist-epochs", type=int, default=5)
    parser.add_argument("--params", default="{}",
                        help="JSON of estimator settings for every fit (e.g. "
                             "'{\"latent_dim\": 4}'; recorded in the results)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--render", default=None, metavar="CSV",
                        help="only write the .rst table of an earlier run")
    args = parser.parse_args(argv)
    if args.render:
        render(args.render)
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    params = json.loads(args.params)
    skipped = bf16_note(args.device)
    precisions = ("fp32",) if skipped else ("fp32", "bf16")
    if skipped:
        print(skipped, flush=True)

    rows = []
    X, y = load_digits_images()
    rows += run("digits", X, y, [int(d) for d in args.digits.split(",")], seeds,
                params, args.device, precisions=precisions)
    if args.mnist_digits:
        X, y = load_mnist(args.data)
        rows += run("mnist (reduced)", X, y,
                    [int(d) for d in args.mnist_digits.split(",")], seeds,
                    {"max_epochs": args.mnist_epochs, **params}, args.device,
                    n_train_cap=args.mnist_train, precisions=precisions)

    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"precision_{args.device.replace(':', '')}"
    with open(f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = summary(rows)
    info = machine_info(args.device, "benchmarks.precision", argv)
    header = (f"# ROC AUC: fp32 vs bf16 ({args.device})\n\n"
              + "\n".join(header_lines(info))
              + (f"\n- {skipped}" if skipped else "")
              + (f"\n- estimator settings: {params}" if params else "")
              + f"\n- digits: estimator defaults, anomaly digits "
              f"{args.digits}; MNIST test set (the training set is not available "
              f"here) padded to 32x32, anomaly digits {args.mnist_digits}, first "
              f"{args.mnist_train} training images of the 80 % split, "
              f"{args.mnist_epochs} epochs; seeds {args.seeds}\n\n")
    Path(f"{stem}.md").write_text(header + table + "\n")
    Path(f"{stem}.rst").write_text(summary_rst(rows)
                                   + (f"\n{skipped[0].upper()}{skipped[1:]}.\n"
                                      if skipped else ""))
    print(table)
    return rows


if __name__ == "__main__":
    main()
