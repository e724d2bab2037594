"""Accelerate check: training through Hugging Face accelerate, one and several GPUs.

Meant for a GPU machine with a few minutes of budget. Every run fits the
package's default networks (the paper's: latent 100, 64 filters, batch 64
per process) with ``random_state=0`` on scikit-learn's digits enlarged to
32x32 (each pixel repeated 4x4), digit 8 being the anomaly (the one-class
protocol of ``benchmarks/common.py``); the training rows are tiled to
``--n-train`` images so that an epoch is long enough to time. Runs, each in a
fresh process:

1. ``plain``: ``GANomalyDetector`` without an accelerator, ``precision``
   ``fp32`` and ``bf16`` (the reference);
2. ``accelerate x1``: ``accelerator=Accelerator(mixed_precision=...)`` with
   ``"no"`` and ``"bf16"``, one process;
3. ``accelerate xN`` (when ``--processes`` N > 1, by default the number of
   visible GPUs): the same, started with ``accelerate launch --multi_gpu
   --num_processes N``; every process takes its shard of each epoch
   (``batch_size`` 64 per process).

Each run reports the fit time, training images per second (training rows x
epochs / fit time, all processes together), the test ROC AUC, whether all
processes ended with the same detector, and for ``accelerate x1`` how its
test scores compare with the plain run of the same precision (on CPU they
must be bit-identical in fp32; on CUDA, cuDNN's non-deterministic kernels
let two plain runs differ already, so the Spearman rank correlation is
reported).

Usage (on the GPU machine, from the project root)::

    python -m benchmarks.accelerate_check --out "$OUT"

Smoke test without a GPU (2 CPU processes, small data, about 2 minutes on two
cores)::

    python -m benchmarks.accelerate_check --device cpu --out /tmp/acc

Where the device has no native bfloat16 the bf16 runs are left out, and the
result files say so.

Exit status 0 when every check passed; the results are printed and written
to ``<out>/accelerate_check.json`` and ``<out>/accelerate_check.md``.
"""

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import RESULTS, bf16_note, cpu_model, load_digits_images, one_class_split

ROOT = Path(__file__).resolve().parents[1]


def load_data(n_train, seed=0):
    """Digits enlarged to 32x32: tiled training images, test images, labels."""
    X, y = load_digits_images()
    X = np.kron(X, np.ones((1, 1, 4, 4))).astype(np.float32)  # (n, 1, 32, 32)
    train, test, is_anomaly = one_class_split(y, 8, seed=seed)
    rows = np.resize(train, n_train)  # repeat the training rows to n_train
    return X[rows], X[test], is_anomaly


# -- one run (in its own process, possibly one of several) --------------------


def worker(args):
    import torch
    from sklearn.metrics import roc_auc_score

    from skganomaly import GANomalyDetector

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, args.processes)))
    accelerator = None
    params = dict(latent_dim=args.latent_dim, n_filters=args.n_filters,
                  max_epochs=args.epochs, batch_size=64, random_state=0)
    if args.mode == "plain":
        params.update(device=args.device,
                      precision="fp32" if args.mixed_precision == "no" else "bf16")
    else:
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=args.device == "cpu",
                                  mixed_precision=args.mixed_precision)
        params.update(accelerator=accelerator)
    main = accelerator is None or accelerator.is_main_process
    X_train, X_test, is_anomaly = load_data(args.n_train)

    # Warm-up (kernel loading, cuDNN autotuning, oneDNN's first-call
    # compilation, which costs seconds on a CPU): not timed.
    GANomalyDetector(**{**params, "max_epochs": 1}).fit(
        X_train[:256 if args.device == "cpu" else 1024])
    start = time.perf_counter()
    det = GANomalyDetector(**params).fit(X_train)
    fit_s = time.perf_counter() - start
    scores = det.score_samples(X_test)

    agree = True
    world = 1 if accelerator is None else accelerator.num_processes
    if world > 1:
        mine = torch.tensor([[scores.sum(), det.offset_]], dtype=torch.float64,
                            device=accelerator.device)
        every = accelerator.gather(mine)
        agree = bool((every == every[:1]).all())
    if main:
        result = dict(
            mode=args.mode, processes=world, mixed_precision=args.mixed_precision,
            device=det.device_, precision=det.precision_, n_train=len(X_train),
            epochs=det.n_iter_, fit_s=fit_s,
            train_img_s=len(X_train) * det.n_iter_ / fit_s,
            auc=float(roc_auc_score(is_anomaly, -scores)),
            finite=bool(np.all(np.isfinite(scores))), processes_agree=agree,
            steps_per_epoch=sum("train_loss" in b for b in det.net_.history[-1]["batches"]),
        )
        Path(args.result).write_text(json.dumps(result))
        np.save(Path(args.result).with_suffix(".npy"), scores)
    if accelerator is not None:
        end(accelerator)


