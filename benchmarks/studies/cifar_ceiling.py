"""Why the CIFAR-10 protocol holds every detector here at 0.5.

In the leave-one-class-out protocol each class in turn is the anomaly and
the other nine are normal. Take any score ``s`` that does not depend on
which class was left out (an image statistic, or a detector fitted on all
ten classes). Its AUC for class ``k`` is the chance that a class-``k``
image outscores an image of another class ``j``, averaged over ``j``; the
pair ``(j, k)`` contributes the complement, so over the ten tasks the
per-class AUCs cancel and their mean is 1/2, however far each one is from
1/2. What lifts the mean above 1/2 is only what a detector learns from the
*absence* of the anomaly class in its training rows.

This script measures both parts on the same images. Each seed splits the
10,000 images once into a reference part (80 %) and a test part (20 %); for
class ``k`` the test labels are "class ``k``" on the same test images, so
every row of the table is scored on identical data:

- fixed scores: contrast (each image's pixel standard deviation) and
  brightness (its mean);
- LOF on pixels fitted on the whole reference part (all ten classes: blind
  to the anomaly class), and fitted as the protocol says (the reference
  part without class ``k``); their difference is what LOF learns from the
  class's absence;
- with ``--rotation-epochs N``: scores from a self-supervised network
  (GANomaly's encoder architecture trained to predict which of four
  rotations an image shows): its rotation loss (Golan and El-Yaniv's
  score) and LOF on its features. Trained on the whole reference part, it
  sees the anomaly class; with ``--rotation-per-task`` one network per
  class is also trained as the protocol says, without it (ten times the
  training).

No setting is tuned on these splits: LOF keeps scikit-learn's defaults and
the rotation network GANomaly's optimiser (Adam, lr 2e-4, beta1 0.5, batch
64)::

    python -m benchmarks.studies.cifar_ceiling --data ../shared/data --rotation-epochs 15
    python -m benchmarks.studies.cifar_ceiling --data ../shared/data --seeds 0 \
        --rotation-epochs 15 --rotation-per-task \
        --out benchmarks/studies/results/cifar_ceiling_per_task.md

print a table and write ``benchmarks/studies/results/cifar_ceiling.md`` and
``cifar_ceiling_per_task.md``.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor

from ..common import DEFAULT_DATA, STUDY_RESULTS as RESULTS, ConvEncoder, cpu_model, load_cifar10
from .cifar_contrast import CLASSES


def reference_test_split(n, seed, fraction=0.8):
    """Seeded indices ``(reference, test)`` over all ``n`` images."""
    order = np.random.RandomState(seed).permutation(n)
    cut = int(fraction * n)
    return order[:cut], order[cut:]


def class_aucs(anomaly_score, y_test, n_classes):
    """ROC AUC of ``anomaly_score(k)`` (higher = more anomalous) for each
    class ``k`` as the anomaly, on the same test rows."""
    return np.array([roc_auc_score(y_test == k, anomaly_score(k))
                     for k in range(n_classes)])


def lof_anomaly(features, fit_rows, test):
    """LOF's anomaly score (higher = more anomalous) of the test rows, fitted
    with scikit-learn's defaults on ``fit_rows``."""
    return -LocalOutlierFactor(novelty=True).fit(
        features[fit_rows]).score_samples(features[test])


def without_class(reference, y, k):
    """The reference rows that are not of class ``k``."""
    return reference[y[reference] != k]


def lof_rows(features, y, reference, test, n_classes):
    """AUCs of LOF fitted on the whole reference part and on the reference
    part without the anomaly class."""
    blind = lof_anomaly(features, reference, test)
    return (class_aucs(lambda k: blind, y[test], n_classes),
            class_aucs(lambda k: lof_anomaly(
                features, without_class(reference, y, k), test),
                y[test], n_classes))


def rotations(x):
    """The four 90-degree rotations of a batch, stacked, and their labels."""
    turned = torch.cat([torch.rot90(x, k, (2, 3)) for k in range(4)])
    return turned, torch.arange(4).repeat_interleave(len(x))


