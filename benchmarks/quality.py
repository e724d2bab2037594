"""Detection quality of GANomalyDetector beside the detectors people use instead.

Protocol (``benchmarks/common.py``, the paper's): one class is the anomaly,
the other classes are normal; normal samples are shuffled with the seed, 80 %
train every detector and the test set is the other 20 % plus every sample of
the anomaly class (ODDS: normal rows 80 / 20, test = held-out normals + all
outliers). All methods see the same splits. Nothing is selected on the test
split, except by the one variant built to show what doing so does:

``GANomaly``
    ``GANomalyDetector`` with the package defaults: the paper's networks and
    optimiser, 10 % of the training rows held out (``validation_fraction``)
    and early stopping on them (``early_stopping="auto"``: ``valid_loss`` on
    one half, patience ``n_iter_no_change=5``, best epoch kept; the other
    half calibrates the threshold). Result files written before the detector
    had its own early stopping used skorch's ``EarlyStopping(monitor=
    "valid_loss", patience=5, load_best=True)`` on all held-out rows instead
    (their settings line says so). Scores in evaluation mode, one sample at a
    time in effect.
``GANomaly (original evaluation)``
    **The flawed protocol of the paper's code, kept to measure it**: the same
    networks trained on all training rows for ``max_epochs``; after every
    epoch the test set is scored with the generator in *training* mode
    (BatchNorm normalises with the statistics of each shuffled test batch of
    64), the scores are min-max scaled over the test set, and the epoch with
    the best *test* AUC is reported. ``GANomaly (train-mode BN, last epoch)``
    is the same run read at its last epoch (no test-set selection), which
    separates the two effects. Min-max scaling leaves AUC and AP unchanged; it
    only makes a score depend on the rest of the test set.
peers
    ``IsolationForest``, ``LocalOutlierFactor(novelty=True)``,
    ``OneClassSVM`` (scikit-learn defaults), PCA reconstruction error (95 %
    of the variance), and PyOD's ``AutoEncoder``, ``DeepSVDD``, ``AnoGAN``
    and ``ALAD`` (``pip install ".[bench]"``; skipped with a note when PyOD
    is missing or a model fails). Peers get flattened rows: pixels divided by
    the training maximum, tabular features standardised on the training rows.
    Deep peers train for ``--max-epochs`` epochs when it is given, else for
    their library's default.

Metrics per (task, seed, method): ROC AUC and average precision with the
anomaly as the positive class, fit and score wall time, and the peak growth
of resident memory during fit + score (sampled every 5 ms; on CUDA also the
peak allocated GPU memory).

Usage (reduced forms, under 10 minutes each on 2 CPU cores, and full forms
for a GPU are listed in ``benchmarks/README.rst``)::

    python -m benchmarks.quality --suite digits --seeds 0 --max-epochs 15
    python -m benchmarks.quality --suite mnist --data ../shared/data \\
        --seeds 0,1,2

Results: ``benchmarks/results/quality_<suite>[_<tag>].{csv,md}`` and
``..._auc.png``, ``..._roc.png``. Every file records the command, versions,
machine and date. Each finished run is saved at once in
``..._<tag>.progress.json``; ``--resume`` continues an interrupted call.
"""

import argparse
import copy
import csv
import datetime
import json
import os
import platform
import sys
import textwrap
import threading
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM
from skorch.callbacks import Callback, EarlyStopping

from skganomaly import GANomalyDetector, __version__

from . import common
from .common import RESULTS, cpu_model

SUITES = ("digits", "mnist", "cifar10", "odds")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                   "horse", "ship", "truck")

#: Honest GANomaly: early stopping on the generator loss of held-out normal rows.
#: The original code's test loader: shuffled batches of the training batch size.
ORIGINAL_TEST_BATCH = 64

DATA_NOTES = {
    "digits": "scikit-learn's digits (1,797 images of 8x8, values 0-16).",
    "mnist": ("MNIST **test set only** (10,000 images, zero-padded 28x28 -> 32x32): "
              "the MNIST training set is not available here, so training normals "
              "are 80 % of the test set's normal digits; numbers are not directly "
              "comparable with the paper's (trained on the 60,000-image training "
              "set)."),
    "cifar10": ("CIFAR-10 **test set, lossy JPEG copy** (10,000 RGB 32x32 images "
                "re-encoded at IJG quality 75 with 4:2:0 chroma subsampling, see "
                "shared/data/SOURCES.md): not the original pixels and not the "
                "50,000-image training set the paper used."),
    "odds": "ODDS tabular sets (.mat, y = 1 for outliers), all rows as given.",
}


