#!/usr/bin/env python3
"""Summarises an Nsight Compute CSV (ncu --csv --metrics gpu__time_duration.sum) by kernel.

Usage: ncu_summary.py NCU_LOG [BATCH_ROWS]

Prints, for each kernel name, how many launches were profiled and their mean and total time,
largest total first, so that one batch's time can be split between the GEMMs, the epilogues, the
head and anything else. Lines before the CSV header (ncu's ==PROF== messages, the benchmark's
own output) are skipped. With BATCH_ROWS, each kernel's mean is also given per 1,000 rows.
"""
import csv
import sys
from collections import OrderedDict


def rows_of(path):
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        return None
    return list(csv.DictReader(lines[start:]))


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    rows = rows_of(argv[1])
    if rows is None:
        print(f"ncu_summary: no CSV header in {argv[1]} (ncu did not profile anything)")
        return 1
    batch_rows = int(argv[2]) if len(argv) > 2 else 0
    kernels = OrderedDict()
    for row in rows:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = row.get("Metric Unit", "")
        value = float(row.get("Metric Value", "0").replace(",", ""))
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3,
                 "msecond": 1e3}.get(unit, 1e-3)
        name = row.get("Kernel Name", "?")
        entry = kernels.setdefault(name, [0, 0.0])
        entry[0] += 1
        entry[1] += value * scale
    if not kernels:
        print("ncu_summary: no gpu__time_duration.sum rows")
        return 1
    total = sum(t for _, t in kernels.values())
    print(f"{'launches':>8} {'mean us':>10} {'total us':>11} {'share':>6}  kernel")
    for name, (count, t) in sorted(kernels.items(), key=lambda kv: -kv[1][1]):
        mean = t / count
        extra = f" ({mean * 1000 / batch_rows:.3f} us per 1,000 rows)" if batch_rows else ""
        share = 100 * t / total
        print(f"{count:>8} {mean:>10.2f} {t:>11.1f} {share:>5.1f}%  {name[:110]}{extra}")
    launches = sum(c for c, _ in kernels.values())
    print(f"{launches:>8} {'':>10} {total:>11.1f}  all profiled launches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
