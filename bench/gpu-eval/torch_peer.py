#!/usr/bin/env python3
"""PyTorch peer of gpu_eval_bench: the same measurements on the same files with torch.

gpu_eval_bench runs this script as a child process with the safetensors files it generated
(a feed-forward classifier in Sovereign's model layout, docs/models.md, and a features/labels
dataset), the same device, thread count, batch sizes and measuring time, and reads one JSON
object from stdout. Progress and warnings go to stderr.

Measured, each pass synchronised, with the data already on the device:
  full     forward + softmax + argmax over the whole dataset in chunks of --full-batch rows, the
           predictions brought to the host; repeated for --seconds (at least 3 passes) after one
           warm-up, samples/s from the median pass (as ours);
  batches  forward + softmax + argmax on the first B rows; a short probe sizes the run to about
           --seconds; samples/s from the mean pass, p50/p99 latency (numpy's percentile, as ours).

--compute says which arithmetic matches our backend: f32 (TF32 disabled), tf32 (F32 weights,
TF32 matmuls allowed), bf16 or f16 (weights and inputs in that type). The weights are read in
the file's dtype and converted, as our backend does.

When torch (or CUDA for --device cuda) is missing, it prints {"available": false, "reason": ...}
and exits 0, so that the benchmark still prints its own figures.
"""
import argparse
import json
import os
import struct
import sys
import time

# BF16 is read as its 16-bit patterns and reinterpreted by torch (numpy has no bfloat16).
_NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<i2", "F64": "<f8", "I8": "i1", "U8": "u1",
                 "I16": "<i2", "U16": "<u2", "I32": "<i4", "U32": "<u4", "I64": "<i8",
                 "U64": "<u8"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--compute", choices=["f32", "tf32", "bf16", "f16"], default="f32")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--batch", type=int, action="append", default=[])
    p.add_argument("--full-batch", type=int, default=65536)
    p.add_argument("--seconds", type=float, default=2.0)
    return p.parse_args()


def log(message):
    print("torch_peer: " + message, file=sys.stderr, flush=True)


