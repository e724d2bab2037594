"""Peak memory of fit + score_samples against data size: memmap, Dataset, in memory.

For each data size, a float32 file of random rows is written once; then, in
a fresh subprocess per (size, source), a detector is fitted on it for one
epoch and scores every row. Sources:

- ``memmap``: ``np.load(path, mmap_mode="r")``, read on demand;
- ``dataset``: a map-style torch ``Dataset`` over the same memmap, one row
  per item, read on demand;
- ``in-memory``: ``np.load(path)``, the ordinary array path (the array
  itself counts).

Reported: the private (anonymous) resident memory the process gained over
its state after imports and a warm-up fit, sampled every 2 ms during the
run (RssAnon in /proc/self/status; file pages of the memmap are the page
cache's, not the process's), and the seconds of fit and scoring.

    python -m benchmarks.out_of_core --sizes-mib 64,256,1024 --features 256
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .common import RESULTS, cpu_model, status_kib

SOURCES = ("memmap", "dataset", "in-memory")


class PeakSampler(threading.Thread):
    """Highest RssAnon seen while running, sampled every ``interval`` s."""

    def __init__(self, interval=0.002):
        super().__init__(daemon=True)
        self.interval, self.peak_kib, self._stop_event = interval, 0, threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak_kib = max(self.peak_kib, status_kib("RssAnon"))
            time.sleep(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join()
        self.peak_kib = max(self.peak_kib, status_kib("RssAnon"))


def child(source, path, batch_size):
    """Fit and score in this process; print one JSON line."""
    import torch

    from skganomaly import GANomalyDetector

    torch.set_num_threads(1)
    params = dict(latent_dim=8, n_filters=8, max_epochs=1, batch_size=batch_size,
                  random_state=0, device="cpu")
    head = np.load(path, mmap_mode="r")
    GANomalyDetector(**params).fit(np.array(head[:2000])).score_samples(
        np.array(head[:300]))
    del head
    baseline = status_kib("RssAnon")
    sampler = PeakSampler()
    sampler.start()
    if source == "in-memory":
        X = np.load(path)
    else:
        X = np.load(path, mmap_mode="r")
    if source == "dataset":
        from torch.utils.data import Dataset

        class Rows(Dataset):
            def __init__(self, data):
                self.data = data

            def __len__(self):
                return len(self.data)

            def __getitem__(self, i):
                return self.data[i]

        X = Rows(X)
    start = time.perf_counter()
    detector = GANomalyDetector(**params).fit(X)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = detector.score_samples(X)
    score_s = time.perf_counter() - start
    sampler.stop()
    assert np.isfinite(scores).all()
    print(json.dumps({
        "peak_added_mib": (sampler.peak_kib - baseline) / 1024,
        "fit_s": fit_s, "score_s": score_s,
        "rows_per_s_fit": len(scores) / fit_s,
    }))


def write_data(path, n_rows, n_features, seed=0):
    rng = np.random.default_rng(seed)
    data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                     shape=(n_rows, n_features))
    for start in range(0, n_rows, 65536):
        stop = min(n_rows, start + 65536)
        data[start:stop] = rng.standard_normal((stop - start, n_features),
                                               dtype=np.float32)
    data.flush()
    del data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="64,256,1024")
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--tmp", default=None, help="folder for the data files")
    parser.add_argument("--out", default="out_of_core")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=2, metavar=("SOURCE", "PATH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.batch_size)
        return

    import sklearn
    import torch


    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for size in [int(s) for s in args.sizes_mib.split(",")]:
            n_rows = size * 2**20 // (4 * args.features)
            path = os.path.join(tmp, f"rows_{size}.npy")
            write_data(path, n_rows, args.features)
            for source in args.sources.split(","):
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.out_of_core", "--child", source,
                     path, "--batch-size", str(args.batch_size)],
                    capture_output=True, text=True, env={
                        **os.environ, "OMP_NUM_THREADS": "1",
                        "PYTHONPATH": os.pathsep.join(
                            [str(RESULTS.parents[1]), os.environ.get("PYTHONPATH", "")])},
                )
                if done.returncode:
                    sys.exit(done.stderr)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                row = {"data_mib": size, "rows": n_rows, "source": source, **result}
                rows.append(row)
                print(f"{size:>6} MiB {source:>9}: +{row['peak_added_mib']:7.1f} MiB "
                      f"peak, fit {row['fit_s']:6.1f} s, score {row['score_s']:5.1f} s",
                      flush=True)
            os.remove(path)

    command = "python -m benchmarks.out_of_core " + " ".join(
        sys.argv[1:] if argv is None else argv)
    header = [
        "# Out-of-core fit and scoring: peak memory against data size",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}",
        f"- Versions: torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}",
        f"- Data: float32 rows of {args.features} standard-normal features in a .npy "
        f"file; detector: latent_dim=8, n_filters=8, max_epochs=1, "
        f"batch_size={args.batch_size}, 1 torch thread.",
        "- Peak added: the highest private resident memory (RssAnon, sampled every "
        "2 ms) above the process after imports and a warm-up fit, over loading, "
        "fit and score_samples. It includes the float64 scores (8 bytes a row) "
        "and, for the in-memory source, the array itself.",
        "",
        "| data (MiB) | rows | source | peak added (MiB) | fit (s) | score (s) "
        "| fit rows/s |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    lines = [f"| {r['data_mib']} | {r['rows']} | {r['source']} | "
             f"{r['peak_added_mib']:.0f} | {r['fit_s']:.1f} | {r['score_s']:.1f} | "
             f"{r['rows_per_s_fit']:.0f} |" for r in rows]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{args.out}.md").write_text("\n".join(header + lines) + "\n")
    # The same table for the docs' Scaling page.
    rst = [".. list-table::", "   :header-rows: 1", "",
           "   * - data (MiB)", "     - rows", "     - source", "     - peak added (MiB)",
           "     - fit (s)", "     - score (s)"]
    for r in rows:
        rst += [f"   * - {r['data_mib']}", f"     - {r['rows']}", f"     - {r['source']}",
                f"     - {r['peak_added_mib']:.0f}", f"     - {r['fit_s']:.1f}",
                f"     - {r['score_s']:.1f}"]
    rst += ["", f"Command: ``{command}``; {datetime.date.today().isoformat()}; "
            f"{cpu_model()}, {os.cpu_count()} cores; torch {torch.__version__}."]
    (args.results_dir / f"{args.out}.rst").write_text("\n".join(rst) + "\n")
    (args.results_dir / f"{args.out}.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {args.results_dir / args.out}.md, .rst and .json")


if __name__ == "__main__":
    main()
