"""`derive --json` in the full shapes of design.md, against torch autograd on random layers."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from symconv.derivation import build
from symconv.problem import load_problem, problem_from_dict
from symconv.serialize import derivation_json


def _nested(flat: list[Any], shape: tuple[int, ...]) -> Any:
    return np.array(flat, dtype=object).reshape(shape).tolist() if shape else flat[0]


def _values(rng: random.Random, shape: tuple[int, ...]) -> Any:
    return _nested([rng.randint(-3, 3) for _ in range(math.prod(shape))], shape)


def _torch_truth(tables: dict[str, Any]) -> dict[str, np.ndarray]:
    """Forward, loss, gradients and one SGD step with torch (an independent autodiff)."""
    layer, values = tables["layer"], tables["values"]
    axes = len(layer["input_shape"])
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[axes]
    x = torch.tensor(values["x"], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(values["w"], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(values["b"], dtype=torch.float64, requires_grad=True)
    y = torch.tensor(values["y"], dtype=torch.float64)
    lr = float(Fraction(tables["optimizer"]["learning_rate"]))

    def forward(w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return conv(x, w, b, stride=layer["stride"], padding=layer["padding"],
                    dilation=layer["dilation"], groups=layer["groups"])

    yhat = forward(w, b)
    yhat.retain_grad()
    loss = 0.5 * ((y - yhat) ** 2).sum()
    loss.backward()
    assert w.grad is not None and b.grad is not None and x.grad is not None
    assert yhat.grad is not None
    with torch.no_grad():
        w_next, b_next = w - lr * w.grad, b - lr * b.grad
        yhat_next = forward(w_next, b_next)
        loss_next = 0.5 * ((y - yhat_next) ** 2).sum()
    out = {
        "yhat": yhat, "loss": loss, "grad_yhat": yhat.grad, "grad_w": w.grad,
        "grad_b": b.grad, "grad_x": x.grad, "w_next": w_next, "b_next": b_next,
        "yhat_next": yhat_next, "loss_next": loss_next,
    }
    return {key: value.detach().numpy() for key, value in out.items()}


def _random_tables(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    axes = rng.choice([2, 2, 3])
    groups = rng.choice([1, 2])
    c_in, c_out = groups * rng.randint(1, 2), groups * rng.randint(1, 2)
    shape = [rng.randint(3, 5) for _ in range(axes)]
    kernel = [rng.randint(1, 2) for _ in range(axes)]
    stride = [rng.randint(1, 2) for _ in range(axes)]
    layer = {
        "input_shape": shape, "in_channels": c_in, "out_channels": c_out, "groups": groups,
        "kernel_size": kernel, "stride": stride, "padding": rng.randint(0, 1),
        "dilation": [1] * axes, "bias": "shared", "batch": rng.randint(1, 2),
    }
    probe = problem_from_dict({"layer": layer})
    values = {
        "x": _values(rng, probe.layer.x_shape), "w": _values(rng, probe.layer.w_shape),
        "b": _values(rng, (c_out,)), "y": _values(rng, probe.layer.y_shape),
    }
    return {"layer": layer, "optimizer": {"learning_rate": "1/8"}, "values": values}


def _toml(tables: dict[str, Any]) -> str:
    lines = []
    for table, section in tables.items():
        lines.append(f"[{table}]")
        for key, value in section.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def _exact(entry: Any) -> np.ndarray:
    """The JSON's nested exact strings ("39/25") as a float array (exact for these values)."""
    return np.vectorize(lambda s: float(Fraction(s)), otypes=[float])(np.array(entry, dtype=object))


@pytest.mark.parametrize("seed", range(6))
def test_json_matches_torch_autograd_on_random_layers(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from symconv.cli import main

    tables = _random_tables(seed)
    path = tmp_path / "layer.toml"
    path.write_text(_toml(tables), encoding="utf-8")
    assert main(["derive", "--problem", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    truth = _torch_truth(tables)
    for key, expected in truth.items():
        entry = document[key]
        assert entry["shape"] == list(expected.shape), key
        # integers and eighths: float64 is exact, so the comparison is exact
        np.testing.assert_array_equal(_exact(entry["exact"]), expected, err_msg=key)
        np.testing.assert_array_equal(np.array(entry["float"]), expected, err_msg=key)


def test_a_wrong_value_is_caught_by_the_same_comparison() -> None:
    tables = _random_tables(1)
    document = derivation_json(build(problem_from_dict(tables), form="explicit"))
    truth = _torch_truth(tables)
    wrong = _exact(document["grad_w"]["exact"])
    wrong.flat[0] += 1  # one entry off by one
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(wrong, truth["grad_w"])


def test_exercise_json_keeps_flat_lists() -> None:
    document = derivation_json(build(load_problem("exercise2")))
    assert document["grad_w"] == {
        "exact": ["44", "72", "100"], "float": [44.0, 72.0, 100.0], "shape": [3]
    }
    assert document["values"]["b"]["exact"] == ["1", "1"]
    assert document["loss"] == {"exact": "200", "float": 200.0, "shape": []}
    shared = derivation_json(
        build(load_problem("exercise2", {"layer.bias": "shared", "values.b": "1"}))
    )
    assert shared["grad_b"]["exact"] == "28"  # a shared bias of one channel is one number


def test_mnist_conv1_json_is_in_full_shapes() -> None:
    document = derivation_json(build(load_problem("mnist_conv1"), form="explicit"))
    assert document["yhat"]["shape"] == [2, 5, 14, 14]
    assert document["grad_w"]["shape"] == [5, 1, 4, 4]
    assert document["grad_b"]["shape"] == [5]
    assert document["grad_x"]["shape"] == [2, 1, 28, 28]
    assert len(document["grad_x"]["exact"][1][0][27]) == 28
    assert "omitted" in document["symbolic"]  # 31,360 products are not listed
