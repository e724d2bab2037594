"""Small training sets: the quality benchmark's suites with the training rows
capped, package defaults beside IsolationForest, LOF and OneClassSVM.

Many users have a few hundred normal rows (images of a good part, normal
transactions), so the defaults must hold there too. For each suite and cap
this runs ``benchmarks.quality`` (same protocol and splits: the capped
training rows are the first ``cap`` of the split's seeded order) over the
seeds and writes one table: mean ROC AUC over the suite's tasks, mean ± std
over seeds, per suite and cap, and the mean over the whole small-data suite.
Seed 1 is left out by default: it is the digits suite's development seed,
and the small-data rules were chosen on seeds 100 and 101
(``benchmarks.studies.stopping_signal``).

Writes ``results/small_data[_TAG].md`` (and each quality call's own files,
tagged ``small<cap>``, in ``results/small_data/``).

Usage::

    python -m benchmarks.small_data --data ../shared/data \\
        [--suites odds:100,300,1000 digits:100,300] [--seeds 0,2,3]
"""

import argparse
import statistics
import sys

import numpy as np

from . import common, quality

PEERS = ["iforest", "lof", "ocsvm"]
METHODS = ["ganomaly", *PEERS]


def parse_suites(items):
    """``["odds:100,300"]`` -> ``[("odds", [100, 300])]``."""
    suites = []
    for item in items:
        name, _, caps = item.partition(":")
        suites.append((name, [int(c) for c in caps.split(",")]))
    return suites


def seed_means(rows):
    """``{(method, seed): mean ROC AUC over the tasks}`` of quality rows."""
    by = {}
    for r in rows:
        by.setdefault((r["method"], r["seed"]), []).append(r["auc"])
    return {key: float(np.mean(v)) for key, v in by.items()}


def table(results, methods, seeds):
    """Markdown rows ``suite, cap, method...`` of mean ± std over seeds, then
    the mean over every (suite, cap) and how many the defaults lead."""
    lines = ["| suite | training rows | " + " | ".join(methods) + " |",
             "|---|---|" + "---|" * len(methods)]
    overall = {m: [] for m in methods}
    for (suite, cap), means in results.items():
        cells = []
        best = max(statistics.mean(means[(m, s)] for s in seeds) for m in methods)
        for m in methods:
            values = [means[(m, s)] for s in seeds]
            mean = statistics.mean(values)
            overall[m].append(mean)
            std = statistics.pstdev(values) if len(values) > 1 else 0.0
            text = f"{mean:.3f} ± {std:.3f}"
            cells.append(f"**{text}**" if mean == best else text)
        lines.append(f"| {suite} | {cap} | " + " | ".join(cells) + " |")
    lines.append("| **mean** | | " + " | ".join(
        f"**{statistics.mean(v):.3f}**" for v in overall.values()) + " |")
    return lines, {m: statistics.mean(v) for m, v in overall.items()}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.small_data")
    p.add_argument("--data", default=str(common.DEFAULT_DATA))
    p.add_argument("--suites", nargs="+", default=["odds:100,300,1000",
                                                    "digits:100,300"])
    p.add_argument("--seeds", default="0,2,3")
    p.add_argument("--tasks", default=None, help="passed to quality (smoke tests)")
    p.add_argument("--ganomaly-params", default="{}", help="passed to quality")
    p.add_argument("--out", default=str(common.RESULTS))
    p.add_argument("--tag", default="", help="suffix of the table's file name")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    out = common.Path(args.out)
    results = {}
    for suite, caps in parse_suites(args.suites):
        for cap in caps:
            call = ["--suite", suite, "--data", args.data, "--seeds", args.seeds,
                    "--max-train", str(cap), "--methods", ",".join(METHODS),
                    "--ganomaly-params", args.ganomaly_params, "--no-figures",
                    "--out", str(out / "small_data"), "--tag", f"small{cap}"]
            if args.tasks:
                call += ["--tasks", args.tasks]
            rows = quality.main(call)
            results[(suite, cap)] = seed_means(rows)
    methods = [quality.PEERS[key][0] for key in METHODS]  # the rows' labels
    lines, overall = table(results, methods, seeds)
    info = common.machine_info(module="benchmarks.small_data", argv=argv)
    text = "\n".join([
        "# Small training sets", "", *common.header_lines(info),
        f"- seeds: {args.seeds}; per (suite, cap): mean ROC AUC over the tasks, "
        "then mean ± std over seeds; best per row in bold",
        "", *lines, ""])
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"small_data{'_' + args.tag if args.tag else ''}.md"
    path.write_text(text)
    print(text)
    print(f"wrote {path}")
    return overall


if __name__ == "__main__":
    main()
