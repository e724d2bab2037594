"""
Training on several GPUs with accelerate
=========================================

A script to start with Hugging Face ``accelerate``: it trains one
:class:`~skganomaly.GANomalyDetector` on several GPUs at once (data
parallel, one process per GPU), in bfloat16 mixed precision where the GPUs
support it::

    pip install "skganomaly[accelerate]"
    accelerate launch --multi_gpu --num_processes 2 examples/accelerate_train.py

``accelerate launch`` starts the processes; each one runs this whole script.
Every process trains on its share of each epoch (``batch_size`` images per
process and step, so 2 x 64 here) and the gradients are averaged, so all
processes end with the same detector. Only the main process prints and
saves. Started with plain ``python``, the script trains in one process, on
the GPU if there is one and on the CPU otherwise.

Every process must build the same training set and use the same int
``random_state``: the detector checks that before training.

The documentation build does not run this script (it needs ``accelerate``,
and several GPUs to show anything).
"""

import sys

import numpy as np
import torch
from accelerate import Accelerator
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from skganomaly import GANomalyDetector

# bfloat16 autocast where the GPU runs it natively, float32 otherwise. The
# accelerator's device and mixed precision replace the detector's `device`
# and `precision` parameters. Without a GPU, cpu=True makes launched
# processes train together on the CPU (otherwise each would train alone).
gpu = torch.cuda.is_available()
accelerator = Accelerator(cpu=not gpu, mixed_precision=(
    "bf16" if gpu and torch.cuda.is_bf16_supported() else "no"))

# Digit 8 is the anomaly; train on 80 % of the other digits. The split is
# seeded, so every process draws the same one.
X, y = load_digits(return_X_y=True)
normal = np.random.RandomState(0).permutation(np.flatnonzero(y != 8))
n_train = int(0.8 * len(normal))
train = normal[:n_train]
test = np.concatenate([normal[n_train:], np.flatnonzero(y == 8)])

detector = GANomalyDetector(image_shape=(8, 8), random_state=0,
                            accelerator=accelerator)
detector.fit(X[train])

# Every process holds the same fitted detector; scoring needs no
# communication between them.
scores = detector.score_samples(X[test])
auc = roc_auc_score(y[test] == 8, -scores)
accelerator.print(
    f"{accelerator.num_processes} process(es) on {detector.device_}, "
    f"{detector.precision_}: {detector.n_iter_} epochs, ROC AUC {auc:.3f}")

if len(sys.argv) > 1 and accelerator.is_main_process:
    # The file holds the weights and settings, not the accelerator: it loads
    # anywhere, with or without accelerate.
    accelerator.print("saved to", detector.save(sys.argv[1]))

# Close the processes' connections before they exit.
accelerator.wait_for_everyone()
accelerator.end_training()
