"""What early stopping should watch, and when it should act, on small
training sets (development seeds only).

With a few hundred training rows, ``early_stopping="auto"`` decided on a
dozen held-out rows and watched ``valid_loss``, the generator's whole loss,
whose adversarial part grows as the discriminator learns. This study fits the
package defaults on capped training sets of the quality benchmark's suites
and varies only the stopping rule:

``today``
    ``valid_loss`` (adversarial + reconstruction + encoder), early stopping
    from 20 held-out rows on;
``con``
    the held-out rows' reconstruction error ``valid_loss_con``;
``score``
    their mean latent error ``valid_score``;
``off``
    no early stopping: the ``max_epochs="auto"`` budget (at least 1,000
    optimizer steps);
``<rule>@<n>``
    ``rule`` with early stopping only from ``n`` held-out rows on.

Peers (IsolationForest, LOF, OneClassSVM, library defaults) run on the same
splits. Writes a log (``studies/results/stopping_signal_<suite>.log``) with a
table of mean ROC AUC per cap and rule.

Usage::

    python -m benchmarks.studies.stopping_signal --suite odds --caps 100,300,1000 \\
        --seeds 100,101 --rules today,con,score,off
"""

import argparse
import time

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

import skganomaly._base as base
from skganomaly import GANomalyDetector

from .. import common
from ..quality import load_suite, make_split, peer_features

MONITORS = {"today": "valid_loss", "con": "valid_loss_con", "score": "valid_score"}
PEERS = {
    "IsolationForest": lambda seed: IsolationForest(random_state=seed),
    "LOF": lambda seed: LocalOutlierFactor(novelty=True),
    "OneClassSVM": lambda seed: OneClassSVM(),
}


def fit_rule(rule, X_train, seed):
    """The package defaults under one stopping rule: ``(detector, seconds)``."""
    name, _, min_rows = rule.partition("@")
    params = dict(random_state=seed)
    if name == "off":
        params["early_stopping"] = False
    saved = base.EARLY_STOPPING_MONITOR, base.AUTO_EARLY_STOPPING_MIN_ROWS
    try:
        if name != "off":
            base.EARLY_STOPPING_MONITOR = MONITORS[name]
        if min_rows:
            base.AUTO_EARLY_STOPPING_MIN_ROWS = int(min_rows)
        start = time.perf_counter()
        det = GANomalyDetector(**params).fit(X_train)
        return det, time.perf_counter() - start
    finally:
        base.EARLY_STOPPING_MONITOR, base.AUTO_EARLY_STOPPING_MIN_ROWS = saved


def run_task(X, y, anomaly, kind, cap, seed, rules):
    """ROC AUC of each rule and peer on one capped task: ``{method: auc}``
    and ``{rule: epochs}``."""
    train, test, is_anomaly = make_split(y, anomaly, seed, cap)
    X_train, X_test = X[train].astype(np.float32), X[test].astype(np.float32)
    aucs, epochs = {}, {}
    for rule in rules:
        det, _ = fit_rule(rule, X_train, seed)
        aucs[rule] = roc_auc_score(is_anomaly, -det.score_samples(X_test))
        epochs[rule] = det.n_iter_
    flat_train, flat_test = peer_features(X_train, X_test, kind)
    for name, make in PEERS.items():
        peer = make(seed).fit(flat_train)
        aucs[name] = roc_auc_score(is_anomaly, -peer.score_samples(flat_test))
    return aucs, epochs


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.stopping_signal")
    p.add_argument("--suite", choices=["odds", "digits"], required=True)
    p.add_argument("--data", default=str(common.DEFAULT_DATA))
    p.add_argument("--caps", default="100,300,1000")
    p.add_argument("--seeds", default="100,101", help="development seeds only")
    p.add_argument("--tasks", default=None, help="comma-separated task names")
    p.add_argument("--rules", default="today,con,score,off")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    caps = [int(c) for c in args.caps.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    rules = args.rules.split(",")
    tasks, kind = load_suite(args.suite, args.data)
    if args.tasks:
        tasks = [t for t in tasks if t[0] in args.tasks.split(",")]
    log = args.log or common.STUDY_RESULTS / f"stopping_signal_{args.suite}.log"
    methods = rules + list(PEERS)
    with common.study_log(common.Path(log)) as say:
        say(f"# {common.now()} {common.command_line('benchmarks.studies.stopping_signal')}")
        for cap in caps:
            results = {m: [] for m in methods}
            for seed in seeds:
                for task, X, y, anomaly in tasks:
                    aucs, epochs = run_task(X, y, anomaly, kind, cap, seed, rules)
                    for m in methods:
                        results[m].append(aucs[m])
                    say(f"cap {cap} seed {seed} task {task}: " + ", ".join(
                        f"{m} {aucs[m]:.3f}" + (f" ({epochs[m]} ep)" if m in epochs else "")
                        for m in methods))
            say(f"cap {cap} MEAN over {len(seeds)} seed(s) x {len(tasks)} task(s): "
                + ", ".join(f"{m} {np.mean(v):.3f}" for m, v in results.items()))
    return results


if __name__ == "__main__":
    main()