# -- data ------------------------------------------------------------------------------


def load_suite(suite, data_dir):
    """``[(task_name, X, y, anomaly_label)]`` and the input kind of the suite.

    ``X`` is ``(n, C, H, W)`` for images and ``(n, d)`` for tabular sets.
    """
    if suite == "digits":
        X, y = common.load_digits_images()
        return [(str(d), X, y, d) for d in range(10)], "image"
    if suite == "mnist":
        X, y = common.load_mnist(data_dir)
        return [(str(d), X, y, d) for d in range(10)], "image"
    if suite == "cifar10":
        X, y = common.load_cifar10(data_dir)
        return [(name, X, y, i) for i, name in enumerate(CIFAR10_CLASSES)], "image"
    if suite == "odds":
        tasks = []
        for name in common.odds_names(data_dir):
            X, y = common.load_odds(name, data_dir)
            tasks.append((name, X, y, 1))
        if not tasks:
            raise SystemExit(f"no .mat files in {Path(data_dir) / 'odds'}")
        return tasks, "tabular"
    raise ValueError(f"unknown suite {suite!r}")


def select_tasks(tasks, wanted):
    if not wanted:
        return tasks
    names = {t[0]: t for t in tasks}
    out = []
    for w in wanted:
        if w in names:
            out.append(names[w])
        elif w.isdigit() and int(w) < len(tasks):
            out.append(tasks[int(w)])
        else:
            raise SystemExit(f"unknown task {w!r}; known: {', '.join(names)}")
    return out


def make_split(y, anomaly, seed, max_train):
    train, test, is_anomaly = common.one_class_split(y, anomaly, seed)
    if max_train and len(train) > max_train:
        # The split's training rows are already in a seeded random order.
        train = train[:max_train]
    return train, test, is_anomaly


def peer_features(X_train, X_test, kind):
    """Flattened float rows for the peers: pixels / training max, or features
    standardised on the training rows."""
    A = X_train.reshape(len(X_train), -1).astype(np.float64)
    B = X_test.reshape(len(X_test), -1).astype(np.float64)
    if kind == "image":
        top = max(float(A.max()), 1.0)
        return A / top, B / top
    scaler = StandardScaler().fit(A)
    return scaler.transform(A), scaler.transform(B)


# -- methods ---------------------------------------------------------------------------


class PCAReconstruction(BaseEstimator):
    """Anomaly score = squared error of the reconstruction from the principal
    components that keep ``n_components`` of the variance."""

    def __init__(self, n_components=0.95):
        self.n_components = n_components

    def fit(self, X):
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(X)
        return self

    def score_samples(self, X):
        X_hat = self.pca_.inverse_transform(self.pca_.transform(X))
        return -((X - X_hat) ** 2).sum(axis=1)


class _Peer:
    """fit(X_train) / anomaly(X_test) around an estimator (higher = anomalous)."""

    def __init__(self, make, pyod=False):
        self.make = make
        self.pyod = pyod

    def fit(self, ctx):
        torch.manual_seed(ctx["seed"])
        np.random.seed(ctx["seed"])
        self.model = self.make(ctx)
        self.model.fit(ctx["peer_train"])
        self.epochs = ""
        return self

    def anomaly(self, ctx):
        X = ctx["peer_test"]
        if self.pyod:
            return np.asarray(self.model.decision_function(X), dtype=np.float64)
        return -np.asarray(self.model.score_samples(X), dtype=np.float64)


def _deep_epochs(ctx, default):
    return ctx["max_epochs"] if ctx["max_epochs"] is not None else default


def _pyod(name):
    def make(ctx):
        d = ctx["peer_train"].shape[1]
        seed = ctx["seed"]
        if name == "AutoEncoder":
            from pyod.models.auto_encoder import AutoEncoder
            return AutoEncoder(epoch_num=_deep_epochs(ctx, 10), random_state=seed,
                               verbose=0)
        if name == "DeepSVDD":
            from pyod.models.deep_svdd import DeepSVDD
            return DeepSVDD(n_features=d, epochs=_deep_epochs(ctx, 100),
                            random_state=seed, verbose=0)
        if name == "AnoGAN":
            from pyod.models.anogan import AnoGAN
            return AnoGAN(epochs=_deep_epochs(ctx, 500), verbose=0)
        if name == "ALAD":
            from pyod.models.alad import ALAD
            return ALAD(epochs=_deep_epochs(ctx, 200), verbose=0)
        raise ValueError(name)
    return make


