"""Wall time of one grid search: sequential, on Dask workers, on Ray workers.

The search is that of ``examples/plot_distributed_search.py`` with 32
filters instead of 64 (to keep the benchmark short): digits (the digit 8 is
the anomaly, half of the rows), ``GANomalyDetector(image_shape=(8, 8),
n_filters=32)`` with the grid ``latent_dim`` in {16, 100} x ``max_epochs`` in
{5, 15}, ``NormalOnlyKFold(2)``: 8 fits. It runs

* sequentially in this process (one torch thread);
* through joblib's Dask backend on a ``LocalCluster`` of 2 worker processes
  with one thread each;
* through Ray's joblib backend on ``ray.init(num_cpus=2)``.

Each is repeated (``--repeats``): the first search of a process pays for
imports and the first kernels, later ones show the steady state. Start-up
(cluster or Ray) is timed apart. Every search must give the sequential
scores bit for bit; the table says so. Results go to
``benchmarks/results/distributed_search.md``.

Usage::

    python -m benchmarks.distributed_search            # 1-2 minutes on 2 cores
    python -m benchmarks.distributed_search --no-ray   # Dask only
"""

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

import skganomaly
from skganomaly import GANomalyDetector
from skganomaly.model_selection import NormalOnlyKFold, anomaly_roc_auc_scorer

from .common import RESULTS, cpu_model
N_WORKERS = 2


def data():
    X, digit = load_digits(return_X_y=True)
    y = np.where(digit == 8, -1, 1)
    dev = np.random.RandomState(0).permutation(len(X))[: len(X) // 2]
    return X[dev], y[dev]


# The search; --tiny swaps in TINY (a smoke test in seconds).
SEARCH = {"n_filters": 32, "grid": {"latent_dim": [16, 100], "max_epochs": [5, 15]}}
TINY = {"n_filters": 4, "grid": {"latent_dim": [4, 8], "max_epochs": [1]}}


def make_search(n_jobs=None):
    return GridSearchCV(
        GANomalyDetector(image_shape=(8, 8), n_filters=SEARCH["n_filters"],
                         random_state=0),
        SEARCH["grid"],
        cv=NormalOnlyKFold(n_splits=2, shuffle=True, random_state=0),
        scoring=anomaly_roc_auc_scorer, refit=False, n_jobs=n_jobs)


def split_scores(search):
    return np.array([search.cv_results_[f"split{k}_test_score"]
                     for k in range(search.n_splits_)])


def timed_searches(repeats, X, y, n_jobs=None, backend=None):
    """Wall time and validation scores of each search."""
    times, scores = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        if backend is None:
            search = make_search(n_jobs).fit(X, y)
        else:
            with parallel_config(backend=backend):
                search = make_search(n_jobs).fit(X, y)
        times.append(time.perf_counter() - start)
        scores.append(split_scores(search))
    return times, scores


def run_sequential(repeats, X, y):
    times, scores = timed_searches(repeats, X, y)
    return dict(run="sequential (this process)", startup=0.0, times=times,
                scores=scores)


def run_dask(repeats, X, y):
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=N_WORKERS, threads_per_worker=1,
                           processes=True, host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    client.run(torch.set_num_threads, 1)
    startup = time.perf_counter() - start
    try:
        times, scores = timed_searches(repeats, X, y, n_jobs=-1, backend="dask")
    finally:
        client.close()
        cluster.close()
    return dict(run=f"Dask LocalCluster, {N_WORKERS} workers x 1 thread",
                startup=startup, times=times, scores=scores)


def run_ray(repeats, X, y):
    import ray
    from ray.util.joblib import register_ray

    start = time.perf_counter()
    ray.init(num_cpus=N_WORKERS, include_dashboard=False, log_to_driver=False)
    register_ray()
    startup = time.perf_counter() - start
    try:
        times, scores = timed_searches(repeats, X, y, n_jobs=-1, backend="ray")
    finally:
        ray.shutdown()
    return dict(run=f"Ray, num_cpus={N_WORKERS}", startup=startup, times=times,
                scores=scores)


def spin(n=20_000_000):
    """Pure-Python work for one core, in seconds."""
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - start


def free_cores():
    """How many cores this machine gives now: the throughput of two
    processes spinning at once over that of one (2 on an idle 2-core
    machine, 1 when other jobs leave about one core free)."""
    from concurrent.futures import ProcessPoolExecutor

    one = spin()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(time.sleep, [0.1, 0.1]))  # start both processes first
        start = time.perf_counter()
        list(pool.map(spin, [20_000_000] * 2))
        both = time.perf_counter() - start
    return 2 * one / both