def train_rotation_net(images, train, epochs, seed, batch_size=64):
    """GANomaly's encoder trained to predict an image's rotation (one of
    four) on ``images[train]``, with random horizontal flips."""
    torch.manual_seed(seed)
    net = ConvEncoder(images.shape[-1], images.shape[1], 64, 4)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(seed)
    x_train = images[train]
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), batch_size):
            x = x_train[order[i:i + batch_size]]
            flip = torch.rand(len(x), generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            x, label = rotations(x)
            loss = F.cross_entropy(net(x), label)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(label)
        print(f"  rotation epoch {epoch + 1}/{epochs}: loss "
              f"{total / (4 * len(x_train)):.3f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    return net.eval()


@torch.no_grad()
def rotation_outputs(net, images, batch_size=500):
    """Every image's L2-normalised 4x4 feature map (the layer before the
    encoder's last convolution) and its rotation loss (the cross-entropy
    summed over its four rotations: Golan and El-Yaniv's anomaly score)."""
    features, losses = [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        features.append(F.normalize(net.features(x).flatten(1), dim=1))
        turned, label = rotations(x)
        loss = F.cross_entropy(net(turned), label, reduction="none")
        losses.append(loss.view(4, len(x)).sum(0))
    return torch.cat(features).numpy(), torch.cat(losses).numpy()


def rotation_rows(images, y, reference, test, epochs, seed, per_task):
    """Rows of scores from rotation networks: one trained on the whole
    reference part (sees the anomaly class) and, with ``per_task``, one per
    class trained as the protocol says (without it)."""
    n_classes = len(CLASSES)
    features, losses = rotation_outputs(
        train_rotation_net(images, reference, epochs, seed), images)
    blind, seen = lof_rows(features, y, reference, test, n_classes)
    rows = {"LOF rotation features, blind": blind,
            "LOF rotation features learned with the class, fitted without it":
                seen,
            "rotation loss, network trained on all ten classes": class_aucs(
                lambda k: losses[test], y[test], n_classes)}
    if per_task:
        lof, loss = np.zeros(n_classes), np.zeros(n_classes)
        for k in range(n_classes):
            kept = without_class(reference, y, k)
            print(f"  without {CLASSES[k]}:", flush=True)
            features, losses = rotation_outputs(
                train_rotation_net(images, kept, epochs, seed), images)
            is_k = y[test] == k
            lof[k] = roc_auc_score(is_k, lof_anomaly(features, kept, test))
            loss[k] = roc_auc_score(is_k, losses[test])
        rows["LOF rotation features, protocol (network and LOF without the class)"] = lof
        rows["rotation loss, protocol (network without the class)"] = loss
    return rows


def run(data_dir, seeds, rotation_epochs, per_task=False):
    X, y = load_cifar10(data_dir)
    n_classes = len(CLASSES)
    pixels = X.reshape(len(X), -1).astype(np.float32) / 255.0
    fixed = {"contrast (pixel std)": pixels.std(axis=1),
             "brightness (pixel mean)": pixels.mean(axis=1)}
    images = torch.from_numpy(X).float() / 127.5 - 1 if rotation_epochs else None
    auc = {}  # row name -> array (seed, class)

    def put(name, s, values):
        auc.setdefault(name, np.zeros((len(seeds), n_classes)))[s] = values

    for s, seed in enumerate(seeds):
        reference, test = reference_test_split(len(X), seed)
        for name, score in fixed.items():
            put(name, s, class_aucs(lambda k: score[test], y[test], n_classes))
        blind, protocol = lof_rows(pixels, y, reference, test, n_classes)
        put("LOF pixels, blind (all ten classes)", s, blind)
        put("LOF pixels, protocol (without the anomaly class)", s, protocol)
        if rotation_epochs:
            for name, values in rotation_rows(images, y, reference, test,
                                              rotation_epochs, seed,
                                              per_task).items():
                put(name, s, values)
        print(f"seed {seed}: " + ", ".join(
            f"{name} {a[s].mean():.3f}" for name, a in auc.items()), flush=True)
    return auc


def to_markdown(auc, seeds, rotation_epochs, per_task, command):
    lines = [
        "# CIFAR-10: what a score gains from the anomaly class's absence",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"command: `{command}`",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores; scikit-learn "
        f"{sklearn.__version__}, torch {torch.__version__}",
        "- data: CIFAR-10 **test set, lossy JPEG copy**; per seed one split of "
        "all 10,000 images into reference (80 %) and test (20 %) parts; class k "
        f"anomalous = the same test images labelled 'class k'; seeds {seeds}",
        "- blind: fitted on the whole reference part; protocol: on the "
        "reference part without the anomaly class",
        f"- rotation features: {rotation_epochs} epochs of 4-way rotation "
        "prediction on the whole reference part (sees the anomaly class)"
        + ("; per task also on the reference part without the anomaly class"
           if per_task else "")
        if rotation_epochs else "- rotation features: not run",
        "- ROC AUC (anomaly = positive class), mean over seeds; last column: "
        "mean over classes ± std of the per-seed means",
        "",
        "| score | " + " | ".join(CLASSES) + " | mean |",
        "|---|" + "---|" * (len(CLASSES) + 1),
    ]
    for name, a in auc.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{v:.3f}" for v in a.mean(axis=0))
            + f" | **{a.mean():.3f}** ± {a.mean(axis=1).std():.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rotation-epochs", type=int, default=0)
    parser.add_argument("--rotation-per-task", action="store_true",
                        help="also train one rotation network per class "
                        "without that class (ten times the training)")
    parser.add_argument("--out", type=Path, default=RESULTS / "cifar_ceiling.md")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    auc = run(args.data, seeds, args.rotation_epochs, args.rotation_per_task)
    command = " ".join(["python -m benchmarks.studies.cifar_ceiling", *sys.argv[1:]])
    report = to_markdown(auc, seeds, args.rotation_epochs,
                         args.rotation_per_task, command)
    print(report)
    args.out.write_text(report)


if __name__ == "__main__":
    main()
