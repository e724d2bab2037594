"""
=============================
Grid search on a Dask cluster
=============================

A grid search fits one detector per candidate and fold, and these fits are
independent: work to spread over the workers of a cluster. joblib, which
scikit-learn's searches use to run their fits, has a backend for
`Dask <https://distributed.dask.org>`_: inside
``joblib.parallel_config(backend="dask")`` the fits of
:class:`~sklearn.model_selection.GridSearchCV` run on the workers of a
``dask.distributed`` cluster, and nothing else about the search changes.

Here the cluster is a local one, two worker processes on this machine; the
same code runs on a cluster of many machines given a ``Client`` connected to
it. Install with ``pip install "skganomaly[distributed]"`` (Dask and Ray).
The tuning itself follows :ref:`the one-class tuning example
<sphx_glr_auto_examples_plot_one_class_tuning.py>`: digits with the digit 8
as the anomaly, folds that never train on an anomaly.
"""

# %%
# Data and search
# ---------------
# Nothing here knows about the cluster.
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skganomaly import GANomalyDetector
from skganomaly.model_selection import NormalOnlyKFold, anomaly_scorers

X, digit = load_digits(return_X_y=True)
y = np.where(digit == 8, -1, 1)  # +1 normal, -1 anomaly
rng = np.random.RandomState(0)
order = rng.permutation(len(X))
dev, test = order[: len(X) // 2], order[len(X) // 2:]

search = GridSearchCV(
    GANomalyDetector(image_shape=(8, 8), random_state=0),
    {"latent_dim": [16, 100], "max_epochs": [5, 15]},
    cv=NormalOnlyKFold(n_splits=2, shuffle=True, random_state=0),
    scoring=anomaly_scorers(),
    refit=False,  # refit=True would refit on the anomalies too
    n_jobs=-1,    # as many fits at once as the backend allows
)

# %%
# A local cluster of two worker processes
# ---------------------------------------
# One thread per worker, and torch told so: small networks train fastest on
# one thread, and a worker running two fits in two threads would let them
# share torch's global random state, so seeded fits would no longer be
# reproducible. This process uses one torch thread too, so that its fits
# (the final model below) do the same arithmetic as the workers' and do not
# compete with them for the cores. Worker *processes* import the script
# that starts them again, as Python's ``multiprocessing`` does, hence the
# ``if __name__ == "__main__":`` that keeps them from starting clusters of
# their own.
import torch
from distributed import Client, LocalCluster

torch.set_num_threads(1)

if __name__ == "__main__":
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    client.run(torch.set_num_threads, 1)
    print(client)

# %%
# The search on the cluster
# -------------------------
# ``parallel_config(backend="dask")`` sends the fits to the cluster of the
# current ``Client``. ``get_task_stream`` records which worker ran what, for
# the figure below.
import time

from distributed import get_task_stream
from joblib import parallel_config

if __name__ == "__main__":
    start = time.perf_counter()
    with get_task_stream(client) as task_stream, parallel_config(backend="dask"):
        search.fit(X[dev], y[dev])
    wall_time = time.perf_counter() - start
    results = search.cv_results_
    n_splits = search.n_splits_
    busy = n_splits * np.sum(results["mean_fit_time"] + results["mean_score_time"])
    print(f"{len(results['params']) * n_splits} fits in {wall_time:.1f} s on 2 "
          f"workers ({busy:.1f} s of fitting and scoring)")

# %%
# Results
# -------
# ``cv_results_`` is that of the same search run in this process: the same
# scores, bit for bit, since the workers and this process use one torch
# thread each (skganomaly's tests check this). As in :ref:`the grid search example
# <sphx_glr_auto_examples_plot_grid_search.py>`, only the large code trained
# for 15 epochs ranks the eights above the other digits (AUC above 0.5) on
# these small folds.
if __name__ == "__main__":
    print("latent_dim  max_epochs   ROC AUC    avg prec.   fit time (s)")
    for i in np.argsort(-results["mean_test_roc_auc"]):
        p = results["params"][i]
        print(f"{p['latent_dim']:>10} {p['max_epochs']:>11}   "
              f"{results['mean_test_roc_auc'][i]:.3f}      "
              f"{results['mean_test_average_precision'][i]:.3f}      "
              f"{results['mean_fit_time'][i]:.2f}")

# %%
# On the left, the validation ROC AUC of each candidate; on the right, the
# tasks each worker computed over time (joblib hands the fits to Dask in
# batches, one task per batch).
import matplotlib.pyplot as plt

if __name__ == "__main__":
    fig, (ax_auc, ax_time) = plt.subplots(1, 2, figsize=(9, 3.2))
    labels = [f"z={p['latent_dim']}, {p['max_epochs']} epochs"
              for p in results["params"]]
    ax_auc.barh(labels, results["mean_test_roc_auc"],
                xerr=results["std_test_roc_auc"], color="tab:blue")
    ax_auc.axvline(0.5, color="gray", linestyle="--", linewidth=1)  # chance
    ax_auc.set(xlim=(0, 1), xlabel="validation ROC AUC (anomaly = positive)")

    workers = sorted({task["worker"] for task in task_stream.data})
    t0 = min(s["start"] for task in task_stream.data for s in task["startstops"])
    for task in task_stream.data:
        for span in task["startstops"]:
            if span["action"] == "compute":
                ax_time.barh(workers.index(task["worker"]), span["stop"] - span["start"],
                             left=span["start"] - t0, color="tab:green",
                             edgecolor="white")
    ax_time.set(yticks=range(len(workers)),
                yticklabels=[f"worker {i + 1}" for i in range(len(workers))],
                xlabel="seconds since the first task", title="tasks on the workers")
    fig.tight_layout()
    plt.show()

# %%
# Final model, then shut the cluster down
# ---------------------------------------
# The best settings are refitted on the normal development rows, here, and
# tested once on rows the search never saw.
from skganomaly.model_selection import anomaly_roc_auc_scorer

if __name__ == "__main__":
    best = results["params"][int(np.argmax(results["mean_test_roc_auc"]))]
    final = GANomalyDetector(image_shape=(8, 8), random_state=0,
                             **best).fit(X[dev][y[dev] == 1])
    print(f"best {best}: test ROC AUC "
          f"{anomaly_roc_auc_scorer(final, X[test], y[test]):.3f}")
    client.close()
    cluster.close()

# %%
# On a real cluster, and on Ray
# -----------------------------
# Connect a ``Client`` to the cluster's scheduler instead of starting a
# ``LocalCluster``; start each worker with one thread (``dask worker
# tcp://scheduler:8786 --nthreads 1``) and, on GPU machines, one GPU per
# worker (``CUDA_VISIBLE_DEVICES``). The workers (and the scheduler, which
# reads the tasks) need skganomaly and the same library versions:
#
# .. code-block:: python
#
#     client = Client("tcp://scheduler:8786")
#     with parallel_config(backend="dask"):
#         search.fit(X, y)
#
# On a Ray cluster, register Ray's joblib backend instead:
#
# .. code-block:: python
#
#     import ray
#     from ray.util.joblib import register_ray
#
#     ray.init()  # or ray.init(address="auto") on a running cluster
#     register_ray()
#     with parallel_config(backend="ray"):
#         search.fit(X, y)
