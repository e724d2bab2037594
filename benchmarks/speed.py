"""Speed of GANomalyDetector against a hand-written PyTorch loop of the same model.

Both sides train the paper's networks (latent 100, 64 filters, batch 64,
1x32x32 images by default) with the same algorithm: one generator step and
one discriminator step per batch. Runs are interleaved in one process and
each figure is the median of ``--pairs`` pairs, so the ratios hold on a noisy
machine even when absolute numbers drift.

Measured per precision option:

* fit: images/s of ``GANomalyDetector.fit`` vs the plain loop plus one
  scoring pass over the training data (the estimator needs that pass for
  ``offset_``);
* score: images/s of ``score_samples`` vs a plain batched
  ``torch.inference_mode()`` forward pass;
* achieved FLOP/s (FLOPs counted by ``torch.utils.flop_counter``) next to the
  machine's measured fp32 / bf16 matmul throughput;
* peak resident memory of scoring a large tabular array in a subprocess.

bf16 rows are left out where the device has no native bfloat16 (the
estimator refuses it there, and an emulated bf16 matmul peak takes about a
minute per product on such a CPU); the output and the result files say so.
``--peak-gflops FP32[,BF16]`` takes the matmul peak as given and
``--no-peak`` leaves it out, instead of measuring it (eleven 2048x2048
products per precision).

Usage::

    python -m benchmarks.speed                       # CPU, default sizes
    python -m benchmarks.speed --device cuda --n-train 8192 --pairs 5
    python -m benchmarks.speed --quick               # a smoke run
    python -m benchmarks.speed --device cuda --n-train 32768 --epochs 3 \
        --sweep 64,256,1024 --sweep-compile 64      # throughput by batch size
    python -m benchmarks.speed --memory --rss-rows 1000000 --features 20
                                  # only the scoring memory, in this process

Results go to ``<results-dir>/speed_<device>.{json,md,rst}`` (the sweep to
``speed_<device>_sweep.{json,md}``); ``--results-dir`` defaults to
``benchmarks/results``.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from skganomaly import GANomalyDetector

from .common import (
    RESULTS,
    bf16_note,
    build_networks,
    machine_info,
    resolve_precision,
    status_kib,
    weights_init,
)


# -- the reference: a plain PyTorch loop ---------------------------------------------


def plain_fit(X, *, epochs, batch_size, latent_dim, n_filters, device, precision,
              seed=0):
    """Train the same networks with the same steps, no skorch, no sklearn."""
    torch.manual_seed(seed)
    gen, disc = build_networks(tuple(X.shape[1:]), latent_dim, n_filters)
    channels_last = precision == "bf16" and X.ndim == 4
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    gen.to(device, memory_format=fmt)
    disc.to(device, memory_format=fmt)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    gen.train()
    disc.train()
    dtype = torch.bfloat16 if precision == "bf16" else None
    dev_type = torch.device(device).type
    for _ in range(epochs):
        order = torch.randperm(len(X))
        Xs = X[order]
        for start in range(0, len(Xs), batch_size):
            x = Xs[start:start + batch_size].to(device, memory_format=fmt)
            with torch.autocast(dev_type, dtype=dtype, enabled=dtype is not None):
                x_hat, z, z_hat = gen(x)
                real_logits, real_f = disc(x)
                _, fake_f = disc(x_hat)
            adv = nn.functional.mse_loss(fake_f.float(), real_f.detach().float())
            con = nn.functional.l1_loss(x_hat.float(), x)
            enc = nn.functional.mse_loss(z_hat.float(), z.float())
            loss = adv + 50 * con + enc
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            opt_g.step()
            with torch.autocast(dev_type, dtype=dtype, enabled=dtype is not None):
                fake_logits, _ = disc(x_hat.detach())
            real_logits, fake_logits = real_logits.float(), fake_logits.float()
            loss_d = 0.5 * (bce(real_logits, torch.ones_like(real_logits))
                            + bce(fake_logits, torch.zeros_like(fake_logits)))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            if loss_d.item() < 1e-5:
                disc.apply(weights_init)
    # The detector re-estimates the generator's BatchNorm statistics with
    # its final weights (one pass without gradients): so does the reference.
    norms = [m for m in gen.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    with torch.no_grad(), torch.autocast(dev_type, dtype=dtype, enabled=dtype is not None):
        for start in range(0, len(X), batch_size):
            gen(X[start:start + batch_size].to(device, memory_format=fmt))
    for m in norms:
        m.momentum = 0.1
    return gen


def plain_score(gen, X, *, batch_size, device, precision):
    gen.eval()
    channels_last = precision == "bf16" and X.ndim == 4
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    dtype = torch.bfloat16 if precision == "bf16" else None
    out = []
    with torch.inference_mode(), torch.autocast(
            torch.device(device).type, dtype=dtype, enabled=dtype is not None):
        for start in range(0, len(X), batch_size):
            x = X[start:start + batch_size].to(device, memory_format=fmt)
            _, z, z_hat = gen(x)
            out.append((z.double() - z_hat.double()).pow(2).mean(dim=1).cpu())
    return torch.cat(out).numpy()


# -- measurements ----------------------------------------------------------------------


def synthetic_images(args):
    """The seeded uniform images every timed fit trains on."""
    shape = (args.channels, args.size, args.size)
    return np.random.RandomState(0).uniform(0, 1, size=(args.n_train, *shape)) \
        .astype(np.float32)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def matmul_flops(device, dtype, n=2048, repeats=10):
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    elapsed, _ = timed(lambda: [a @ b for _ in range(repeats)], device)
    return 2 * n ** 3 * repeats / elapsed


def peak_text(flops, scale, unit, digits=0):
    """The matmul peaks of ``flops`` that were measured or given, as text."""
    parts = [f"{p} {flops[f'peak_{p}'] / scale:.{digits}f} {unit}"
             for p in ("fp32", "bf16") if flops.get(f"peak_{p}")]
    return ", ".join(parts) if parts else "not measured"


def matmul_peaks(args, skip_bf16):
    """``{"peak_fp32": ..., "peak_bf16": ...}`` in FLOP/s: given with
    ``--peak-gflops``, left out (None) with ``--no-peak`` or, for bf16, where
    the device has no native bf16; measured otherwise."""
    if args.no_peak:
        return {"peak_fp32": None, "peak_bf16": None}
    if args.peak_gflops:
        given = [float(v) * 1e9 for v in args.peak_gflops.split(",")]
        return {"peak_fp32": given[0], "peak_bf16": given[1] if len(given) > 1 else None}
    return {"peak_fp32": matmul_flops(args.device, torch.float32),
            "peak_bf16": None if skip_bf16 else matmul_flops(args.device, torch.bfloat16)}


def scoring_memory(args):
    """Peak resident memory that ``score_samples`` adds, in this process, on
    ``--rss-rows`` rows of ``--features`` float64 features (or 28x28 images
    with ``--images``), on top of the process with the data already in
    memory (Linux: VmHWM is reset through /proc/self/clear_refs before
    scoring). Scoring works batch by batch, so this stays bounded by the
    batch size (plus the float64 scores, 8 bytes a row)."""
    torch.set_num_threads(args.threads or 1)
    rng = np.random.RandomState(0)
    shape = (28, 28) if args.images else (args.features,)
    det = GANomalyDetector(latent_dim=16, n_filters=16, max_epochs=1,
                           random_state=0, device="cpu")
    det.fit(rng.normal(size=(512, *shape)))
    det.score_samples(rng.normal(size=(600, *shape)))  # warm up allocators

    X = rng.normal(size=(args.rss_rows, *shape))
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
    start = time.perf_counter()
    scores = det.score_samples(X)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM")
    assert np.isfinite(scores).all()
    print(f"rows={args.rss_rows} sample_shape={shape} input={X.nbytes / 2**20:.0f} MiB "
          f"scores={scores.nbytes / 2**20:.1f} MiB")
    print(f"RSS before scoring={before / 1024:.0f} MiB, peak during scoring="
          f"{peak / 1024:.0f} MiB, added by scoring={(peak - before) / 1024:.0f} MiB, "
          f"{seconds:.1f} s")
    return {"rows": args.rss_rows, "shape": shape, "before_mib": before / 1024,
            "peak_mib": peak / 1024, "seconds": seconds}


def count_flops(shape, latent_dim, n_filters, batch_size):
    """FLOPs per sample of one training step and of one scoring pass."""
    gen, disc = build_networks(shape, latent_dim, n_filters)
    x = torch.randn(batch_size, *shape)
    with FlopCounterMode(display=False) as counter:
        x_hat, z, z_hat = gen(x)
        real_logits, real_f = disc(x)
        _, fake_f = disc(x_hat)
        loss = (fake_f - real_f.detach()).pow(2).mean() + (x_hat - x).abs().mean() \
            + (z_hat - z).pow(2).mean()
        loss.backward()
        fake_logits, _ = disc(x_hat.detach())
        (real_logits.sum() + fake_logits.sum()).backward()
    train = counter.get_total_flops() / batch_size
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        gen.eval()(x)
    score = counter.get_total_flops() / batch_size
    return train, score


PEAK_RSS_SCRIPT = r"""
import numpy as np, torch
torch.set_num_threads({threads})
from skganomaly import GANomalyDetector
rng = np.random.RandomState(0)
det = GANomalyDetector(latent_dim=16, n_filters=16, max_epochs=1, random_state=0,
                       precision="{precision}").fit(rng.normal(size=(2000, {d})))