def _ganomaly_params(ctx):
    params = dict(random_state=ctx["seed"])
    if ctx["max_epochs"] is not None:
        params["max_epochs"] = ctx["max_epochs"]
    params.update(ctx["ganomaly_params"])
    return params


class _GANomaly:
    """The honest protocol: package defaults, which stop early on held-out
    normal training rows."""

    def fit(self, ctx):
        params = _ganomaly_params(ctx)
        if ctx["latent_lof_row"]:
            # The score type does not change training: the networks are
            # those of the latent score, and the fit also keeps the codes.
            params["score_type"] = "latent_lof"
        self.model = GANomalyDetector(**params).fit(ctx["train"].astype(np.float32))
        self.epochs = self.model.n_iter_
        stopper = [cb for name, cb in self.model.net_.callbacks_
                   if isinstance(cb, EarlyStopping)]
        if stopper and stopper[0].best_epoch_ is not None:
            self.epochs = f"{self.model.n_iter_} (best {stopper[0].best_epoch_})"
        return self

    def _model_anomaly(self, ctx):
        """The fitted model's own anomaly scores of the test rows."""
        return -self.model.score_samples(ctx["test"].astype(np.float32))

    def anomaly(self, ctx):
        if ctx["latent_lof_row"]:
            return latent_score(self.model, ctx["test"].astype(np.float32))
        return self._model_anomaly(ctx)

    def latent_lof(self, ctx):
        """``score_type='latent_lof'`` scores of the same fit
        (``--latent-lof-row``)."""
        return self._model_anomaly(ctx)

    def recalibrated(self, ctx):
        """Scores after re-estimating BatchNorm statistics on the training
        rows (``--bn-recalibration``; evaluated, not part of the package)."""
        recalibrate_batchnorm(self.model, ctx["train"])
        return self._model_anomaly(ctx)


def latent_score(det, X):
    """GANomaly's latent score ``||E1(x) - E2(Dec(E1(x)))||^2`` of a fitted
    detector whatever its ``score_type``: what ``score_samples`` with
    ``score_type='latent'`` negates."""
    return det._errors(det._validate_with_layout(X)[0])[:, 0]


