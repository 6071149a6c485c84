#!/usr/bin/python3
"""Converts a PyTorch feed-forward classifier to Sovereign's model format (docs/models.md).

    /usr/bin/python3 examples/gpu-eval/torch_to_safetensors.py MODEL.pt OUT.safetensors
    /usr/bin/python3 examples/gpu-eval/torch_to_safetensors.py STATE.pt OUT.safetensors --activation relu
    /usr/bin/python3 examples/gpu-eval/torch_to_safetensors.py --demo OUT.safetensors

MODEL.pt is an nn.Sequential saved with torch.save(module): Linear layers with activations
between them (ReLU, GELU, Tanh, Sigmoid; Dropout and Identity are dropped, as in eval mode; a
trailing Softmax or LogSoftmax is dropped because the format's head is softmax). Nested
nn.Sequential blocks are flattened. STATE.pt is its state_dict (torch.save(module.state_dict())):
a state_dict holds no activations, so --activation names the one used after every hidden layer.

Tensor names are kept (e.g. "net.0.weight"), so the file also loads back into the module with
load_state_dict. F32, F16 and BF16 weights are kept as they are (all layers must share one
dtype); F64 is converted to F32. A Linear without bias gets a zero bias (the format requires
one). A single-logit binary head (BCEWithLogits style) is exported as two logits [0, z], whose
softmax equals the sigmoid of z. Anything the format cannot express is refused with the module
named.

--demo builds a small random model (16 inputs, hidden 32 and 16 with ReLU, 4 classes; seed 0),
saves the module beside OUT as OUT.pt, and converts it, so the tool can be tried without a model.
"""

import argparse
import sys

import numpy as np
import torch
from torch import nn

import sov_safetensors


class ConversionError(Exception):
    pass


def _activation_of(module):
    """Our name for an activation module, None for a module that does nothing in eval mode."""
    if isinstance(module, (nn.Dropout, nn.Identity)):
        return None
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.GELU):
        if getattr(module, "approximate", "none") != "none":
            raise ConversionError("GELU(approximate='tanh') differs from the exact GELU we compute")
        return "gelu"
    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    raise ConversionError(f"module {type(module).__name__} is not a supported activation")


def _flatten(module, prefix=""):
    """(dotted name, leaf module) pairs of nested Sequentials, in order."""
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            yield from _flatten(child, full + ".")
        else:
            yield full, child


def layers_from_module(module):
    """[(prefix, weight, bias or None)] and the activation after each hidden layer."""
    if not isinstance(module, nn.Sequential):
        raise ConversionError(f"expected an nn.Sequential, got {type(module).__name__}")
    leaves = list(_flatten(module))
    while leaves and isinstance(leaves[-1][1], (nn.Softmax, nn.LogSoftmax, nn.Dropout, nn.Identity)):
        leaves.pop()
    layers, activations, pending = [], [], None
    for name, leaf in leaves:
        if isinstance(leaf, nn.Linear):
            if layers:
                activations.append(pending or "identity")
            layers.append((name, leaf.weight.detach(),
                           None if leaf.bias is None else leaf.bias.detach()))
            pending = None
            continue
        try:
            act = _activation_of(leaf)
        except ConversionError as e:
            raise ConversionError(f"module '{name}': {e}") from None
        if act is None:
            continue
        if not layers:
            raise ConversionError(f"module '{name}': an activation before the first Linear")
        if pending is not None:
            raise ConversionError(f"module '{name}': two activations in a row")
        pending = act
    if pending is not None:
        raise ConversionError("an activation after the last Linear (the head must be raw logits)")
    if not layers:
        raise ConversionError("no Linear layer")
    return layers, activations


def layers_from_state_dict(state, activation):
    """Layers from `N.weight`/`N.bias` keys, in the order of the state_dict."""
    if activation is None:
        raise ConversionError("a state_dict holds no activations: pass --activation")
    layers = []
    for key, value in state.items():
        if not key.endswith(".weight"):
            continue
        prefix = key[: -len(".weight")]
        if value.dim() != 2:
            raise ConversionError(f"tensor '{key}' has rank {value.dim()}, a Linear weight has 2")
        layers.append((prefix, value.detach(), state.get(prefix + ".bias")))
    if not layers:
        raise ConversionError("no '*.weight' tensor in the state_dict")
    return layers, [activation] * (len(layers) - 1)


