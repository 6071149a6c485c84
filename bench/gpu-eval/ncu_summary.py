#!/usr/bin/env python3
"""Summarises an Nsight Compute CSV (ncu --csv --metrics gpu__time_duration.sum) by kernel.

Usage: ncu_summary.py NCU_LOG [BATCH_ROWS [MACS_PER_SAMPLE]]

Prints, for each kernel name, how many launches were profiled and their mean and total time,
largest total first, so that one batch's time can be split between the GEMMs, the epilogues, the
head and anything else. Lines before the CSV header (ncu's ==PROF== messages, the benchmark's
own output) are skipped. With BATCH_ROWS, each kernel's mean is also given per 1,000 rows.

With MACS_PER_SAMPLE as well, the cuBLAS kernels' time per batch (every kernel that is not one of
gpu-eval's own, which run once per batch: the head) gives the GEMMs' achieved rate inside the
backend: 2 * MACS_PER_SAMPLE * BATCH_ROWS over that time, in TFLOP/s.
"""
import csv
import re
import sys
from collections import OrderedDict

# gpu-eval's own kernels (gpu-eval/cuda/kernels.cu); everything else is cuBLAS.
OURS = re.compile(r"(F16ToF32|BF16ToF32|F32ToBF16|AddNoise|BiasActivation|SoftmaxHead|"
                  r"RowPerThreadHead)Kernel")
HEADS = re.compile(r"(SoftmaxHead|RowPerThreadHead)Kernel")


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
    macs_per_sample = int(argv[3]) if len(argv) > 3 else 0
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
    batches = sum(c for name, (c, _) in kernels.items() if HEADS.search(name))
    if batch_rows and macs_per_sample and batches:
        cublas_us = sum(t for name, (_, t) in kernels.items() if not OURS.search(name))
        ours_us = sum(t for name, (_, t) in kernels.items() if OURS.search(name))
        per_batch = cublas_us / batches
        tflops = 2 * macs_per_sample * batch_rows / (per_batch * 1e-6) / 1e12
        print(f"{batches} batches of {batch_rows} rows: cuBLAS kernels {per_batch:.1f} us per "
              f"batch = {tflops:.1f} TFLOP/s (the GEMMs' rate inside the backend); gpu-eval's "
              f"own kernels {ours_us / batches:.1f} us per batch")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