def end(accelerator):
    """Close the process group before exit: left open, a process may abort
    while the interpreter tears it down (seen with gloo on CPU)."""
    import torch

    accelerator.wait_for_everyone()
    accelerator.end_training()  # destroys the process group (recent accelerate)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


# -- the orchestrator ------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_one(args, mode, processes, mixed_precision, out):
    name = f"{mode}-x{processes}-{mixed_precision}"
    result = out / f"{name}.json"
    worker_args = ["-m", __spec__.name, "--worker", "--mode", mode,
                   "--mixed-precision", mixed_precision, "--device", args.device,
                   "--processes", str(processes), "--n-train", str(args.n_train),
                   "--epochs", str(args.epochs), "--latent-dim", str(args.latent_dim),
                   "--n-filters", str(args.n_filters), "--result", str(result)]
    if processes == 1:
        cmd = [sys.executable, *worker_args]
    else:
        # The launch recipe of the docs. Without GPUs the processes train on
        # the CPU (accelerate's MULTI_CPU, gloo), which is the smoke test.
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", mixed_precision, "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), *worker_args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          timeout=args.timeout)
    row = {"run": name, "command": " ".join(["python", *cmd[1:]]),
           "wall_s": time.perf_counter() - start, "returncode": proc.returncode}
    if proc.returncode == 0 and result.exists():
        row.update(json.loads(result.read_text()))
        row["scores"] = np.load(result.with_suffix(".npy"))
        result.unlink()
        result.with_suffix(".npy").unlink()
    else:
        log = out / f"{name}.log"
        log.write_text(proc.stdout + proc.stderr)
        row["stderr_tail"], row["log"] = proc.stderr[-2000:], str(log)
    print(f"{name:28s} rc={proc.returncode} " + (
        f"fit {row['fit_s']:.1f} s, {row['train_img_s']:.0f} img/s, "
        f"AUC {row['auc']:.3f}, processes agree: {row['processes_agree']}"
        if "auc" in row else row.get("stderr_tail", "")[-600:]), flush=True)
    return row


def compare(row, reference, exact):
    from scipy.stats import spearmanr

    a, b = row["scores"], reference["scores"]
    return {"identical": bool(np.array_equal(a, b)),
            "max_abs_diff": float(np.max(np.abs(a - b))),
            "spearman": float(spearmanr(a, b).statistic), "exact_required": exact}


def machine(args):
    import accelerate
    import torch

    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "python": platform.python_version(), "torch": torch.__version__,
            "accelerate": accelerate.__version__, "cpu": cpu_model(),
            "cores": os.cpu_count(), "device": args.device}
    if args.device != "cpu":
        info["gpus"] = [torch.cuda.get_device_name(i)
                        for i in range(torch.cuda.device_count())]
    return info


