"""Development study: does a local-density score on GANomaly's codes close
the gap to LOF when the normal class has many modes?

On the full MNIST-test protocol GANomaly trails ``LocalOutlierFactor`` most
where the nine normal digits form nine clusters and the anomaly digit
resembles one of them (7 and 9). GANomaly's score ``||z - E2(Dec(z))||``
asks whether a sample is *reconstructed consistently*; LOF asks whether it
lies *near* normal samples. This script fits the detector once per task with
the package defaults, on the *development* seed (1, never reported), and
compares from that one fit:

- ``latent``: the detector's own score (GANomaly's);
- ``knnK``: mean Euclidean distance of ``z = E1(x)`` to its ``K`` nearest
  codes of the training rows;
- ``knn_std``: the same (K = 5) after standardising each code dimension on
  the training rows;
- ``knn_cos``: K = 5 on codes scaled to unit length;
- ``lof_z``: ``LocalOutlierFactor(novelty=True)`` (20 neighbours) on ``z``
  (what ``score_type="latent_lof"`` became), and ``lof_zK`` with ``K``
  neighbours (``--lof-neighbours``);
- ``lof_px``: the same on the pixels (the benchmark's peer, for reference).

Usage::

    python -m benchmarks.studies.latent_neighbours --suite mnist --data ../shared/data
        [--seed 1] [--tasks 7,9] [--max-train N] [--params JSON]
        [--lof-neighbours 5,10]

Prints one line per task and appends it to
``studies/results/latent_neighbours_<suite>.log``.
"""

import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from skganomaly import GANomalyDetector

from ..common import DEFAULT_DATA, STUDY_RESULTS as OUT, study_log
from ..quality import load_suite, make_split, peer_features, select_tasks



def knn_distance(train, test, k):
    dist, _ = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test)
    return dist.mean(axis=1)


def scores(det, X_train, X_test, P_train, P_test, lof_neighbours=()):
    """Anomaly scores (higher = more abnormal) of the test rows."""
    z_train, z_test = det.encode(X_train), det.encode(X_test)
    mu, sd = z_train.mean(0), z_train.std(0) + 1e-8
    unit = lambda z: z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-12)  # noqa: E731
    out = {"latent": -det.score_samples(X_test)}
    for k in (1, 5, 20):
        out[f"knn{k}"] = knn_distance(z_train, z_test, k)
    out["knn_std"] = knn_distance((z_train - mu) / sd, (z_test - mu) / sd, 5)
    out["knn_cos"] = knn_distance(unit(z_train), unit(z_test), 5)
    out["lof_z"] = -LocalOutlierFactor(novelty=True).fit(z_train).score_samples(z_test)
    for k in lof_neighbours:
        out[f"lof_z{k}"] = -LocalOutlierFactor(n_neighbors=k, novelty=True).fit(
            z_train).score_samples(z_test)
    out["lof_px"] = -LocalOutlierFactor(novelty=True).fit(P_train).score_samples(P_test)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.latent_neighbours")
    p.add_argument("--suite", default="mnist", choices=("digits", "mnist", "cifar10"))
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tasks", default="")
    p.add_argument("--max-train", type=int, default=0)
    p.add_argument("--params", default="{}", help="JSON of GANomalyDetector parameters")
    p.add_argument("--lof-neighbours", default="",
                   help="extra neighbour counts of the LOF on z, e.g. 5,10")
    args = p.parse_args(argv)
    params = json.loads(args.params)
    torch.set_num_threads(1)
    tasks, kind = load_suite(args.suite, args.data)
    tasks = select_tasks(tasks, [t for t in args.tasks.split(",") if t])
    log = OUT / f"latent_neighbours_{args.suite}.log"
    with study_log(log) as say:
        say(f"# python -m benchmarks.studies.latent_neighbours --suite {args.suite} --seed "
            f"{args.seed} --tasks {args.tasks} --max-train {args.max_train} --params "
            f"'{args.params}' --lof-neighbours {args.lof_neighbours}; "
            f"torch {torch.__version__}, 1 thread")
        for name, X, y, anomaly in tasks:
            train, test, is_anomaly = make_split(y, anomaly, args.seed, args.max_train)
            X_train, X_test = X[train].astype(np.float32), X[test].astype(np.float32)
            start = time.perf_counter()
            det = GANomalyDetector(random_state=args.seed, **params).fit(X_train)
            fit_s = time.perf_counter() - start
            P_train, P_test = peer_features(X_train, X_test, kind)
            auc = {key: roc_auc_score(is_anomaly, s) for key, s in
                   scores(det, X_train, X_test, P_train, P_test,
                          [int(k) for k in args.lof_neighbours.split(",") if k]).items()}
            say(f"{args.suite} seed={args.seed} task={name} epochs={det.n_iter_} "
                f"fit={fit_s:.0f}s " + " ".join(f"{k}={v:.3f}" for k, v in auc.items()))


if __name__ == "__main__":
    main()
