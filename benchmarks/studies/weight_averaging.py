"""Development study: how much does the latent score move from epoch to epoch?

Used to choose ``ema_decay`` (see docs/benchmarks.rst, "Weight averaging").
On the *development* seed of the digits protocol (seed 1, never reported) it
trains ``GANomalyDetector`` with the package defaults but without early
stopping and without weight averaging (``ema_decay=0``) for a fixed number
of epochs, and after every epoch measures the test ROC AUC of the latent
score of

- the weights the optimizer just produced (what the paper scores), and
- exponential moving averages of those weights with the given decays
  (the warm-up rule of ``ema_decay``), kept beside the training.

Each model's BatchNorm statistics are re-estimated on the training rows
first, as ``refresh_batchnorm=True`` does after ``fit``. The test split is
only *looked at* here, to see how noisy a single epoch's model is; nothing
is chosen from it (the package's default was chosen with the ordinary
digits protocol on this seed, ``benchmarks.quality --seeds 1``).

It prints one line per epoch, then, per model, the mean and standard
deviation of the AUC over the second half of the epochs and the mean
absolute change from one epoch to the next, and appends everything to
``studies/results/weight_averaging.log``.

Usage::

    python -m benchmarks.studies.weight_averaging [--tasks 6,8] [--seed 1]
        [--epochs 45] [--decays 0.99,0.999]
"""

import argparse
import copy
import time

import numpy as np
import torch
from skorch.callbacks import Callback
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector

from .. import common
from ..common import STUDY_RESULTS as OUT, ema_step, study_log
from .digits_variants import scaled


# What the probe needs besides the net: set per task (callbacks are cloned
# by the detector, so they cannot carry data themselves).
_TASK = {}


def latent_auc(net, module, x_train, x_test, is_anomaly):
    """Test ROC AUC of the latent score of a copy of ``module`` whose
    BatchNorm statistics are re-estimated on ``x_train`` (both scaled)."""
    module = copy.deepcopy(module)
    net.refresh_batchnorm((x_train[k:k + 64] for k in range(0, len(x_train), 64)),
                          module=module)
    with torch.no_grad():
        x = net.prepare_input(x_test)
        x_hat, z, z_hat = module(x)
    return roc_auc_score(is_anomaly, net.latent_errors(x, x_hat, z, z_hat).numpy())


class AUCProbe(Callback):
    """Keeps moving averages of the generator's weights beside training and
    measures every model's test AUC at each epoch's end."""

    def on_train_begin(self, net, **kwargs):
        # The detector has fitted its input scaling by now.
        det, X = _TASK["det"], _TASK["X"]
        _TASK["x_train"] = scaled(det, X[_TASK["train"]])
        _TASK["x_test"] = scaled(det, X[_TASK["test"]])
        self.decays = _TASK["decays"]
        self.steps = 0
        self.averages = [copy.deepcopy(net.module_) for _ in self.decays]
        self.rows = []

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        for decay, average in zip(self.decays, self.averages):
            ema_step([p.detach() for p in average.parameters()], net.module_,
                     decay, self.steps)
        self.steps += 1

    def on_epoch_end(self, net, **kwargs):
        args = (_TASK["x_train"], _TASK["x_test"], _TASK["is_anomaly"])
        row = [latent_auc(net, net.module_, *args)]
        row += [latent_auc(net, average, *args) for average in self.averages]
        self.rows.append(row)
        _TASK["say"](f"  epoch {len(net.history):3d} " + " ".join(
            f"{v:.3f}" for v in row))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.weight_averaging")
    p.add_argument("--tasks", default="6,8")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=45)
    p.add_argument("--decays", default="0.99,0.999")
    args = p.parse_args(argv)
    decays = [float(d) for d in args.decays.split(",")]
    X, y = common.load_digits_images()
    X = X.astype(np.float32)
    names = ["last step"] + [f"EMA {d}" for d in decays]
    with study_log(OUT / "weight_averaging.log") as say:
        say(f"# python -m benchmarks.studies.weight_averaging --tasks {args.tasks} "
            f"--seed {args.seed} --epochs {args.epochs} --decays {args.decays}; "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"columns: epoch, test ROC AUC of {', '.join(names)}")
        for digit in [int(t) for t in args.tasks.split(",")]:
            train, test, is_anomaly = common.one_class_split(y, digit, args.seed)
            det = GANomalyDetector(random_state=args.seed, max_epochs=args.epochs,
                                   early_stopping=False, ema_decay=0.0,
                                   callbacks=[AUCProbe()])
            _TASK.update(det=det, X=X, train=train, test=test, decays=decays,
                         is_anomaly=is_anomaly, say=say)
            say(f"digit {digit}")
            start = time.perf_counter()
            det.fit(X[train])
            probe = dict(det.net_.callbacks_)["AUCProbe"]
            rows = np.array(probe.rows)
            late = rows[len(rows) // 2:]
            for k, name in enumerate(names):
                say(f"  {name:>10}: second half mean {late[:, k].mean():.3f} "
                    f"std {late[:, k].std():.3f}; mean |change| per epoch "
                    f"{np.abs(np.diff(rows[:, k])).mean():.3f}; last {rows[-1, k]:.3f}")
            say(f"  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
