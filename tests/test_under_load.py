"""Under load: concurrent scoring, bounded memory, reproducibility across
processes.

==============================================  ===========================================
Case                                            Outcome
==============================================  ===========================================
``score_samples`` from 8 threads at once        bit-identical to sequential calls on the
                                                same arrays (tabular and image models)
scoring many rows                               scaled and scored one batch of
                                                ``max(batch_size, 256)`` rows at a time;
                                                results written into one preallocated
                                                array (peak memory: see below)
same ``random_state``, two fresh processes      bit-identical scores and ``offset_`` on
                                                CPU (tabular and image models)
==============================================  ===========================================

Measured peak memory (``python -m benchmarks.speed --memory --rss-rows
1000000 --features 20``, CPU, torch 2.13): scoring 10**6 rows of 20 float64 features
(153 MiB of input) raised the process's peak RSS by 8 MiB, which is the
float64 score array itself; 2 * 10**6 rows: +16 MiB. Before the scores were
gathered into a preallocated array, the per-batch arrays fragmented the heap
and the same call added 110 MiB (325 MiB for 2 * 10**6 rows).
"""

import hashlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from skganomaly import GANomalyDetector
from skganomaly._data import InputScaler

TINY = dict(latent_dim=3, n_filters=4, max_epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def models():
    rng = np.random.RandomState(0)
    tabular = rng.normal(size=(200, 5))
    images = rng.randint(0, 256, size=(40, 9, 7)).astype(np.float64)
    return [
        (GANomalyDetector(**TINY).fit(tabular), rng.normal(size=(600, 5)) * 2),
        (GANomalyDetector(**TINY).fit(images), rng.uniform(0, 255, size=(90, 9, 7))),
    ]


@pytest.mark.parametrize("which", [0, 1], ids=["tabular", "images"])
def test_concurrent_scoring_equals_sequential(models, which):
    det, X = models[which]
    chunks = [X, X[:1], *np.array_split(X, 7)] * 3
    sequential = [det.score_samples(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(det.score_samples, chunks))
        predicted = list(pool.map(det.predict, chunks))
    for got, expected, labels in zip(concurrent, sequential, predicted):
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(labels, np.where(expected < det.offset_, -1, 1))


def test_scoring_works_batch_by_batch(models, monkeypatch):
    det, _ = models[0]
    X = np.random.RandomState(1).normal(size=(1000, 5))
    expected = det.score_samples(X)
    rows = []
    real = InputScaler.transform

    def spy(self, batch):
        rows.append(len(batch))
        return real(self, batch)

    monkeypatch.setattr(InputScaler, "transform", spy)
    np.testing.assert_array_equal(det.score_samples(X), expected)
    assert max(rows) == 256 and sum(rows) == 1000 and len(rows) == 4


_SCRIPT = """
import hashlib, sys, numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))  # results depend on the thread count
from skganomaly import GANomalyDetector
rng = np.random.RandomState(42)
tabular, images = rng.normal(size=(80, 4)), rng.uniform(0, 255, size=(24, 10, 10))
digest = hashlib.sha256()
for X in (tabular, images):
    det = GANomalyDetector(latent_dim=3, n_filters=4, max_epochs=2, batch_size=16,
                           device="cpu", random_state=7).fit(X)
    digest.update(det.score_samples(X).tobytes())
    digest.update(np.float64(det.offset_).tobytes())
print(digest.hexdigest())
"""


def test_same_random_state_is_bit_identical_across_processes(capsys):
    # This process and a fresh one run the same script.
    threads = str(torch.get_num_threads())
    other = subprocess.run([sys.executable, "-c", _SCRIPT, threads],
                           capture_output=True, text=True, check=True, timeout=300)
    saved_argv = sys.argv
    try:
        sys.argv = ["-c", threads]
        exec(compile(_SCRIPT, "<script>", "exec"), {"__name__": "__script__"})
    finally:
        sys.argv = saved_argv
    here = capsys.readouterr().out.strip()
    assert len(here) == len(hashlib.sha256().hexdigest())
    assert other.stdout.strip() == here


@pytest.mark.parametrize("collapse", [False, True],
                         ids=["initial-weights", "discriminator-redrawn-every-step"])
def test_fits_in_threads_at_once_equal_sequential_fits(monkeypatch, collapse):
    """torch's global generator is shared by the whole process; fits in
    threads at once (joblib's threading backend, Dask workers' threads) must
    still draw what they draw alone."""
    import threading

    from skganomaly import net as net_module

    if collapse:
        # Re-draw the discriminator after every step: many draws mid-training.
        monkeypatch.setattr(net_module, "D_COLLAPSE", float("inf"))
    rng = np.random.RandomState(0)
    jobs = [(seed, rng.normal(size=(64, 5)) if seed % 2 else
             rng.uniform(0, 255, size=(24, 9, 7))) for seed in range(6)]

    def fit(job, barrier=None):
        seed, X = job
        if barrier is not None:
            barrier.wait()
        det = GANomalyDetector(**dict(TINY, max_epochs=1, random_state=seed)).fit(X)
        return det.score_samples(X)

    sequential = [fit(job) for job in jobs]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the threads as finely as possible
    try:
        barrier = threading.Barrier(len(jobs))
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            concurrent = list(pool.map(lambda job: fit(job, barrier), jobs))
    finally:
        sys.setswitchinterval(switch)
    for got, expected in zip(concurrent, sequential):
        np.testing.assert_array_equal(got, expected)
