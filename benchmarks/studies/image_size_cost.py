"""Cost of ``min_image_size`` on 8x8 images: fit and score time at 16x16
(the default for small images) relative to 8x8 (``min_image_size=None``).

Both settings are timed alternately in one process on the same data (1,623
normal digits, every digit but 8; fixed epochs, no early stopping), so the
ratio holds even on a noisy machine. Writes
``results/image_size_cost.md``.

Usage::

    python -m benchmarks.studies.image_size_cost [--epochs 5] [--repeats 3] [--threads 1]
"""

import argparse
import datetime
import time

import numpy as np
import torch

from skganomaly import GANomalyDetector

from .. import common
from ..common import STUDY_RESULTS, cpu_model

OUT = STUDY_RESULTS / "image_size_cost.md"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.image_size_cost")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, y = common.load_digits_images()
    X = X[y != 8].astype(np.float32)
    times = {None: {"fit": [], "score": []}, 16: {"fit": [], "score": []}}
    for _ in range(args.repeats):
        for size in times:
            det = GANomalyDetector(min_image_size=size, max_epochs=args.epochs,
                                   early_stopping=False, random_state=0)
            start = time.perf_counter()
            det.fit(X)
            times[size]["fit"].append(time.perf_counter() - start)
            start = time.perf_counter()
            det.score_samples(X)
            times[size]["score"].append(time.perf_counter() - start)
    rows = []
    for step in ("fit", "score"):
        base, up = np.median(times[None][step]), np.median(times[16][step])
        rows.append(f"| {step} | {base:.2f} | {up:.2f} | {up / base:.2f} |")
    command = ("python -m benchmarks.studies.image_size_cost --epochs "
               f"{args.epochs} --repeats {args.repeats} --threads {args.threads}")
    text = "\n".join([
        "# Cost of min_image_size on 8x8 images (16x16 vs 8x8 networks)", "",
        f"Command: `{command}`  ",
        f"torch {torch.__version__}, {cpu_model()}, {args.threads} torch thread(s), "
        f"{len(X)} images, {args.epochs} epochs; "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}. Median of "
        f"{args.repeats} alternating runs in one process.", "",
        "| step | 8x8 s | 16x16 s | ratio |", "|---|---|---|---|", *rows, ""])
    print(text)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
