"""Peak memory of GANomalyDetector.score_samples on many rows.

Scoring scales and scores batch by batch, so the extra memory it needs stays
bounded by the batch size (plus the float64 scores, 8 bytes a row) whatever the
number of rows. This script fits a model on a few rows, builds ``--rows`` rows
of ``--features`` float64 features, and reports the peak resident memory that
``score_samples`` adds on top of the process with the data already in memory
(Linux: VmHWM is reset through /proc/self/clear_refs before scoring).

    python benchmarks/scoring_memory.py --rows 1000000 --features 20
"""

import argparse
import time

import numpy as np
import torch

from _machine import status_kib

from skganomaly import GANomalyDetector


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--images", action="store_true",
                        help="score 28x28 images instead of tabular rows")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.RandomState(0)
    shape = (28, 28) if args.images else (args.features,)
    det = GANomalyDetector(latent_dim=16, n_filters=16, max_epochs=1,
                           random_state=0, device="cpu")
    det.fit(rng.normal(size=(512, *shape)))
    det.score_samples(rng.normal(size=(600, *shape)))  # warm up allocators

    X = rng.normal(size=(args.rows, *shape))
    before = status_kib("VmRSS")
    reset_peak()
    start = time.perf_counter()
    scores = det.score_samples(X)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM")
    assert np.isfinite(scores).all()
    mib = 1024
    print(f"rows={args.rows} sample_shape={shape} input={X.nbytes / 2**20:.0f} MiB "
          f"scores={scores.nbytes / 2**20:.1f} MiB")
    print(f"RSS before scoring={before / mib:.0f} MiB, peak during scoring="
          f"{peak / mib:.0f} MiB, added by scoring={(peak - before) / mib:.0f} MiB, "
          f"{seconds:.1f} s")


if __name__ == "__main__":
    main()