def recalibrate_batchnorm(det, X):
    """Re-estimate the running statistics of the generator's BatchNorm layers
    with one pass over the (normal) training rows ``X`` in training mode, as a
    plain average over batches, without any weight update.

    During training the running statistics are a moving average over batches
    seen with *earlier* weights; after a short training they can disagree with
    the final weights, and evaluation-mode scores then suffer. Only training
    data is used, so scores still depend on one sample alone.
    """
    net, gen = det.net_, det.net_.module_
    layers = [m for m in gen.modules()
              if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    X2d = X.reshape(len(X), -1).astype(np.float32)
    gen.train()
    try:
        with torch.no_grad(), net.autocast():
            for i in range(0, len(X2d), det.batch_size):
                if len(X2d[i:i + det.batch_size]) < 2:
                    continue
                xb = torch.from_numpy(det._scaler.transform(X2d[i:i + det.batch_size]))
                gen(net.prepare_input(xb.reshape(len(xb), *det.sample_shape_)))
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        gen.eval()


class OriginalEvaluation(Callback):
    """After each epoch, score the test set as the paper's code does: generator
    in training mode (BatchNorm on the statistics of each shuffled test batch),
    scores min-max scaled over the test set. Stores per-epoch AUC and scores.

    ``get_test`` returns the *scaled* test rows (the detector's own scaling);
    it is a function so that skorch's callback cloning does not copy it.
    """

    def __init__(self, get_test=None, y_test=None, seed=0,
                 batch_size=ORIGINAL_TEST_BATCH):
        self.get_test = get_test
        self.y_test = y_test
        self.seed = seed
        self.batch_size = batch_size

    def initialize(self):
        self.epoch_scores_, self.epoch_auc_, self.eval_seconds_ = [], [], []
        return self

    def on_epoch_end(self, net, **kwargs):
        start = time.perf_counter()
        X = torch.from_numpy(self.get_test())
        # A copy: scoring in training mode updates BatchNorm running stats,
        # which must not leak into the next epoch's networks.
        gen = copy.deepcopy(net.module_)
        gen.train()
        order = np.random.RandomState(self.seed + len(net.history)).permutation(len(X))
        scores = np.empty(len(X))
        with torch.no_grad(), net.autocast():
            for i in range(0, len(X), self.batch_size):
                idx = order[i:i + self.batch_size]
                if len(idx) == 1:  # BatchNorm cannot normalise one sample
                    idx = order[i - 1:i + 1]
                _, z, z_hat = gen(net.prepare_input(X[idx]))
                s = (z.double() - z_hat.double()).pow(2).flatten(1).mean(1)
                scores[idx] = s.cpu().numpy()
        span = scores.max() - scores.min()
        scores = (scores - scores.min()) / (span if span > 0 else 1.0)
        self.epoch_scores_.append(scores)
        self.epoch_auc_.append(roc_auc_score(self.y_test, scores))
        self.eval_seconds_.append(time.perf_counter() - start)


class _GANomalyOriginal:
    """The paper code's evaluation: one run gives two rows (best test epoch,
    and the last epoch)."""

    def fit(self, ctx):
        holder = {}
        callback = OriginalEvaluation(
            get_test=lambda: holder["det"]._scaler.transform(
                ctx["test"].reshape(len(ctx["test"]), -1).astype(np.float32)
            ).reshape((len(ctx["test"]), *holder["det"].sample_shape_)),
            y_test=ctx["is_anomaly"], seed=ctx["seed"])
        det = GANomalyDetector(validation_fraction=None, callbacks=[callback],
                               **_ganomaly_params(ctx))
        holder["det"] = det
        det.fit(ctx["train"].astype(np.float32))
        self.model = det
        self.cb = [cb for _, cb in det.net_.callbacks_
                   if isinstance(cb, OriginalEvaluation)][0]
        self.best = int(np.argmax(self.cb.epoch_auc_))
        self.epochs = f"{det.n_iter_} (best test epoch {self.best + 1})"
        self.eval_time = float(np.mean(self.cb.eval_seconds_))
        self.fit_time_excluding_eval = None
        return self

    def anomaly(self, ctx):
        return self.cb.epoch_scores_[self.best]

    def last_epoch(self):
        return self.cb.epoch_scores_[-1]


PEERS = {
    "iforest": ("IsolationForest",
                lambda: _Peer(lambda c: IsolationForest(random_state=c["seed"]))),
    "lof": ("LOF", lambda: _Peer(lambda c: LocalOutlierFactor(novelty=True))),
    "ocsvm": ("OneClassSVM", lambda: _Peer(lambda c: OneClassSVM())),
    "pca": ("PCA reconstruction", lambda: _Peer(lambda c: PCAReconstruction())),
    "pyod_ae": ("PyOD AutoEncoder", lambda: _Peer(_pyod("AutoEncoder"), pyod=True)),
    "pyod_deepsvdd": ("PyOD DeepSVDD", lambda: _Peer(_pyod("DeepSVDD"), pyod=True)),
    "pyod_anogan": ("PyOD AnoGAN", lambda: _Peer(_pyod("AnoGAN"), pyod=True)),
    "pyod_alad": ("PyOD ALAD", lambda: _Peer(_pyod("ALAD"), pyod=True)),
    "ganomaly": ("GANomaly", _GANomaly),
    "ganomaly_original": ("GANomaly (original evaluation)", _GANomalyOriginal),
}
LAST_EPOCH_LABEL = "GANomaly (train-mode BN, last epoch)"
BN_RECAL_LABEL = "GANomaly + BN recalibration (proposal)"
LATENT_LOF_LABEL = "GANomaly latent_lof"


# -- measuring -------------------------------------------------------------------------


class PeakMemory:
    """Peak growth of the resident set size while the block runs (sampled)."""

    def __init__(self, interval=0.005):
        self.interval = interval

    @staticmethod
    def rss():
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            return 0

    def _sample(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self):
        self.base = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())
        self.growth_mib = (self.peak - self.base) / 2**20
        self.gpu_mib = (torch.cuda.max_memory_allocated() / 2**20
                        if torch.cuda.is_available() else None)
        return False


def _version(module):
    try:
        return __import__(module).__version__
    except Exception:  # noqa: BLE001 - absent or broken optional package
        return "not installed"


def machine_info(argv):
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.quality", *argv]),
        "python": platform.python_version(),
        "skganomaly": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": _version("skorch"),
        "numpy": np.__version__,
        "pyod": _version("pyod"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "none",
    }
    return info


def _machine_text(info):
    return (f"{info['cpu']}, {info['cores']} cores (torch threads "
            f"{info['torch_threads']}), GPU: {info['gpu']}")


def header_lines(info, settings):
    return [
        f"date: {info['date']}",
        f"command: {info['command']}",
        f"machine: {_machine_text(info)}",
        "versions: " + ", ".join(
            f"{k} {info[k]}" for k in ("python", "skganomaly", "torch", "scikit-learn",
                                       "skorch", "numpy", "pyod")),
        f"settings: {settings}",
        f"runtime: {info.get('runtime', 'n/a')}",
    ]