def to_markdown(info, rows):
    lines = [
        "# Accelerate check", "",
        f"{info['date']}; `{info['command']}`; torch {info['torch']}, accelerate "
        f"{info['accelerate']}; {info.get('gpus') or info['cpu']} "
        f"({info['cores']} cores).", "",
        "| run | processes | precision | steps/epoch | fit s | train img/s | "
        "speed-up vs plain fp32 | AUC | processes agree | vs plain (same precision) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = next((r for r in rows if r["run"] == "plain-x1-no" and "auc" in r), None)
    for r in rows:
        if "auc" not in r:
            lines.append(f"| {r['run']} | failed (rc {r['returncode']}) | | | | | | | | |")
            continue
        speed = f"{r['train_img_s'] / base['train_img_s']:.2f}x" if base else ""
        vs = r.get("vs_plain")
        vs = ("identical" if vs["identical"] else
              f"Spearman {vs['spearman']:.4f}, max diff {vs['max_abs_diff']:.2g}") \
            if vs else ""
        lines.append(
            f"| {r['run']} | {r['processes']} | {r['precision']} | "
            f"{r['steps_per_epoch']} | {r['fit_s']:.1f} | {r['train_img_s']:.0f} | "
            f"{speed} | {r['auc']:.3f} | {r['processes_agree']} | {vs} |")
    if info.get("bf16_skipped"):
        lines += ["", f"{info['bf16_skipped']}."]
    lines += ["", f"Overall: {'PASS' if info['ok'] else 'FAIL'} "
              f"(gates: finite scores, AUC >= {info['min_auc']}, processes agree, "
              "x1 fp32 identical to plain on CPU / Spearman >= 0.9 on GPU)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--device", default="cuda",
                        help="'cpu' only to smoke-test this script without a GPU")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes of the multi-process runs (default: the "
                             "number of GPUs; 2 with --device cpu)")
    parser.add_argument("--n-train", type=int, default=None,
                        help="training images (default 16384; 512 on CPU)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default 2; 1 on CPU")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--n-filters", type=int, default=None,
                        help="default 64 (the paper's); 8 on CPU")
    parser.add_argument("--min-auc", type=float, default=None,
                        help="AUC gate (default 0.8; none on CPU)")
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="accelerate", help=argparse.SUPPRESS)
    parser.add_argument("--mixed-precision", default="no", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cpu = args.device == "cpu"
    args.n_train = args.n_train or (512 if cpu else 16384)
    args.epochs = args.epochs or (1 if cpu else 2)
    args.n_filters = args.n_filters or (8 if cpu else 64)
    if args.worker:
        worker(args)
        return 0

    import torch

    if not cpu:
        assert torch.cuda.is_available(), "this script needs a CUDA device"
    if args.processes is None:
        args.processes = 2 if cpu else torch.cuda.device_count()
    min_auc = args.min_auc if args.min_auc is not None else (0.0 if cpu else 0.8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine(args)
    info["min_auc"] = min_auc
    print(json.dumps(info), flush=True)

    info["bf16_skipped"] = bf16_note(args.device)
    precisions = ("no",) if info["bf16_skipped"] else ("no", "bf16")
    if info["bf16_skipped"]:
        print(info["bf16_skipped"], flush=True)
    plan = [("plain", 1, mp) for mp in precisions]
    plan += [("accelerate", 1, mp) for mp in precisions]
    if args.processes > 1:
        plan += [("accelerate", args.processes, mp) for mp in precisions]
    rows = [run_one(args, *run, out) for run in plan]

    ok = all("auc" in r and r["finite"] and r["auc"] >= min_auc
             and r["processes_agree"] for r in rows)
    for r in rows:
        if r["run"].startswith("accelerate-x1-") and "auc" in r:
            plain = next((p for p in rows if p["run"] ==
                          r["run"].replace("accelerate", "plain") and "auc" in p), None)
            if plain is None:
                continue
            exact = cpu and r["mixed_precision"] == "no"
            r["vs_plain"] = compare(r, plain, exact)
            ok &= r["vs_plain"]["identical"] if exact else r["vs_plain"]["spearman"] >= 0.9
    info["ok"] = bool(ok)
    for r in rows:
        r.pop("scores", None)
    (out / "accelerate_check.json").write_text(
        json.dumps({"machine": info, "runs": rows}, indent=2))
    md = to_markdown(info, rows)
    (out / "accelerate_check.md").write_text(md)
    print(md)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
