#!/usr/bin/python3
"""Makes the real-model fixture of gpu-eval's tests: scikit-learn's MLPClassifier trained on the
digits dataset (bundled with scikit-learn, no download), exported in Sovereign's model format,
with its held-out split as a validation dataset and scikit-learn's own results on that split.

    /usr/bin/python3 examples/gpu-eval/make_digits_fixture.py [--out DIR]

writes into DIR (default tests/gpu-eval/fixtures):

    digits-mlp.safetensors   the model: 0.weight [64, 64], 0.bias, 2.weight [32, 64], 2.bias,
                             4.weight [10, 32], 4.bias (F32), relu, softmax head
    digits-test.safetensors  features [450, 64] F32, labels [450] I64, groups [450] I64
    digits-expected.json     score(), predictions and log-loss on the held-out split

Everything is float32 from end to end: scikit-learn (>= 1.1) keeps float32 when fit on float32
input, so its forward pass is the same FP32 computation as ours and the predictions must agree
exactly. `groups` is a synthetic protected attribute (the parity of the row's index in the split),
present only so that the fairness code runs on real predictions; it means nothing about digits.

Binary problems are exported with two logits (see sov_safetensors.binary_as_two_logits);
multi-label models are refused.
"""

import argparse
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import sov_safetensors

# sklearn's hidden activations -> ours.
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "identity"}

SEED = 0
HIDDEN = (64, 32)


def export_mlp(clf, path):
    """Writes a fitted MLPClassifier as a feed-forward classifier. Raises ValueError for what
    the format cannot express."""
    if clf.out_activation_ not in ("softmax", "logistic"):
        raise ValueError(f"output activation {clf.out_activation_!r} is not a classifier head")
    if clf.out_activation_ == "logistic" and len(clf.classes_) != 2:
        raise ValueError("multi-label MLPClassifier: one sigmoid per label has no softmax equivalent")
    if list(clf.classes_) != list(range(len(clf.classes_))):
        raise ValueError(f"classes must be 0..C-1 to be class indices, got {list(clf.classes_)}")
    if clf.activation not in _ACTIVATIONS:
        raise ValueError(f"hidden activation {clf.activation!r} is not supported")

    tensors = []
    prefixes = []
    last = len(clf.coefs_) - 1
    for k, (coef, intercept) in enumerate(zip(clf.coefs_, clf.intercepts_)):
        # sklearn stores [in, out]; torch's Linear (and our format) stores [out, in]. Layer names
        # follow nn.Sequential's numbering, where activations take the odd indices.
        weight = np.ascontiguousarray(coef.T.astype(np.float32))
        bias = intercept.astype(np.float32)
        if k == last and clf.out_activation_ == "logistic":
            weight, bias = sov_safetensors.binary_as_two_logits(weight, bias)
        prefix = str(2 * k)
        prefixes.append(prefix)
        tensors += [(prefix + ".weight", weight), (prefix + ".bias", bias)]
    activations = [_ACTIVATIONS[clf.activation]] * last
    metadata = sov_safetensors.model_metadata(activations, prefixes)
    metadata["sov.source"] = f"scikit-learn {sklearn.__version__} MLPClassifier"
    sov_safetensors.write(path, tensors, metadata)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "tests", "gpu-eval", "fixtures")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=default_out, help="output directory")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED)
    clf = MLPClassifier(hidden_layer_sizes=HIDDEN, activation="relu", max_iter=1000,
                        random_state=SEED)
    clf.fit(x_train, y_train)
    if any(c.dtype != np.float32 for c in clf.coefs_):
        sys.exit("this scikit-learn upcast the weights to float64; the fixture needs >= 1.1")

    export_mlp(clf, os.path.join(args.out, "digits-mlp.safetensors"))

    groups = (np.arange(len(y_test)) % 2).astype(np.int64)
    sov_safetensors.write(os.path.join(args.out, "digits-test.safetensors"), [
        ("features", np.ascontiguousarray(x_test, dtype=np.float32)),
        ("labels", y_test.astype(np.int64)),
        ("groups", groups),
    ], {"sov.source": "sklearn.datasets.load_digits, train_test_split(test_size=0.25, "
                      "random_state=0), test part; groups = row index parity (synthetic)"})

    predictions = clf.predict(x_test)
    probabilities = clf.predict_proba(x_test)
    score = clf.score(x_test, y_test)
    correct = int((predictions == y_test).sum())
    expected = {
        "sklearnVersion": sklearn.__version__,
        "hiddenLayerSizes": list(HIDDEN),
        "trainingIterations": int(clf.n_iter_),
        "rows": int(len(y_test)),
        "classes": int(len(clf.classes_)),
        "score": float(score),
        "correct": correct,
        # The same clipping as the report's log-loss (1e-15), on sklearn's float32 probabilities.
        "logLoss": float(log_loss(y_test, probabilities.astype(np.float64), eps=1e-15,
                                  labels=clf.classes_)),
        "predictions": [int(p) for p in predictions],
    }
    with open(os.path.join(args.out, "digits-expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"score {score:.6f} ({correct}/{len(y_test)}), log-loss {expected['logLoss']:.6f}, "
          f"{clf.n_iter_} iterations -> {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