def _thin(fpr, tpr, n=200):
    if len(fpr) <= n:
        return fpr, tpr
    idx = np.unique(np.linspace(0, len(fpr) - 1, n).astype(int))
    return fpr[idx], tpr[idx]


class Progress:
    """Finished runs of one results file, saved after every run.

    The file ``<stem>.progress.json`` beside the results holds the rows and
    ROC curves of each finished (task, seed, method) run, the settings they
    were made with and the wall and CPU time of every call. With ``--resume``
    a call skips the runs it finds there, so a long run (the full protocols,
    or a GPU lent in calls of limited length) continues where it was stopped.
    The file is removed once the results are written.
    """

    def __init__(self, path, settings, resume):
        self.path, self.settings = Path(path), settings
        self.runs, self.calls = {}, []
        if resume and self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved["settings"] != settings:
                raise SystemExit(
                    f"{self.path} was written with other settings "
                    f"({saved['settings']}, now {settings}); run again without "
                    "--resume to start afresh, or with the earlier settings.")
            self.runs, self.calls = saved["runs"], saved["calls"]

    @staticmethod
    def _key(task, seed, method):
        return f"{task}|{seed}|{method}"

    def done(self, task, seed, method):
        return self._key(task, seed, method) in self.runs

    def rows(self, task, seed, method):
        return self.runs[self._key(task, seed, method)]["rows"]

    def rocs(self, task, seed, method):
        return {(task, name): (np.asarray(fpr), np.asarray(tpr))
                for name, fpr, tpr in self.runs[self._key(task, seed, method)]["rocs"]}

    def record(self, task, seed, method, rows, rocs):
        self.runs[self._key(task, seed, method)] = {
            "rows": rows,
            "rocs": [[name, fpr.tolist(), tpr.tolist()]
                     for (_, name), (fpr, tpr) in rocs.items()]}
        self.save()

    def start_call(self, info):
        self._call = {"date": info["date"], "command": info["command"],
                      "machine": _machine_text(info)}
        self._start = time.perf_counter(), time.process_time()

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"settings": self.settings, "calls": self.all_calls(),
                                   "runs": self.runs}))
        # Atomic, so that an interruption while writing loses nothing.
        os.replace(tmp, self.path)

    def all_calls(self):
        """Earlier calls, then this one so far (a killed call keeps the time
        up to its last finished run)."""
        wall, cpu = time.perf_counter(), time.process_time()
        return self.calls + [dict(self._call, wall_s=round(wall - self._start[0], 1),
                                  cpu_s=round(cpu - self._start[1], 1))]


