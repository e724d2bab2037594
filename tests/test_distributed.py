"""Searches and fitted detectors on a cluster: joblib's Dask and Ray backends.

The workers are other processes with one torch thread each, like the main
process of the tests (see conftest.py), so a search run through a backend
must give the scores of the same search run here, bit for bit.

==========================================================  ==========================
Case                                                        Outcome
==========================================================  ==========================
``GridSearchCV`` / ``RandomizedSearchCV`` on Dask workers   the sequential scores
``GridSearchCV`` on Ray workers                             the sequential scores
detector fitted on a worker, sent back; fitted here, sent   identical scores
GPU-trained detector unpickled on a CPU-only worker         scores on the CPU,
                                                            ``device_ == 'cpu'``
==========================================================  ==========================
"""

import os

import numpy as np
import pytest
import torch
from distributed import Client, LocalCluster
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from skganomaly import GANomalyDetector
from skganomaly.model_selection import NormalOnlyKFold, anomaly_roc_auc_scorer


def make_data():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(120, 5)), rng.normal(loc=3.0, size=(20, 5))])
    y = np.r_[np.ones(120, int), -np.ones(20, int)]
    return X, y


X, Y = make_data()
X_NORMAL = X[Y == 1]


def make_detector():
    # The ``tiny`` settings of conftest.py (a plain function: fixtures are
    # not available inside the module-scoped ones below).
    return GANomalyDetector(latent_dim=4, n_filters=4, max_epochs=2, batch_size=32,
                            random_state=0)


def where_scorers():
    """The validation ROC AUC, plus two "scores" that tell where and how
    each fit ran: the process id and torch's number of threads. Defined in a
    function so that cloudpickle sends them by value to the workers, which
    cannot import this test module."""

    def pid(estimator, X, y):
        return float(os.getpid())

    def threads(estimator, X, y):
        return float(torch.get_num_threads())

    return {"auc": anomaly_roc_auc_scorer, "pid": pid, "threads": threads}


def make_search(kind, n_jobs=None):
    kwargs = dict(cv=NormalOnlyKFold(2, shuffle=True, random_state=0),
                  scoring=where_scorers(), refit=False, n_jobs=n_jobs)
    if kind == "grid":
        return GridSearchCV(make_detector(), {"latent_dim": [2, 4]}, **kwargs)
    return RandomizedSearchCV(make_detector(), {"latent_dim": [2, 3, 4],
                                                "loss_weights": [(1, 10, 1), (1, 50, 1)]},
                              n_iter=2, random_state=0, **kwargs)


def auc_results(search):
    return {k: v for k, v in search.cv_results_.items()
            if k.startswith("split") and k.endswith("_test_auc")}


def pids(search):
    return {int(search.cv_results_[f"split{k}_test_pid"][i])
            for k in range(2) for i in range(len(search.cv_results_["params"]))}


def assert_same_scores(search, reference):
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    got, expected = auc_results(search), auc_results(reference)
    assert sorted(got) == sorted(expected) == ["split0_test_auc", "split1_test_auc"]
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    # Each fit ran with one torch thread, in another process.
    assert np.all(search.cv_results_["mean_test_threads"] == 1)
    assert os.getpid() not in pids(search)


@pytest.fixture(scope="module")
def sequential():
    """The searches run here, one fit after the other (memoised)."""
    done = {}

    def run(kind):
        if kind not in done:
            done[kind] = make_search(kind).fit(X, Y)
            assert pids(done[kind]) == {os.getpid()}
        return done[kind]

    return run


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        # Dask's nanny starts workers with OMP_NUM_THREADS=1 already; say it
        # explicitly, as a deployment should.
        client.run(torch.set_num_threads, 1)
        yield client


# -- Dask ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["grid", "random"])
def test_a_search_on_dask_workers_gives_the_sequential_scores(client, sequential, kind):
    with parallel_config(backend="dask"):
        search = make_search(kind, n_jobs=-1).fit(X, Y)
    assert_same_scores(search, sequential(kind))
    assert pids(search) <= set(client.run(os.getpid).values())


def test_a_fitted_detector_travels_between_processes(client):
    local = make_detector().fit(X_NORMAL)
    expected = local.score_samples(X)
    # Fitted on a worker, sent back here.
    remote = client.submit(make_detector().fit, X_NORMAL).result()
    np.testing.assert_array_equal(remote.score_samples(X), expected)
    assert remote.offset_ == local.offset_
    # Fitted here, scored on a worker.
    np.testing.assert_array_equal(
        client.submit(local.score_samples, X).result(), expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
# skorch's DeviceWarning: where the detector is unpickled on a CPU-only host,
# the worker and here (the scheduler, in this process, unpickles the task).
@pytest.mark.filterwarnings("ignore::skorch.exceptions.DeviceWarning")
def test_a_gpu_trained_detector_scores_on_a_cpu_only_worker(client):
    det = make_detector().fit(X_NORMAL)
    expected = det.score_samples(X)
    # What a detector trained on a GPU looks like (its weights pickle as CPU
    # tensors either way).
    det.device_ = det.net_.device = "cuda:0"

    def use_on_worker(det, X):
        scores = det.score_samples(X)
        det.set_params(warm_start=True, max_epochs=1).fit(X[:100])
        return det.device_, scores, det.n_iter_, torch.cuda.is_initialized()

    device, scores, n_iter, cuda_used = client.submit(use_on_worker, det, X).result()
    assert device == "cpu" and n_iter == 3 and not cuda_used
    np.testing.assert_array_equal(scores, expected)


# -- Ray -------------------------------------------------------------------------------


def test_a_search_on_ray_workers_gives_the_sequential_scores(sequential):
    ray = pytest.importorskip(
        "ray", reason="Ray is not installed (pip install 'skganomaly[distributed]')")
    from ray.util.joblib import register_ray

    # Ray starts its workers with OMP_NUM_THREADS=1 (one CPU per task).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        with parallel_config(backend="ray"):
            search = make_search("grid", n_jobs=-1).fit(X, Y)
    finally:
        ray.shutdown()
    assert_same_scores(search, sequential("grid"))