X = np.random.default_rng(0).standard_normal(size=({n}, {d}), dtype=np.float32)
det.score_samples(X[:1000])  # warm-up: allocator pools, oneDNN primitives

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

before = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
scores = det.score_samples(X)
after = status("VmHWM:")
assert np.all(np.isfinite(scores)) and scores.shape == ({n},)
print(before, after)
"""


def peak_rss_scoring(n_rows, n_features, precision):
    """Growth of peak RSS (MiB) while scoring an in-memory float32 array,
    beyond the array itself and the fitted model (Linux: the peak is reset
    through /proc/self/clear_refs just before scoring)."""
    code = PEAK_RSS_SCRIPT.format(threads=torch.get_num_threads(), n=n_rows,
                                  d=n_features, precision=precision)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    before, after = (int(v) / 1024 for v in out[-2:])
    return after - before, n_rows * n_features * 4 / 2**20


def measure_rss(args):
    rss = []
    if args.rss_rows and args.device == "cpu":
        for precision in args.precisions.split(","):
            growth, size = peak_rss_scoring(args.rss_rows, 32, precision)
            rss.append({"rows": args.rss_rows, "features": 32, "precision": precision,
                        "growth_mib": growth, "input_mib": size})
    return rss


def bench(args, precision):
    device = args.device
    X_np = synthetic_images(args)
    # The plain loop gets the same scaled input the estimator builds.
    X = torch.from_numpy(X_np * 2 - 1)
    kw = dict(batch_size=args.batch_size, latent_dim=args.latent_dim,
              n_filters=args.n_filters, device=device, precision=precision)
    est_params = dict(latent_dim=args.latent_dim, n_filters=args.n_filters,
                      batch_size=args.batch_size, max_epochs=args.epochs,
                      device=device, precision=precision, contamination=0.1,
                      validation_fraction=None, random_state=0,
                      # The plain loop computes the paper's latent score; the
                      # image default 'latent_lof' adds a neighbour query.
                      score_type="latent")
    rows = {"fit_plain": [], "fit_est": [], "score_plain": [], "score_est": [],
            "fit_ref": [], "score_ref": []}
    ref_kw = {**kw, "precision": "fp32"}
    for pair in range(args.pairs + 1):  # the first pair warms up, not counted
        if precision != "fp32":
            # The plain fp32 loop in the same pair: speed-ups against it do
            # not drift with the machine's load between precisions.
            t_ref, ref_gen = timed(lambda: plain_fit(X, epochs=args.epochs, **ref_kw),
                                   device)
            t_ref_score, _ = timed(lambda: plain_score(
                ref_gen, X, batch_size=256, device=device, precision="fp32"), device)
        t_plain, gen = timed(lambda: plain_fit(X, epochs=args.epochs, **kw), device)
        t_pscore, _ = timed(lambda: plain_score(
            gen, X, batch_size=256, device=device, precision=precision), device)
        t_est, det = timed(lambda: GANomalyDetector(**est_params).fit(X_np), device)
        t_escore, _ = timed(lambda: det.score_samples(X_np), device)
        t_pscore2, _ = timed(lambda: plain_score(
            gen, X, batch_size=256, device=device, precision=precision), device)
        if pair == 0:
            continue
        rows["fit_plain"].append(t_plain + t_pscore)
        rows["fit_est"].append(t_est)
        rows["score_plain"].append(t_pscore2)
        rows["score_est"].append(t_escore)
        rows["fit_ref"].append(t_ref + t_ref_score if precision != "fp32"
                               else t_plain + t_pscore)
        rows["score_ref"].append(t_ref_score if precision != "fp32" else t_pscore2)
        print(f"  {precision} pair {pair}: fit {t_est:.2f}s vs plain "
              f"{t_plain + t_pscore:.2f}s; score {t_escore:.3f}s vs {t_pscore2:.3f}s",
              flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    fit_speedup = statistics.median(
        r / e for r, e in zip(rows["fit_ref"], rows["fit_est"]))
    score_speedup = statistics.median(
        r / e for r, e in zip(rows["score_ref"], rows["score_est"]))
    n_img = args.n_train * args.epochs
    return {
        "precision": precision,
        "resolved": resolve_precision(precision, device, X_np.shape[1:]),
        "fit_img_s": n_img / med["fit_est"],
        "fit_plain_img_s": n_img / med["fit_plain"],
        "fit_ratio": med["fit_est"] / med["fit_plain"],
        "score_img_s": args.n_train / med["score_est"],
        "score_plain_img_s": args.n_train / med["score_plain"],
        "score_ratio": med["score_est"] / med["score_plain"],
        "fit_speedup_vs_plain_fp32": fit_speedup,
        "score_speedup_vs_plain_fp32": score_speedup,
        "fit_times": rows["fit_est"], "fit_plain_times": rows["fit_plain"],
        "score_times": rows["score_est"], "score_plain_times": rows["score_plain"],
    }


def sweep_row(args, X, batch_size, precision, compile_):
    """Steady training throughput of one configuration on images ``X``, from
    the per-epoch times skorch records (the first epoch holds warm-up and
    compilation)."""
    det = GANomalyDetector(
        latent_dim=args.latent_dim, n_filters=args.n_filters, batch_size=batch_size,
        max_epochs=args.epochs, device=args.device, precision=precision,
        compile=compile_, contamination=0.1, validation_fraction=None,
        score_type="latent", random_state=0)
    start = time.perf_counter()
    det.fit(X)
    fit_s = time.perf_counter() - start
    durations = [float(d) for d in det.net_.history[:, "dur"]]
    det.score_samples(X[:4096])  # warm-up (and, compiled, the eval graphs)
    score_s, scores = timed(lambda: det.score_samples(X), args.device)
    return {
        "batch_size": batch_size, "precision": precision, "compile": compile_,
        "resolved": resolve_precision(precision, args.device, X.shape[1:]),
        "first_epoch_s": durations[0],
        "train_img_s": args.n_train / statistics.median(durations[1:]),
        "fit_s": fit_s, "epoch_s": durations, "score_img_s": args.n_train / score_s,
        "finite": bool(np.all(np.isfinite(scores))),
    }


def sweep_markdown(info, flops, rows, failures=()):
    lines = [
        f"# Training throughput of GANomalyDetector by batch size ({info['device']})",
        "",
        f"- date: {info['date']}; command: `{info['command']}`",
        f"- machine: {info['cpu']}, {info['cores']} cores"
        + (f", GPU {info['gpu']}" if "gpu" in info else ""),
        f"- versions: python {info['python']}, torch {info['torch']}, "
        f"skganomaly {info['skganomaly']}",
        f"- workload: {info['workload']}; training img/s is the median over epochs "
        "2.. (the first epoch holds warm-up and compilation); scoring uses the "
        "latent score",
        f"- measured matmul peak: {peak_text(flops, 1e12, 'TFLOP/s', 1)}; a training step is "
        f"{flops['train'] / 1e9:.3f} GFLOP per image",
        *([f"- {info['bf16_skipped']}"] if info.get("bf16_skipped") else []),
        "",
        "| batch | precision | compile | train img/s | train TFLOP/s | first epoch s "
        "| score img/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['batch_size']} | {r['precision']} ({r['resolved']}) | "
            f"{'yes' if r['compile'] else 'no'} | {r['train_img_s']:,.0f} | "
            f"{r['train_img_s'] * flops['train'] / 1e12:.2f} | {r['first_epoch_s']:.1f} | "
            f"{r['score_img_s']:,.0f} |")
    lines += [f"- failed: {f}" for f in failures]
    return "\n".join(lines) + "\n"


def sweep(args, info, flops, out):
    """Every batch size and precision, plus compiled runs; the files are
    rewritten after each row so that a run cut short keeps what it measured."""
    configs = [(int(b), p, False) for b in args.sweep.split(",")
               for p in args.precisions.split(",")]
    configs += [(int(b), p, True) for b in filter(None, args.sweep_compile.split(","))
                for p in args.precisions.split(",")]
    X = synthetic_images(args)
    rows, failures = [], []
    for batch_size, precision, compile_ in configs:
        try:
            rows.append(sweep_row(args, X, batch_size, precision, compile_))
            print(f"  {rows[-1]}", flush=True)
        except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
            failures.append(f"batch {batch_size} {precision} compile={compile_}: "
                            f"{exc!r}"[:500])
            print(f"  {failures[-1]}", flush=True)
        out.with_suffix(".json").write_text(json.dumps(
            {"info": info, "flops": flops, "rows": rows, "failures": failures},
            indent=2))
        out.with_suffix(".md").write_text(sweep_markdown(info, flops, rows, failures))
    print(sweep_markdown(info, flops, rows, failures))


def to_markdown(info, flops, rows, rss):
    lines = [
        f"# Speed: GANomalyDetector vs a plain PyTorch loop ({info['device']})",
        "",
        f"- date: {info['date']}; command: `{info['command']}`",
        f"- machine: {info['cpu']}, {info['cores']} cores, torch threads "
        f"{info['torch_threads']}" + (f", GPU {info['gpu']}" if "gpu" in info else ""),
        f"- versions: python {info['python']}, torch {info['torch']}, "
        f"skganomaly {info['skganomaly']}",
        f"- workload: {info['workload']}",
        f"- FLOPs per sample: training step {flops['train'] / 1e9:.3f} GFLOP, "
        f"scoring {flops['score'] / 1e9:.3f} GFLOP; measured matmul peak: "
        f"{peak_text(flops, 1e9, 'GFLOP/s')}",
        *([f"- {info['bf16_skipped']}"] if info.get("bf16_skipped") else []),
        "",
        "| precision | fit img/s | plain loop img/s | fit / plain time | "
        "fit GFLOP/s | score img/s | plain score img/s | score / plain time | "
        "score GFLOP/s | fit speed-up vs plain fp32 | score speed-up vs plain fp32 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['precision']} ({r['resolved']}) | {r['fit_img_s']:.0f} | "
            f"{r['fit_plain_img_s']:.0f} | {r['fit_ratio']:.3f} | "
            f"{r['fit_img_s'] * flops['train'] / 1e9:.0f} | {r['score_img_s']:.0f} | "
            f"{r['score_plain_img_s']:.0f} | {r['score_ratio']:.3f} | "
            f"{r['score_img_s'] * flops['score'] / 1e9:.0f} | "
            f"{r['fit_speedup_vs_plain_fp32']:.2f}x | "
            f"{r['score_speedup_vs_plain_fp32']:.2f}x |")
    if rss:
        lines += ["", "Scoring memory (subprocess, tabular float32 input, "
                  "latent 16, 16 filters):", ""]
        for item in rss:
            lines.append(
                f"- {item['rows']:,} rows x {item['features']} features "
                f"(input {item['input_mib']:.0f} MiB), precision {item['precision']}: "
                f"peak RSS grew by {item['growth_mib']:.1f} MiB while scoring "
                "(beyond the input and the model)")
    lines += ["", "Ratios are medians over interleaved pairs in one process "
              "(speed-ups against the plain fp32 loop run in the same pairs); "
              "\"fit\" includes the estimator's scoring pass over the training data "
              "(for offset_), and the plain loop is charged one scoring pass too."]
    return "\n".join(lines) + "\n"


def to_rst(info, flops, rows, rss):
    """The same results as an RST list-table, for the docs' Performance page."""
    lines = [
        f"Measured {info['date'][:10]} on {info['cpu']} ({info['cores']} cores, "
        f"torch threads {info['torch_threads']}"
        + (f", GPU {info['gpu']}" if "gpu" in info else "")
        + f"), torch {info['torch']}, with ``{info['command']}``. Workload: "
        f"{info['workload']}. Counted FLOPs per sample: training step "
        f"{flops['train'] / 1e9:.3f} GFLOP, scoring {flops['score'] / 1e9:.3f} GFLOP; "
        f"measured matmul throughput: {peak_text(flops, 1e9, 'GFLOP/s')}. "
        + (f"{info['bf16_skipped'][0].upper()}{info['bf16_skipped'][1:]}. "
           if info.get("bf16_skipped") else "")
        + "\"fit / plain\" and "
        "\"score / plain\" are time ratios against the plain loop in the same "
        "precision (1.00 = no overhead); speed-ups are against the plain "
        "float32 loop.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - precision",
        "     - fit img/s",
        "     - fit / plain",
        "     - fit GFLOP/s",
        "     - score img/s",
        "     - score / plain",
        "     - score GFLOP/s",
        "     - fit speed-up",
        "     - score speed-up",
    ]
    for r in rows:
        lines += [
            f"   * - {r['precision']}",
            f"     - {r['fit_img_s']:.0f}",
            f"     - {r['fit_ratio']:.3f}",
            f"     - {r['fit_img_s'] * flops['train'] / 1e9:.0f}",
            f"     - {r['score_img_s']:.0f}",
            f"     - {r['score_ratio']:.3f}",
            f"     - {r['score_img_s'] * flops['score'] / 1e9:.0f}",
            f"     - {r['fit_speedup_vs_plain_fp32']:.2f}x",
            f"     - {r['score_speedup_vs_plain_fp32']:.2f}x",
        ]
    for item in rss:
        lines += ["", f"Scoring {item['rows']:,} rows x {item['features']} features "
                  f"(float32, {item['input_mib']:.0f} MiB) with precision "
                  f"{item['precision']} raised the peak RSS by "
                  f"{item['growth_mib']:.1f} MiB beyond the input and the model."]
    return "\n".join(lines) + "\n"