def run(args, argv, progress):
    tasks, kind = load_suite(args.suite, args.data)
    tasks = select_tasks(tasks, args.tasks)
    methods = args.methods or list(PEERS)
    unknown = [m for m in methods if m not in PEERS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; known: {', '.join(PEERS)}")
    notes = []
    if any(m.startswith("pyod_") for m in methods) and _version("pyod") == "not installed":
        notes.append("PyOD is not installed (pip install '.[bench]'): PyOD "
                     "peers skipped.")
        methods = [m for m in methods if not m.startswith("pyod_")]

    rows, rocs = [], {}
    for task, X, y, anomaly in tasks:
        for seed in args.seeds:
            todo = [key for key in methods if not progress.done(task, seed, key)]
            for key in methods:
                if key not in todo:
                    rows.extend(progress.rows(task, seed, key))
                    rocs.update(progress.rocs(task, seed, key))
            if not todo:
                continue
            train, test, is_anomaly = make_split(y, anomaly, seed, args.max_train)
            peer_train, peer_test = peer_features(X[train], X[test], kind)
            ctx = dict(seed=seed, train=X[train], test=X[test], is_anomaly=is_anomaly,
                       peer_train=peer_train, peer_test=peer_test,
                       max_epochs=args.max_epochs, ganomaly_params=args.ganomaly_params,
                       latent_lof_row=args.latent_lof_row)
            for key in todo:
                label, factory = PEERS[key]
                runner = factory()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        with PeakMemory() as mem:
                            t0 = time.perf_counter()
                            runner.fit(ctx)
                            t1 = time.perf_counter()
                            scores = runner.anomaly(ctx)
                            t2 = time.perf_counter()
                    if not np.all(np.isfinite(scores)):
                        raise FloatingPointError("non-finite scores")
                except Exception as exc:  # noqa: BLE001 - a peer may fail
                    msg = f"{label} failed on {task} seed {seed}: {exc!r}"
                    print("  " + msg, file=sys.stderr)
                    if args.verbose:
                        traceback.print_exc()
                    notes.append(msg)
                    continue
                fit_s, score_s = t1 - t0, t2 - t1
                if isinstance(runner, _GANomalyOriginal):
                    # Fit time without the per-epoch test passes; score time =
                    # one test pass.
                    fit_s -= runner.eval_time * len(runner.cb.eval_seconds_)
                    score_s = runner.eval_time
                results = [(label, scores)]
                if isinstance(runner, _GANomalyOriginal):
                    results.append((LAST_EPOCH_LABEL, runner.last_epoch()))
                if isinstance(runner, _GANomaly) and args.latent_lof_row:
                    results.append((LATENT_LOF_LABEL, runner.latent_lof(ctx)))
                if isinstance(runner, _GANomaly) and args.bn_recalibration:
                    results.append((BN_RECAL_LABEL, runner.recalibrated(ctx)))
                run_rows, run_rocs = [], {}
                for name, s in results:
                    auc = roc_auc_score(is_anomaly, s)
                    ap = average_precision_score(is_anomaly, s)
                    run_rows.append(dict(
                        suite=args.suite, task=task, seed=seed, method=name,
                        auc=round(auc, 4), ap=round(ap, 4),
                        fit_s=round(fit_s, 2), score_s=round(score_s, 3),
                        peak_mem_mib=round(mem.growth_mib, 1),
                        gpu_mem_mib=("" if mem.gpu_mib is None
                                     else round(mem.gpu_mib, 1)),
                        n_train=len(train), n_test=len(test),
                        n_anomalies=int(is_anomaly.sum()),
                        epochs=getattr(runner, "epochs", ""),
                    ))
                    if seed == args.seeds[0]:
                        fpr, tpr, _ = roc_curve(is_anomaly, s)
                        run_rocs[(task, name)] = _thin(fpr, tpr)
                    print(f"{args.suite} {task:>10} seed {seed} {name:<38} "
                          f"AUC {auc:.3f} AP {ap:.3f} fit {fit_s:7.1f}s "
                          f"score {score_s:6.2f}s mem {mem.growth_mib:7.1f} MiB",
                          flush=True)
                rows.extend(run_rows)
                rocs.update(run_rocs)
                progress.record(task, seed, key, run_rows, run_rocs)
    return rows, rocs, notes


# -- writing ---------------------------------------------------------------------------


def _settings_text(args):
    gan = dict(GANomalyDetector().get_params())
    skip = {"image_shape", "contamination", "device",
            "callbacks", "warm_start", "verbose", "random_state"}
    gan = {k: v for k, v in gan.items() if k not in skip}
    if args.max_epochs is not None:
        gan["max_epochs"] = args.max_epochs
    gan.update(args.ganomaly_params)
    return (
        f"seeds {args.seeds}; tasks {args.tasks or 'all'}; training rows capped at "
        f"{args.max_train or 'no cap'}; GANomaly {gan}; original-evaluation variant: "
        f"same networks, no hold-out, test batches of {ORIGINAL_TEST_BATCH} in "
        f"training mode, best test epoch; deep peers' epochs: "
        f"{args.max_epochs if args.max_epochs is not None else 'library defaults'}; "
        "other peers: library defaults (PCA: 95 % variance)"
        + ("; extra GANomaly row: the same fitted model after re-estimating its "
           "BatchNorm statistics on the training rows (one pass, plain average)"
           if args.bn_recalibration else "")
        + ("; extra GANomaly row: score_type='latent_lof' of the same fit (the "
           "fit keeps the training codes; the GANomaly row is its latent score, "
           "the paper's)" if args.latent_lof_row else "")
    )


def _mean_std(values):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=0):.3f}"


def summary_table(rows, metric, methods, tasks):
    lines = ["| task | " + " | ".join(methods) + " |",
             "|---|" + "---|" * len(methods)]
    for task in tasks:
        cells = []
        for m in methods:
            v = [r[metric] for r in rows if r["task"] == task and r["method"] == m]
            cells.append(_mean_std(v) if v else "—")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    cells = []
    for m in methods:
        # Mean over tasks for each seed, then mean ± std over seeds.
        seeds = sorted({r["seed"] for r in rows if r["method"] == m})
        per_seed = []
        for s in seeds:
            v = [r[metric] for r in rows if r["method"] == m and r["seed"] == s]
            if len(v) == len(tasks):
                per_seed.append(np.mean(v))
        cells.append(f"**{_mean_std(per_seed)}**" if per_seed else "—")
    lines.append("| **mean** | " + " | ".join(cells) + " |")
    return lines


