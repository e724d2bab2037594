"""Development study on sklearn's digits: what closes GANomaly's gap to LOF?

Used to choose ``min_image_size`` (see docs/benchmarks.rst, "Small images").
It runs the digits protocol of ``benchmarks.quality`` (each digit in turn is
the anomaly; 80 % of the normal digits train, with 10 % of them held out
for early stopping) on the *development* seed 1, which is never reported as
a result, with the package defaults except for how the 8x8 images reach the
networks:

- ``base``: as they are (8x8 canvas);
- ``tab``: flattened to 64 tabular features (MLP networks);
- ``pad16`` / ``pad32``: zero-padded to 16x16 / 32x32 before ``fit``;
- ``up16`` / ``up32``: upsampled (bilinear) to 16x16 / 32x32 before ``fit``
  (what ``min_image_size`` now does inside the detector).

For each digit it prints the ROC AUC of the detector's latent score and of
three post-hoc scores computed from the same fit (the latent residual
standardised per dimension on the training rows, the L1 reconstruction
error, and the distance of ``z`` from the training codes), and appends the
lines to ``studies/results/digits_variants_<variant>.log``.

Usage::

    python -m benchmarks.studies.digits_variants up16 [--seed 1] [--tasks 1,3,6,9]
        [--patience 5]

``--patience 0`` trains without early stopping (all ``max_epochs="auto"``
epochs); the log name then ends in ``_nostop``.
"""

import argparse
import time

import numpy as np
import torch
from skorch.callbacks import EarlyStopping
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector

from .. import common
from ..common import STUDY_RESULTS as OUT, study_log

VARIANTS = ("base", "tab", "pad16", "pad32", "up16", "up32")


def transform(X, variant):
    X = X.astype(np.float32)
    if variant == "tab":
        return X.reshape(len(X), -1)
    if variant.startswith("pad"):
        border = (int(variant[3:]) - 8) // 2
        return np.pad(X, ((0, 0), (0, 0), (border, border), (border, border)))
    if variant.startswith("up"):
        side = int(variant[2:])
        return torch.nn.functional.interpolate(
            torch.from_numpy(X), size=(side, side), mode="bilinear",
            align_corners=False).numpy()
    return X


def scaled(det, X):
    """``X`` scaled as the fitted detector ``det`` scales it, as a float32
    tensor of ``X``'s shape."""
    x = det._scaler.transform(X.reshape(len(X), -1)).astype(np.float32)
    return torch.from_numpy(x).reshape(X.shape)


def codes(det, X):
    """``(z - z_hat, z, L1 reconstruction error)`` in evaluation mode."""
    gen = det.net_.module_.eval()
    x = det.net_.prepare_input(scaled(det, X))
    with torch.no_grad():
        x_hat, z, z_hat = gen(x)
    return (z - z_hat).numpy(), z.numpy(), (x - x_hat).abs().flatten(1).mean(1).numpy()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.digits_variants")
    p.add_argument("variant", choices=VARIANTS)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tasks", default="0,1,2,3,4,5,6,7,8,9")
    p.add_argument("--patience", type=int, default=5,
                   help="EarlyStopping patience on valid_loss; 0: no early stopping")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    X, y = common.load_digits_images()
    X = transform(X, args.variant)
    suffix = "" if args.patience else "_nostop"
    log = OUT / f"digits_variants_{args.variant}{suffix}.log"
    results = {}
    with study_log(log) as say:
        say(f"# python -m benchmarks.studies.digits_variants {args.variant} --seed {args.seed} "
            f"--tasks {args.tasks} --patience {args.patience}; "
            f"torch {torch.__version__}, 1 thread")
        for digit in [int(t) for t in args.tasks.split(",")]:
            train, test, is_anomaly = common.one_class_split(y, digit, args.seed)
            start = time.perf_counter()
            det = GANomalyDetector(
                # min_image_size=None: the variant alone decides the image size.
                # skorch's EarlyStopping on all held-out rows, as in the logged
                # runs (they predate the detector's own early_stopping).
                min_image_size=None, early_stopping=False,
                random_state=args.seed, validation_fraction=0.1,
                callbacks=[EarlyStopping(monitor="valid_loss", patience=args.patience,
                                         load_best=True)] if args.patience else None,
            ).fit(X[train])
            dz_train, z_train, _ = codes(det, X[train])
            dz, z, rec = codes(det, X[test])
            auc = {
                "latent": roc_auc_score(is_anomaly, -det.score_samples(X[test])),
                "latent_std": roc_auc_score(
                    is_anomaly, ((dz / (dz_train.std(0) + 1e-8)) ** 2).mean(1)),
                "recon": roc_auc_score(is_anomaly, rec),
                "zdist": roc_auc_score(is_anomaly, (((z - z_train.mean(0))
                                                     / (z_train.std(0) + 1e-8)) ** 2).mean(1)),
            }
            results[digit] = auc
            say(f"{args.variant} {digit} epochs={det.n_iter_} "
                f"{time.perf_counter() - start:.0f}s "
                + " ".join(f"{k}={v:.3f}" for k, v in auc.items()))
        say(f"{args.variant} MEAN " + " ".join(
            f"{k}={np.mean([r[k] for r in results.values()]):.4f}" for k in auc))


if __name__ == "__main__":
    main()