def _numpy_or_raw(tensor):
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        # numpy has no bfloat16: carry the raw 16-bit patterns (little-endian hosts).
        return sov_safetensors.RawTensor("BF16", tensor.shape, tensor.view(torch.int16).numpy().tobytes())
    return tensor.numpy()


def export(layers, activations, path):
    """Checks the shapes chain and writes the model file."""
    dtypes = {w.dtype for _, w, _ in layers}
    if len(dtypes) != 1:
        raise ConversionError(f"layers mix dtypes {sorted(str(d) for d in dtypes)}")
    dtype = dtypes.pop()
    if dtype == torch.float64:
        dtype = torch.float32
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ConversionError(f"weight dtype {dtype} is not F32, F16 or BF16")

    tensors, prefixes, previous_out = [], [], None
    last = len(layers) - 1
    for k, (prefix, weight, bias) in enumerate(layers):
        out_features, in_features = weight.shape
        if previous_out is not None and in_features != previous_out:
            raise ConversionError(f"layer '{prefix}' takes {in_features} inputs but the layer "
                                  f"before gives {previous_out}")
        if bias is None:
            bias = torch.zeros(out_features, dtype=weight.dtype)
        elif tuple(bias.shape) != (out_features,):
            raise ConversionError(f"tensor '{prefix}.bias' has shape {list(bias.shape)}, "
                                  f"expected [{out_features}]")
        weight, bias = weight.to(dtype), bias.to(dtype)
        if k == last and out_features == 1:
            w, b = sov_safetensors.binary_as_two_logits(weight.float().numpy(), bias.float().numpy())
            weight, bias = torch.from_numpy(w).to(dtype), torch.from_numpy(b).to(dtype)
        previous_out = out_features
        prefixes.append(prefix)
        tensors += [(prefix + ".weight", _numpy_or_raw(weight)), (prefix + ".bias", _numpy_or_raw(bias))]
    metadata = sov_safetensors.model_metadata(activations, prefixes)
    metadata["sov.source"] = f"torch {torch.__version__}"
    sov_safetensors.write(path, tensors, metadata)
    return [layers[0][1].shape[1]] + [int(t.shape[0]) for n, t in tensors if n.endswith(".bias")]


def demo_module():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 4))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", nargs="?", help="torch.save'd nn.Sequential or its state_dict")
    parser.add_argument("output", help="the .safetensors file to write")
    parser.add_argument("--activation", choices=sov_safetensors.ACTIVATIONS,
                        help="activation after every hidden layer (state_dict input only)")
    parser.add_argument("--demo", action="store_true", help="convert a small random model")
    args = parser.parse_args()

    try:
        if args.demo:
            if args.input:
                raise ConversionError("--demo takes no input file")
            module = demo_module()
            torch.save(module, args.output + ".pt")
            layers, activations = layers_from_module(module)
        else:
            if not args.input:
                raise ConversionError("an input file is required (or --demo)")
            loaded = torch.load(args.input, map_location="cpu")
            if isinstance(loaded, nn.Module):
                if args.activation:
                    raise ConversionError("--activation is for state_dicts; a module names its own")
                layers, activations = layers_from_module(loaded)
            elif isinstance(loaded, dict):
                layers, activations = layers_from_state_dict(loaded, args.activation)
            else:
                raise ConversionError(f"{args.input} holds a {type(loaded).__name__}, "
                                      "not a module or a state_dict")
        sizes = export(layers, activations, args.output)
    except ConversionError as e:
        sys.exit(f"torch_to_safetensors: {args.input or 'demo'}: {e}")
    print(f"{args.output}: layers {sizes}, activations {activations or ['none']}")


if __name__ == "__main__":
    main()
