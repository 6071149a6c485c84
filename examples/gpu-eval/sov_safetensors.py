"""Writes safetensors files in Sovereign's model and dataset layouts (docs/models.md).

Plain struct + json + numpy, so that the scripts beside this one run where the `safetensors`
package is not installed. The output matches the reference writer's layout: an 8-byte
little-endian header length, a compact JSON header padded with spaces to a multiple of 8 bytes,
then the tensors back to back in the order given.
"""

import json
import os
import struct
import tempfile

import numpy as np

# numpy dtype -> safetensors dtype name. bfloat16 has no numpy dtype: pass it as RawTensor.
_DTYPES = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint16): "U16",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint32): "U32",
    np.dtype(np.int64): "I64",
    np.dtype(np.uint64): "U64",
    np.dtype(np.float16): "F16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
}

MODEL_KIND = "feedforward-classifier"
ACTIVATIONS = ("relu", "gelu", "tanh", "sigmoid", "identity")


class RawTensor:
    """Element bytes that numpy cannot describe (BF16), with their safetensors dtype."""

    def __init__(self, dtype, shape, data):
        self.dtype = dtype
        self.shape = list(shape)
        self.data = bytes(data)


def _encode(value):
    if isinstance(value, RawTensor):
        return value.dtype, value.shape, value.data
    array = np.ascontiguousarray(value)
    if array.dtype not in _DTYPES:
        raise ValueError(f"dtype {array.dtype} has no safetensors equivalent")
    # Safetensors is little-endian whatever the host.
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return _DTYPES[array.dtype], list(array.shape), little.tobytes()


def serialize(tensors, metadata=None):
    """Returns the file's bytes. `tensors` is a list of (name, numpy array or RawTensor)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name, value in tensors:
        if name in header:
            raise ValueError(f"duplicate tensor name {name!r}")
        dtype, shape, data = _encode(value)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, tensors, metadata=None):
    """Writes the file atomically (a temporary file renamed over `path`), mode 0644."""
    data = serialize(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def model_metadata(activations, layer_prefixes):
    """The __metadata__ of a feed-forward classifier: one activation per hidden layer."""
    for a in activations:
        if a not in ACTIVATIONS:
            raise ValueError(f"activation {a!r} is not one of {', '.join(ACTIVATIONS)}")
    metadata = {"sov.model": MODEL_KIND, "sov.output": "softmax",
                "sov.layers": ",".join(layer_prefixes)}
    if len(set(activations)) <= 1:
        metadata["sov.activation"] = activations[0] if activations else "identity"
    else:
        metadata["sov.activations"] = ",".join(activations)
    return metadata


def binary_as_two_logits(weight, bias):
    """A one-logit binary head z (sigmoid) as two logits [0, z]: softmax([0, z]) = [1 - s, s]
    with s = sigmoid(z), so the exported model's probabilities equal the original's."""
    zero_row = np.zeros((1, weight.shape[1]), dtype=weight.dtype)
    return (np.concatenate([zero_row, weight], axis=0),
            np.concatenate([np.zeros(1, dtype=bias.dtype), bias]))
