#!/usr/bin/env bash
# The one prepared script for an accelerator session (an NVIDIA GPU machine whose image has nvcc,
# cmake, ninja, PyTorch and safetensors, but no OpenBLAS and no GoogleTest). Run it from the
# repository root with $OUT set to an existing directory:
#
#   OUT=/some/dir bash bench/gpu-eval/run_on_device.sh
#
# Steps, each under its own `timeout` and all under one overall deadline (7 minutes by default,
# SOV_DEVICE_DEADLINE_S), so that the whole run, build included, ends well within 8 minutes; a step
# that fails is logged with its exit code and the script goes on to the next:
#   1. nvidia-smi, tool versions, the Python that has torch;
#   2. configure (-DSOV_GPU_EVAL_ONLY=ON, no tests), build gpu_eval_crosscheck and gpu_eval_bench;
#   3. gpu_eval_crosscheck: the CUDA backend against the CPU backend (its exit code is recorded);
#      then again, --quick, with SOV_GPU_EVAL_AUTOTUNE=1 (cuBLASLt algorithms chosen by timing);
#   4. gpu_eval_bench on CUDA beside torch on the same GPU: fast/exact x f32/bf16 at batches
#      1, 32, 1024, 65536 and the full pass over 2^20 rows, with the cuBLAS peak of the same run;
#      the fast ones first, each followed by the same run with SOV_GPU_EVAL_AUTOTUNE=1 (no torch),
#      which says whether timing cuBLASLt's candidates should become the default;
#   5. where the image has Nsight Compute: a short fast BF16 run at batch 65536 under
#      `ncu --clock-control none --cache-control none` (each kernel's time and the GEMMs' rate,
#      from ncu_summary.py), and where it has Nsight Systems, the same under `nsys profile`;
#   6. gpu_eval_bench on the CPU backend beside torch, briefly, and again with the built-in sgemm
#      forced (SOV_GPU_EVAL_CPU_GEMM=builtin), beside torch again, on all the host's threads and
#      then on half of them.
# $OUT receives three files: log.txt (all output), summary.txt (each step's exit code) and
# results.tgz (one log per step, bench-*.json, the ncu CSV), made at the end; the details are
# written to SOV_DEVICE_DETAILS_DIR (default /tmp/gpu_eval_device_details) meanwhile, so that a
# machine that returns only a few files from $OUT still returns everything.
# SOV_DEVICE_BUILD_DIR (default build/gpu) and SOV_BENCH_WORK_DIR (the generated model and data,
# default /tmp/gpu_eval_bench_work) move the two directories it writes outside $OUT.
set -euo pipefail

: "${OUT:?set OUT to the directory that receives the results}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1

BUILD_DIR=${SOV_DEVICE_BUILD_DIR:-build/gpu}
WORK_DIR=${SOV_BENCH_WORK_DIR:-/tmp/gpu_eval_bench_work}  # generated model/data, reused across runs
START=$(date +%s)
DEADLINE=$((START + ${SOV_DEVICE_DEADLINE_S:-420}))
SUMMARY="$OUT/summary.txt"
DETAILS=${SOV_DEVICE_DETAILS_DIR:-/tmp/gpu_eval_device_details}
rm -rf "$DETAILS"
mkdir -p "$DETAILS"
: > "$SUMMARY"

note() { echo "[$(date -u +%H:%M:%S) +$(( $(date +%s) - START ))s] $*"; }

# step NAME TIMEOUT_S COMMAND...: runs COMMAND with at most TIMEOUT_S seconds and never past the
# deadline; logs its output to $DETAILS/NAME.log as well, and records NAME and its exit code
# (124: it ran out of time) in summary.txt. Always returns 0 so that the next step runs.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((DEADLINE - $(date +%s) - 5))
  if (( left < 15 )); then
    note "SKIP $name: out of time"
    echo "$name skipped (out of time)" >> "$SUMMARY"
    return 0
  fi
  if (( limit > left )); then limit=$left; fi
  note "BEGIN $name (limit ${limit}s): $*"
  local rc=0
  timeout --kill-after=10 "$limit" "$@" > >(tee "$DETAILS/$name.log") 2>&1 || rc=$?
  note "END $name: exit $rc"
  echo "$name exit $rc" >> "$SUMMARY"
  return 0
}