def versions(names):
    out = [f"python {platform.python_version()}",
           f"skganomaly {skganomaly.__version__}", f"torch {torch.__version__}"]
    for name in names:
        try:
            module = __import__(name)
        except ImportError:
            continue
        out.append(f"{name} {module.__version__}")
    return ", ".join(out)


def table(rows, reference):
    repeats = len(rows[0]["times"])
    head = ["run", "start-up (s)"] + [f"search {i + 1} (s)" for i in range(repeats)]
    head += ["speed-up, last search", "scores = sequential (every search)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["run"], f"{row['startup']:.1f}"]
        cells += [f"{t:.1f}" for t in row["times"]]
        cells.append(f"{reference['times'][-1] / row['times'][-1]:.2f}x")
        same = all(np.array_equal(scores, reference["scores"][0])
                   for scores in row["scores"])
        cells.append("yes" if same else "**no**")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2,
                        help="searches per run (default 2)")
    parser.add_argument("--no-ray", action="store_true", help="skip Ray")
    parser.add_argument("--no-dask", action="store_true", help="skip Dask")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny networks and grid: a smoke test, not a measurement")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--out", default="distributed_search",
                        help="results file stem (in --results-dir)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    if args.tiny:
        SEARCH.update(TINY)
    X, y = data()
    load_before = os.getloadavg()[0]
    cores_before = free_cores()
    rows = [run_sequential(args.repeats, X, y)]
    print(f"{rows[-1]['run']}: {rows[-1]['times']}", flush=True)
    if not args.no_dask:
        rows.append(run_dask(args.repeats, X, y))
        print(f"{rows[-1]['run']}: {rows[-1]['times']}", flush=True)
    if not args.no_ray:
        rows.append(run_ray(args.repeats, X, y))
        print(f"{rows[-1]['run']}: {rows[-1]['times']}", flush=True)
    load_after = os.getloadavg()[0]
    cores_after = free_cores()

    text = "\n".join([
        "# Distributed grid search: sequential vs Dask vs Ray",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        f"- command: `python -m benchmarks.distributed_search"
        f"{' ' + ' '.join(sys.argv[1:]) if argv is None and sys.argv[1:] else ''}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores; load average (1 min) "
        f"{load_before:.1f} before, {load_after:.1f} after; cores free for this "
        f"run (two spinning processes' throughput over one's): "
        f"{cores_before:.1f} before, {cores_after:.1f} after",
        f"- versions: {versions(['sklearn', 'joblib', 'dask', 'distributed', 'ray'])}",
        f"- search: digits (half of the rows, digit 8 = anomaly, {len(X)} rows), "
        f"GANomalyDetector(image_shape=(8, 8), n_filters={SEARCH['n_filters']}, "
        f"random_state=0), grid {SEARCH['grid']}, NormalOnlyKFold(2); one torch "
        "thread in every process",
        "",
        table(rows, rows[0]),
        "",
        "Start-up: starting the cluster (Dask) or `ray.init` (Ray). Search 1 "
        "includes what each new worker process pays once (imports, first "
        "kernels); Ray's joblib backend starts new worker processes for every "
        "search, so it pays this again each time. Speed-up: sequential time of "
        "the last search over this run's; two workers can reach at most the "
        "number of free cores above.",
        "",
    ])
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{args.out}.md").write_text(text)
    return rows


if __name__ == "__main__":
    main()