def read_header(path):
    """Returns (header dict without __metadata__, metadata dict, offset of the data section)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    metadata = header.pop("__metadata__", {}) or {}
    return header, metadata, 8 + length


def load_tensors(path, torch):
    """Reads every tensor of a safetensors file into CPU tensors, and the metadata.

    Uses the safetensors package when present (the reference reader: a check that our writer's
    files are what it expects), else a reader built on the header and numpy.fromfile.
    """
    header, metadata, data_start = read_header(path)
    reader = "struct+numpy"
    try:
        import safetensors
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        try:
            return load_file(path), metadata, "safetensors " + safetensors.__version__
        except Exception as e:  # our writer's file refused by the reference reader: say so
            log(f"safetensors {safetensors.__version__} refused {path}: {e}")
            reader += f" (safetensors {safetensors.__version__} refused the file: {e})"
    import numpy as np
    tensors = {}
    for name, info in header.items():
        dtype = info["dtype"]
        if dtype not in _NUMPY_DTYPES:
            raise ValueError(f"{path}: tensor '{name}': dtype {dtype} is not supported here")
        begin, end = info["data_offsets"]
        np_dtype = np.dtype(_NUMPY_DTYPES[dtype])
        count = (end - begin) // np_dtype.itemsize
        array = np.fromfile(path, dtype=np_dtype, count=count, offset=data_start + begin)
        if dtype in ("U16", "U32", "U64"):  # torch 1.13 has no such types: labels or groups
            array = array.astype(np.int64)
        tensor = torch.from_numpy(array.reshape(info["shape"]))
        if dtype == "BF16":
            tensor = tensor.view(torch.bfloat16)
        tensors[name] = tensor
    return tensors, metadata, reader


def layer_prefixes(tensors, metadata):
    if metadata.get("sov.layers"):
        return [p.strip() for p in metadata["sov.layers"].split(",")]
    numeric = [n[: -len(".weight")] for n in tensors if n.endswith(".weight")]
    return sorted((p for p in numeric if p.isdigit()), key=int)


def activation_names(metadata, hidden_layers):
    if metadata.get("sov.activations"):
        names = [a.strip() for a in metadata["sov.activations"].split(",")]
    else:
        names = [metadata.get("sov.activation", "relu")] * hidden_layers
    if len(names) != hidden_layers:
        raise ValueError(f"{len(names)} activations for {hidden_layers} hidden layers")
    return names


def build_model(torch, tensors, metadata, dtype, device):
    nn = torch.nn
    makers = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
              "identity": nn.Identity}
    prefixes = layer_prefixes(tensors, metadata)
    activations = activation_names(metadata, len(prefixes) - 1)
    modules = []
    for k, prefix in enumerate(prefixes):
        weight = tensors[prefix + ".weight"]
        bias = tensors[prefix + ".bias"]
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            linear.weight.copy_(weight.to(torch.float32))
            linear.bias.copy_(bias.to(torch.float32))
        modules.append(linear)
        if k < len(activations):
            modules.append(makers[activations[k]]())
    return nn.Sequential(*modules).to(device=device, dtype=dtype).eval()


def percentile(values, p):
    import numpy as np
    return float(np.percentile(np.asarray(values), p))


def make_sync(torch, device):
    if device == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def predict(torch, model, x):
    logits = model(x)
    return torch.softmax(logits.float(), dim=1).argmax(dim=1)


def measure_full(torch, model, x, labels, chunk, seconds, sync):
    rows = x.shape[0]
    predictions = torch.empty(rows, dtype=torch.int64, device=x.device)

    def one_pass():
        for start in range(0, rows, chunk):
            predictions[start:start + chunk] = predict(torch, model, x[start:start + chunk])
        host = predictions.cpu()  # ours returns the predictions on the host too
        sync()
        return host

    host = one_pass()
    correct = int((host == labels).sum().item())
    times = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - t0)
    p50 = percentile(times, 50)
    return {"batch": rows, "iterations": len(times), "samples_per_s": rows / p50,
            "p50_ms": p50 * 1e3, "p99_ms": percentile(times, 99) * 1e3, "correct": correct}


def time_batches(torch, model, xb, warmup, iterations, sync):
    for _ in range(warmup):
        predict(torch, model, xb)
    sync()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        predict(torch, model, xb)
        sync()
        times.append(time.perf_counter() - t0)
    return times


def measure_batch(torch, model, x, batch, seconds, sync):
    rows = x.shape[0]
    if batch <= rows:
        xb = x[:batch]
    else:  # cyclic, as Backend::TimeBatches
        xb = x[torch.arange(batch, device=x.device) % rows]
    probe = time_batches(torch, model, xb, 2, 3, sync)
    per_pass = max(sum(probe) / len(probe), 1e-7)
    iterations = int(min(max(seconds / per_pass, 10), 200000))
    times = time_batches(torch, model, xb, 3, iterations, sync)
    mean = sum(times) / len(times)
    return {"batch": batch, "iterations": iterations, "samples_per_s": batch / mean,
            "p50_ms": percentile(times, 50) * 1e3, "p99_ms": percentile(times, 99) * 1e3}


def device_name(torch, device):
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def run(args):
    if args.threads > 0:
        # torch.set_num_threads sizes OpenMP (and MKL), not the OpenBLAS that Debian's torch
        # calls for sgemm: that one reads its thread count from the environment when it loads.
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    try:
        import numpy  # noqa: F401  (percentiles, and the fallback reader)
        import torch
    except ImportError as e:
        return {"available": False, "reason": f"{sys.executable}: {e}"}
    if args.device == "cuda" and not torch.cuda.is_available():
        return {"available": False, "reason": f"torch {torch.__version__}: CUDA is not available"}
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16,
             "f16": torch.float16}[args.compute]
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = args.compute == "tf32"
        torch.backends.cudnn.allow_tf32 = args.compute == "tf32"
        # Half-precision GEMMs accumulate in FP32 throughout, as ours do (torch otherwise lets
        # cuBLAS reduce split-K partial sums in the half type).
        for flag in ("allow_fp16_reduced_precision_reduction",
                     "allow_bf16_reduced_precision_reduction"):
            if hasattr(torch.backends.cuda.matmul, flag):
                setattr(torch.backends.cuda.matmul, flag, False)
    sync = make_sync(torch, args.device)

    with torch.inference_mode():
        weights, metadata, reader = load_tensors(args.model, torch)
        model = build_model(torch, weights, metadata, dtype, args.device)
        data, _, _ = load_tensors(args.data, torch)
        x = data["features"].to(device=args.device, dtype=dtype)
        labels = data["labels"].to(torch.int64)
        del data
        sync()
        log(f"torch {torch.__version__} on {args.device}, {args.compute}, "
            f"{torch.get_num_threads()} threads, {x.shape[0]} rows ({reader})")
        full = measure_full(torch, model, x, labels, min(args.full_batch, x.shape[0]),
                            args.seconds, sync)
        batches = [measure_batch(torch, model, x, b, args.seconds, sync) for b in args.batch]
    return {"available": True, "torch": torch.__version__, "device": args.device,
            "device_name": device_name(torch, args.device), "compute": args.compute,
            "threads": torch.get_num_threads(), "reader": reader, "rows": int(x.shape[0]),
            "full_batch": min(args.full_batch, int(x.shape[0])), "full": full,
            "batches": batches}


def main():
    args = parse_args()
    try:
        result = run(args)
    except Exception as e:  # reported to the benchmark, which still prints its own figures
        result = {"available": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