def render(json_path):
    """Rewrite the .md and .rst tables of a results file from its JSON."""
    path = Path(json_path)
    data = json.loads(path.read_text())
    args = (data["info"], data["flops"], data["rows"], data["rss"])
    path.with_suffix(".md").write_text(to_markdown(*args))
    path.with_suffix(".rst").write_text(to_rst(*args))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--n-train", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--n-filters", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rss-rows", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", default=None, help="results file stem")
    parser.add_argument("--results-dir", type=Path, default=RESULTS,
                        help="folder for the results files (default: %(default)s)")
    parser.add_argument("--sweep", default=None, metavar="BATCHES",
                        help="instead of the pairs: the estimator's steady training "
                             "throughput per batch size (e.g. 64,256,1024) and "
                             "precision, from its per-epoch times")
    parser.add_argument("--sweep-compile", default="", metavar="BATCHES",
                        help="batch sizes of the sweep also run with compile=True")
    parser.add_argument("--rss-only", default=None, metavar="STEM",
                        help="re-measure only the scoring memory of a results file")
    parser.add_argument("--render", default=None, metavar="JSON",
                        help="only rewrite the tables of an earlier results file")
    parser.add_argument("--peak-gflops", default=None, metavar="FP32[,BF16]",
                        help="the matmul peak in GFLOP/s, instead of measuring it")
    parser.add_argument("--no-peak", action="store_true",
                        help="neither measure nor report the matmul peak")
    parser.add_argument("--memory", action="store_true",
                        help="only the peak memory of scoring --rss-rows rows, in "
                             "this process (see --features, --images, --threads)")
    parser.add_argument("--features", type=int, default=20,
                        help="features of the --memory rows")
    parser.add_argument("--images", action="store_true",
                        help="--memory scores 28x28 images instead of rows")
    args = parser.parse_args(argv)
    if args.render:
        render(args.render)
        return
    if args.rss_only:
        path = args.results_dir / f"{args.rss_only}.json"
        data = json.loads(path.read_text())
        data["rss"] = measure_rss(args)
        path.write_text(json.dumps(data, indent=2))
        render(path)
        print(to_markdown(data["info"], data["flops"], data["rows"], data["rss"]))
        return
    if args.memory:
        return scoring_memory(args)
    if args.quick:
        args.n_train, args.pairs, args.rss_rows = 128, 1, 20_000

    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine_info(args.device, "benchmarks.speed", argv)
    info["device"] = args.device
    precisions = args.precisions.split(",")
    skip_bf16 = bf16_note(args.device)
    if skip_bf16 and "bf16" in precisions:
        precisions.remove("bf16")
        info["bf16_skipped"] = skip_bf16
        print(skip_bf16, flush=True)
    if not precisions:
        raise SystemExit("no precision left to measure")
    args.precisions = ",".join(precisions)
    info["workload"] = (f"{args.n_train} images {args.channels}x{args.size}x{args.size}, "
                        + (f"{args.epochs} epochs, latent " if args.sweep else
                           f"{args.epochs} epoch(s), batch {args.batch_size}, latent ")
                        + f"{args.latent_dim}, {args.n_filters} filters"
                        + ("" if args.sweep else f", {args.pairs} pairs"))
    shape = (args.channels, args.size, args.size)
    train_flops, score_flops = count_flops(shape, args.latent_dim, args.n_filters,
                                           args.batch_size)
    flops = {"train": train_flops, "score": score_flops,
             **matmul_peaks(args, skip_bf16)}
    print(f"{info['cpu']} / torch {info['torch']}: matmul "
          f"{peak_text(flops, 1e9, 'GFLOP/s')}")
    stem = args.out or f"speed_{args.device.replace(':', '')}"
    args.results_dir.mkdir(parents=True, exist_ok=True)
    if args.sweep:
        sweep(args, info, flops, args.results_dir / f"{stem}_sweep")
        return
    rows = []
    for precision in args.precisions.split(","):
        rows.append(bench(args, precision))
    rss = measure_rss(args)
    report = to_markdown(info, flops, rows, rss)
    print(report)
    out = args.results_dir / stem
    out.with_suffix(".md").write_text(report)
    out.with_suffix(".json").write_text(json.dumps(
        {"info": info, "flops": flops, "rows": rows, "rss": rss}, indent=2))
    out.with_suffix(".rst").write_text(to_rst(info, flops, rows, rss))
    return rows


if __name__ == "__main__":
    main()