# The interpreter for the torch peer: the first one that imports torch.
find_python() {
  local candidate
  for candidate in python3 python /usr/bin/python3; do
    if command -v "$candidate" > /dev/null 2>&1 &&
       timeout 60 "$candidate" -c 'import torch' > /dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  command -v python3 || echo python3
}

note "gpu-eval device run in $(pwd), results in $OUT"
step nvidia-smi 30 nvidia-smi
timeout 30 nvidia-smi --format=csv \
  --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm || true
timeout 30 nvidia-smi --format=csv --query-gpu=power.limit,temperature.gpu || true
{ cmake --version | head -1; ninja --version; nvcc --version | tail -2; nproc; } || true
# The host's CPU: model, ISA flags, and whether its "cores" are hyperthreads (Thread(s) per core),
# which decides how far 16 threads of FMA-bound GEMM can scale on the CPU backend's lines.
timeout 30 lscpu | grep -E '^(Model name|Socket|Core|Thread|CPU\(s\)|NUMA node\(s\))|^ *L[123]' \
  || true
echo "SIMD flags: $(grep -m1 -o -w -E 'avx2|fma|avx512[a-z_0-9]*|amx[a-z_0-9]*' /proc/cpuinfo \
  | sort -u | tr '\n' ' ')" || true
PYTHON=$(find_python)
timeout 60 "$PYTHON" -c 'import sys, torch
print(sys.executable, "torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available())' || true
timeout 30 "$PYTHON" -c 'import safetensors; print("safetensors", safetensors.__version__)' \
  || true

# The project asks for CMake 3.25 (presets v6); the gpu-eval-only build uses nothing newer than
# 3.22. On an image with an older CMake, lower the minimum in this copy of the tree, and say so.
cmake_version=$(cmake --version | head -1 | awk '{print $3}')
if [[ "$(printf '%s\n3.25.0\n' "$cmake_version" | sort -V | head -1)" != "3.25.0" ]]; then
  note "cmake $cmake_version is older than 3.25: lowering cmake_minimum_required in this copy"
  sed -i "s/cmake_minimum_required(VERSION 3.25)/cmake_minimum_required(VERSION 3.22)/" \
    CMakeLists.txt
fi

step configure 90 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSOV_GPU_EVAL_ONLY=ON -DSOV_BUILD_TESTS=OFF
step build 240 cmake --build "$BUILD_DIR" -j16 --target gpu_eval_crosscheck gpu_eval_bench

CROSSCHECK=$BUILD_DIR/bench/gpu-eval/gpu_eval_crosscheck
BENCH=$BUILD_DIR/bench/gpu-eval/gpu_eval_bench
if [[ -x $CROSSCHECK ]]; then
  step crosscheck 120 "$CROSSCHECK"
  step crosscheck-autotune 60 env SOV_GPU_EVAL_AUTOTUNE=1 "$CROSSCHECK" --quick
else
  note "no $CROSSCHECK: the build failed"
  echo "crosscheck not built" >> "$SUMMARY"
fi

if [[ -x $BENCH ]]; then
  # The fast modes first (the 70%-of-peak target), so that a short session still gets them.
  for config in "fast bf16" "fast f32" "exact f32" "exact bf16"; do
    read -r precision dtype <<< "$config"
    step "bench-cuda-$precision-$dtype" 100 "$BENCH" --backend cuda --precision "$precision" \
      --dtype "$dtype" --seconds 1 --threads 16 --work-dir "$WORK_DIR" --python "$PYTHON" \
      --peer-timeout 60 --out "$DETAILS/bench-cuda-$precision-$dtype.json"
    if [[ $precision == fast ]]; then
      step "bench-cuda-$precision-$dtype-autotune" 60 env SOV_GPU_EVAL_AUTOTUNE=1 "$BENCH" \
        --backend cuda --precision "$precision" --dtype "$dtype" --seconds 1 --threads 16 \
        --work-dir "$WORK_DIR" --no-peer --out "$DETAILS/bench-cuda-$precision-$dtype-autotune.json"
    fi
  done
  # Where a fast BF16 batch of 65,536 rows spends its time, kernel by kernel: Nsight Compute
  # times each kernel (clocks and caches left as they are). One dataset of 65,536 rows, so that the full
  # pass and the timed batches run the same shapes; no cuBLAS reference, whose kernels would mix
  # with ours. Its CSV goes to ncu-fast-bf16.csv, the summary by kernel to the log.
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu \
    2> /dev/null | head -1 || true)
  if [[ -n $NCU ]]; then
    step ncu-fast-bf16 120 "$NCU" --clock-control none --cache-control none \
      --metrics gpu__time_duration.sum --csv \
      --print-units base --launch-count 200 --log-file "$DETAILS/ncu-fast-bf16.csv" "$BENCH" \
      --backend cuda --precision fast --dtype bf16 --rows 65536 --batch 65536 --seconds 0.05 \
      --threads 16 --work-dir "$WORK_DIR" --no-peer --no-reference
    step ncu-summary 30 python3 bench/gpu-eval/ncu_summary.py "$DETAILS/ncu-fast-bf16.csv" 65536 \
      1861632
  else
    note "no ncu on this machine: no per-kernel times"
  fi
  # The same with Nsight Systems, when the image has it (the trace stays in /tmp; its summary
  # tables go to the log).
  NSYS=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys \
    2> /dev/null | head -1 || true)
  if [[ -n $NSYS ]]; then
    step nsys-fast-bf16 90 "$NSYS" profile --stats=true --force-overwrite=true \
      --output /tmp/sov-gpu-eval-nsys "$BENCH" --backend cuda --precision fast --dtype bf16 \
      --batch 65536 --seconds 0.3 --threads 16 --work-dir "$WORK_DIR" --no-peer
  else
    note "no nsys on this machine: no kernel profile"
  fi
  # The CPU backend (OpenBLAS where the image has it, else its built-in sgemm) beside torch on
  # the same 16 cores.
  step bench-cpu 60 "$BENCH" --backend cpu --rows 16384 --batch 1 --batch 1024 --seconds 0.5 \
    --threads 16 --work-dir "$WORK_DIR" --python "$PYTHON" --peer-timeout 30 \
    --out "$DETAILS/bench-cpu.json"
  # The same with the built-in sgemm forced, torch again in the same run: on 2026-11-30 the
  # built-in kernel ran the full pass 16 % and batch 1,024 7 % faster than OpenBLAS's Cooperlake
  # kernels here, and batch 1 25 % slower (single runs, in separate steps); since then a strip of
  # one row no longer costs six rows' multiply-adds.
  step bench-cpu-builtin 60 env SOV_GPU_EVAL_CPU_GEMM=builtin "$BENCH" --backend cpu \
    --rows 16384 --batch 1 --batch 1024 --seconds 0.5 --threads 16 --work-dir "$WORK_DIR" \
    --python "$PYTHON" --peer-timeout 30 --out "$DETAILS/bench-cpu-builtin.json"
  # The built-in one again on half the host's threads, torch likewise: if its "cores" are pairs
  # of hyperthreads (lscpu above), this is one thread per physical core, which FMA-bound
  # products may prefer.
  half=$(( $(nproc) / 2 ))
  if (( half >= 2 )); then
    step bench-cpu-builtin-half 60 env SOV_GPU_EVAL_CPU_GEMM=builtin "$BENCH" --backend cpu \
      --rows 16384 --batch 1 --batch 1024 --seconds 0.5 --threads "$half" --work-dir "$WORK_DIR" \
      --python "$PYTHON" --peer-timeout 30 --out "$DETAILS/bench-cpu-builtin-half.json"
  fi
else
  note "no $BENCH: the build failed"
  echo "bench not built" >> "$SUMMARY"
fi

timeout 30 nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv || true
note "done in $(( $(date +%s) - START ))s"
tar czf "$OUT/results.tgz" -C "$DETAILS" . || note "could not pack $DETAILS into results.tgz"
cat "$SUMMARY"
