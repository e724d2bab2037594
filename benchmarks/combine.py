"""One table from the raw results of several ``benchmarks.quality`` calls.

Runs of one suite made by separate calls (one seed per call, or one core
each; a score type measured in a call of its own) are merged into the mean ±
std tables that ``quality`` writes for a single call::

    python -m benchmarks.combine --out benchmarks/results/quality_mnist_full_three_seeds.md \\
        benchmarks/results/quality_mnist_full_seed0.csv \\
        "benchmarks/results/quality_mnist_full_seed0_latent_lof.csv:GANomaly=GANomaly latent_lof" \\
        benchmarks/results/quality_mnist_full_seed1.csv \\
        benchmarks/results/quality_mnist_full_seed2.csv

A source ``path:old=new`` (or ``path:old=new:old2=new2``) relabels methods
of that file, so that rows of calls whose GANomaly scored differently get
labels of their own; ``path:old=`` drops a method. The same task, seed and
method may not come from two files. Nothing is recomputed: the output lists each source
with the command recorded in it.
"""

import argparse
import csv
import sys
from datetime import datetime, timezone
from pathlib import Path

from .quality import summary_table

_NUMERIC = ("auc", "ap", "fit_s", "score_s")


def parse_source(spec):
    """``path[:old=new]...`` -> (path, {old: new})."""
    renames = {}
    while True:
        head, sep, tail = spec.rpartition(":")
        if not (sep and "=" in tail):
            return Path(spec), renames
        old, new = tail.split("=", 1)
        renames[old] = new
        spec = head


def read_source(path, renames=()):
    """The result rows and ``# key: value`` header lines of a quality CSV."""
    header, body = {}, []
    for line in Path(path).read_text().splitlines():
        if line.startswith("# "):
            key, _, value = line[2:].partition(": ")
            header[key] = value
        elif line.strip():
            body.append(line)
    rows = list(csv.DictReader(body))
    for r in rows:
        r["seed"] = int(r["seed"])
        for key in _NUMERIC:
            r[key] = float(r[key])
    methods = {r["method"] for r in rows}
    for old in renames:
        if old not in methods:
            raise SystemExit(f"{path}: no rows of method {old!r} to relabel")
    renames = dict(renames)
    rows = [dict(r, method=renames.get(r["method"], r["method"])) for r in rows
            if renames.get(r["method"], r["method"])]
    return rows, header


def combine(sources):
    """Merged rows, and one ``(path, header, methods)`` per source."""
    rows, described, seen = [], [], {}
    for path, renames in sources:
        part, header = read_source(path, renames)
        for r in part:
            key = (r["suite"], r["task"], r["seed"], r["method"])
            if key in seen:
                raise SystemExit(f"{key} is in both {seen[key]} and {path}")
            seen[key] = path
        rows.extend(part)
        described.append((path, header, list(dict.fromkeys(r["method"] for r in part))))
    suites = {r["suite"] for r in rows}
    if len(suites) != 1:
        raise SystemExit(f"sources mix suites {sorted(suites)}")
    return rows, described


def per_seed_table(rows, methods, tasks):
    """Mean ROC AUC over all tasks, one line per seed."""
    seeds = sorted({r["seed"] for r in rows})
    lines = ["| seed | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for s in seeds:
        cells = []
        for m in methods:
            v = [r["auc"] for r in rows if r["method"] == m and r["seed"] == s]
            cells.append(f"{sum(v) / len(v):.3f}" if len(v) == len(tasks) else "—")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return lines


def write_markdown(rows, described, out, argv):
    methods = list(dict.fromkeys(r["method"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"# Quality: {rows[0]['suite']}, seeds {', '.join(map(str, seeds))} "
             "(combined)", "",
             f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
             "- command: python -m benchmarks.combine " + " ".join(argv),
             "- nothing recomputed: the rows of these result files, each with "
             "the command, machine, versions and settings it records:"]
    for path, header, part_methods in described:
        lines.append(f"  - `{path.name}` ({', '.join(part_methods)}): "
                     f"`{header.get('command', '?')}`; {header.get('machine', '?')}; "
                     f"{header.get('date', '?')}")
    lines += ["", "## ROC AUC (mean ± std over seeds)", "",
              *summary_table(rows, "auc", methods, tasks), "",
              "## Average precision, anomaly = positive class (mean ± std over seeds)",
              "", *summary_table(rows, "ap", methods, tasks), "",
              "## Mean ROC AUC over the tasks, per seed", "",
              *per_seed_table(rows, methods, tasks), "",
              "Means over seeds are taken only for methods with every task on "
              "that seed; '—' marks a missing run."]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.combine",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", metavar="CSV[:old=new]...",
                   help="quality result CSVs, optionally relabelling methods")
    p.add_argument("--out", required=True, type=Path, help="Markdown file to write")
    args = p.parse_args(argv)
    rows, described = combine([parse_source(s) for s in args.sources])
    write_markdown(rows, described, args.out, argv)
    print(args.out.read_text())
    return rows


if __name__ == "__main__":
    main()