def _stem(args):
    return f"quality_{args.suite}" + (f"_{args.tag}" if args.tag else "")


def _fingerprint(args):
    """What must not change between the calls of a resumed run."""
    return {"suite": args.suite, "max_train": args.max_train,
            "max_epochs": args.max_epochs, "ganomaly_params": args.ganomaly_params,
            "bn_recalibration": args.bn_recalibration,
            "latent_lof_row": args.latent_lof_row, "skganomaly": __version__}


def write_results(rows, rocs, notes, args, info):
    out = Path(args.out)
    stem = _stem(args)
    settings = _settings_text(args)
    head = header_lines(info, settings)
    fields = ["suite", "task", "seed", "method", "auc", "ap", "fit_s", "score_s",
              "peak_mem_mib", "gpu_mem_mib", "n_train", "n_test", "n_anomalies",
              "epochs"]
    with open(out / f"{stem}.csv", "w", newline="") as f:
        for line in head:
            f.write(f"# {line}\n")
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    methods = list(dict.fromkeys(r["method"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    md = [f"# Quality: {args.suite}" + (f" ({args.tag})" if args.tag else ""), ""]
    md += [f"- {line}" for line in head]
    md += [f"- data: {DATA_NOTES[args.suite]}",
           "- protocol: one class is the anomaly; normal samples shuffled with the "
           "seed, 80 % train, test = other 20 % + all anomalies; no model "
           "selection on the test split except in the row labelled "
           "'original evaluation' (flawed protocol, shown to measure it).",
           f"- raw results: `{stem}.csv`" + ("" if args.no_figures else
                                            f"; figures: `{stem}_auc.png`, "
                                            f"`{stem}_roc.png`"), ""]
    md += ["## ROC AUC (mean ± std over seeds)", ""]
    md += summary_table(rows, "auc", methods, tasks)
    md += ["", "## Average precision, anomaly = positive class (mean ± std over "
           "seeds)", ""]
    md += summary_table(rows, "ap", methods, tasks)
    md += ["", "## Cost (mean over tasks and seeds)", "",
           "| method | fit s | score s | peak RSS growth MiB | epochs (first run) |",
           "|---|---|---|---|---|"]
    for m in methods:
        sel = [r for r in rows if r["method"] == m]
        md.append(f"| {m} | {np.mean([r['fit_s'] for r in sel]):.1f} | "
                  f"{np.mean([r['score_s'] for r in sel]):.2f} | "
                  f"{np.mean([r['peak_mem_mib'] for r in sel]):.0f} | "
                  f"{sel[0]['epochs']} |")
    md += ["", "Fit and score times are wall seconds on this machine (shared "
           "cores: see the load average above). Peak RSS growth is the resident "
           "memory added during fit + score beyond what the process already held; "
           "memory freed by earlier runs in the same process is reused, so later "
           "runs show less than a fresh process would (run one `--methods` value "
           "per process for stand-alone figures)."]
    if notes:
        md += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    (out / f"{stem}.md").write_text("\n".join(md) + "\n")

    if not args.no_figures:
        write_figures(rows, rocs, methods, tasks, out, stem, head)
    return out / f"{stem}.md"


def write_figures(rows, rocs, methods, tasks, out, stem, head):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figures", file=sys.stderr)
        return
    footer = "\n".join(textwrap.fill(line, 190) for line in head[:4])
    meta = {"Description": "\n".join(head)}
    colors = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("Dark2").colors)

    fig, ax = plt.subplots(figsize=(max(7, 0.12 * len(tasks) * len(methods)) + 3, 5))
    width = 0.8 / len(methods)
    x = np.arange(len(tasks))
    for j, m in enumerate(methods):
        means, stds = [], []
        for t in tasks:
            v = [r["auc"] for r in rows if r["task"] == t and r["method"] == m]
            means.append(np.mean(v) if v else np.nan)
            stds.append(np.std(v) if v else 0)
        ax.bar(x + (j - (len(methods) - 1) / 2) * width, means, width, yerr=stds,
               capsize=2, label=m, color=colors[j % len(colors)])
    ax.set_xticks(x, tasks, rotation=30 if len(tasks) > 8 else 0)
    ax.set_ylabel("ROC AUC (mean ± std over seeds)")
    ax.set_ylim(0, 1.05)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_title(f"{stem}: per-task AUC")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.text(0.01, 0.005, footer, fontsize=5, va="bottom", family="monospace")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out / f"{stem}_auc.png", dpi=110, metadata=meta)
    plt.close(fig)

    ncol = min(5, len(tasks))
    nrow = -(-len(tasks) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3 * ncol + 3, 3 * nrow + 1),
                             squeeze=False)
    for ax, t in zip(axes.flat, tasks):
        for j, m in enumerate(methods):
            if (t, m) in rocs:
                fpr, tpr = rocs[(t, m)]
                ax.plot(fpr, tpr, lw=1, color=colors[j % len(colors)], label=m)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls=":")
        ax.set_title(f"anomaly: {t}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(tasks):]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="upper right")
    fig.suptitle(f"{stem}: ROC curves (first seed)", fontsize=10)
    fig.text(0.01, 0.005, footer, fontsize=5, va="bottom", family="monospace")
    fig.tight_layout(rect=(0, 0.1, 1 - 2.8 / (3 * ncol + 3), 0.96))
    fig.savefig(out / f"{stem}_roc.png", dpi=110, metadata=meta)
    plt.close(fig)


# -- command line ----------------------------------------------------------------------


def _list(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.quality",
        description="ROC AUC / AP of GANomalyDetector and peers on one-class splits.")
    p.add_argument("--suite", choices=SUITES, required=True)
    p.add_argument("--data", default=str(common.DEFAULT_DATA),
                   help="folder holding mnist/, cifar10/, odds/ (default ../shared/data)")
    p.add_argument("--seeds", type=lambda s: [int(v) for v in _list(s)], default=[0, 1, 2])
    p.add_argument("--tasks", type=_list, default=None,
                   help="anomaly classes (indices or names) or ODDS set names; "
                        "default all")
    p.add_argument("--methods", type=_list, default=None,
                   help=f"subset of {','.join(PEERS)}; default all")
    p.add_argument("--max-epochs", type=int, default=None,
                   help="epochs of GANomaly and the deep peers (default: each "
                        "method's own default; GANomaly 15)")
    p.add_argument("--max-train", type=int, default=None,
                   help="cap on training rows (a seeded random subset of the "
                        "split's 80 %%); default no cap")
    p.add_argument("--ganomaly-params", type=json.loads, default={},
                   help='JSON of GANomalyDetector parameters, e.g. \'{"n_filters": 16}\'')
    p.add_argument("--bn-recalibration", action="store_true",
                   help="also score the GANomaly model after re-estimating its "
                        "BatchNorm statistics on the training rows (an extra row)")
    p.add_argument("--latent-lof-row", action="store_true",
                   help="also report score_type='latent_lof' from the same GANomaly "
                        "fit (an extra row; the GANomaly row is then the paper's "
                        "latent score, whatever the input kind)")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    p.add_argument("--out", default=str(RESULTS), help="output folder")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--verbose", action="store_true", help="tracebacks of failures")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs an interrupted call of the same command "
                        "finished (saved in <results>.progress.json) and do the rest")
    p.add_argument("--keep-progress", action="store_true",
                   help="keep the progress file after writing the results (to "
                        "merge the runs of calls made in parallel on other "
                        "tasks into one file, then call again with --resume)")
    args = p.parse_args(argv)
    if args.latent_lof_row and (
            args.ganomaly_params.get("score_type", "auto") not in ("auto", "latent")
            or args.ganomaly_params.get("generator", "ganomaly") != "ganomaly"):
        p.error("--latent-lof-row compares latent_lof with the latent score of the "
                "same fit: leave score_type and generator at their defaults")
    return args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    info = machine_info(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(out / f"{_stem(args)}.progress.json", _fingerprint(args),
                        args.resume)
    progress.start_call(info)
    rows, rocs, notes = run(args, argv, progress)
    calls = progress.all_calls()
    wall, cpu = sum(c["wall_s"] for c in calls), sum(c["cpu_s"] for c in calls)
    info["runtime"] = (f"{wall:.0f} s wall, {cpu:.0f} s CPU (all threads) for "
                       "the runs" + (f" over {len(calls)} calls (--resume)"
                                     if len(calls) > 1 else "")
                       + "; load average at the end "
                       f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if len(calls) > 1:
        notes = [f"call {i}: {c['date']}, `{c['command']}`, {c['machine']}, "
                 f"{c['wall_s']:.0f} s wall" for i, c in enumerate(calls, 1)] + notes
    if not rows:
        raise SystemExit("no results")
    path = write_results(rows, rocs, notes, args, info)
    if not args.keep_progress:
        progress.path.unlink(missing_ok=True)
    print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main()
