"""Size and load time of model files holding many latent codes.

``score_type="latent_lof"`` (the default for images) keeps the codes of up to
10,000 training rows in ``reference_codes_``. Since format 3 model files
hold such arrays as tensors in ``arrays.pt``; before, they were JSON numbers
in the manifest. This writes a small model with reference codes of the sizes
below both ways (the inline way by raising ``INLINE_ARRAY_MAX``) and loads
each file::

    python -m benchmarks.studies.model_file_size

prints a table and writes ``benchmarks/studies/results/model_file_size.md``. The codes
are random (normal, scale 0.1, float32): only their number matters here.
"""

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import skganomaly
from skganomaly import GANomalyDetector

from ..common import STUDY_RESULTS as RESULTS, _persistence, cpu_model
SIZES = [(6494, 100), (10000, 100), (10000, 512)]


def measure(det, folder):
    rows = []
    default = _persistence.INLINE_ARRAY_MAX
    try:
        for n, dim in SIZES:
            det.reference_codes_ = np.random.RandomState(1).normal(
                scale=0.1, size=(n, dim)).astype(np.float32)
            for how, limit in [("arrays.pt (format 3)", default),
                               ("JSON in the manifest (before)", 10**12)]:
                _persistence.INLINE_ARRAY_MAX = limit
                path = det.save(os.path.join(folder, "model.skgan"))
                start = time.perf_counter()
                try:
                    GANomalyDetector.load(path)
                    loads = f"{time.perf_counter() - start:.2f} s"
                except ValueError as exc:
                    loads = "refused: " + str(exc).split(": ", 1)[-1]
                rows.append((n, dim, how, os.path.getsize(path) / 2**20, loads))
    finally:
        _persistence.INLINE_ARRAY_MAX = default
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.studies.model_file_size",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(RESULTS / "model_file_size.md"))
    args = parser.parse_args(argv)
    X = np.random.RandomState(0).normal(size=(200, 8))
    det = GANomalyDetector(latent_dim=4, n_filters=4, max_epochs=1,
                           score_type="latent_lof", random_state=0).fit(X)
    with tempfile.TemporaryDirectory() as folder:
        rows = measure(det, folder)
    lines = ["# Model files with many reference codes", "",
             "Command: `python -m benchmarks.studies.model_file_size`; "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
             f"skganomaly {skganomaly.__version__}, torch {torch.__version__}, "
             f"{cpu_model()}, {os.cpu_count()} cores.", "",
             "| codes | code size | codes stored as | file MiB | load |",
             "|---|---|---|---|---|"]
    lines += [f"| {n:,} | {dim} | {how} | {mib:.1f} | {loads} |"
              for n, dim, how, mib, loads in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
