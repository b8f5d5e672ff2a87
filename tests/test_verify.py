"""``symconv verify`` from the command line: exit codes, JSON, replay."""

from __future__ import annotations

import json

import pytest

from symconv.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(list(argv)))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_exercise_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--width", "100")
    assert code == 0
    assert "all checks hold" in out
    assert "torch-float32" in out


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--problem", "exercise2", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["ok"] is True and document["configs"] == 1
    keys = {"config", "quantity", "backend", "max_abs_err", "max_rel_err", "tolerance", "ok"}
    assert all(keys <= set(check) for check in document["checks"])
    pairs = {(c["quantity"], c["backend"]) for c in document["checks"]}
    assert ("grad_w", "torch-float32") in pairs and ("grad_x", "finite-diff-float64") in pairs


def test_a_mutant_fails_with_exit_1_and_names_the_quantity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "verify", "--mutant", "wrong-sign", "--width", "200")
    assert code == 1
    assert "mutant:wrong-sign: w_next" in out


def test_sweep_json_names_failures_for_replay(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "verify", "--sweep", "3", "--seed", "5", "--mutant", "flipped-kernel", "--json"
    )
    assert code == 1
    failing = [c for c in json.loads(out)["checks"] if not c["ok"]]
    assert failing and all("case" in c["config"] for c in failing)
    case = failing[0]["config"]["case"]
    code, out, _ = run(
        capsys, "verify", "--sweep", "3", "--seed", "5", "--case", str(case), "--json"
    )
    assert code == 0 and json.loads(out)["configs"] == 1


def test_symbolic_problem_gets_random_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--n", "7", "--k", "3", "--stride", "2", "--json")
    assert code == 0 and json.loads(out)["ok"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("verify", "--mutant", "nonsense"), "`--mutant` (=nonsense)"),
        (("verify", "--sweep", "0"), "`--sweep` (=0)"),
        (("verify", "--case", "2"), "`--case` (=2)"),
        (("verify", "--dtype", "float16"), "invalid choice"),
        (("verify", "--stride", "0", "--problem", "exercise2"), "`--stride` (=0)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["conv2d_small", "mnist_conv1"])
def test_builtin_2d_problems_pass(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = run(capsys, "verify", "--problem", name, "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"], [c for c in document["checks"] if not c["ok"]][:3]
    config = document["checks"][0]["config"]
    assert len(config["input_shape"]) == 2
    backends = {c["backend"] for c in document["checks"]}
    assert {"kernel-float64", "numpy-float32", "torch-float64"} <= backends


@pytest.mark.slow
def test_mnist_conv2_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--problem", "mnist_conv2", "--json")
    assert code == 0 and json.loads(out)["ok"]


@pytest.mark.slow
def test_sweep_200_covers_every_kind_of_layer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--sweep", "200", "--seed", "3", "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] and document["configs"] == 200
    configs = [c["config"] for c in document["checks"]]
    assert {len(c["input_shape"]) for c in configs} >= {2, 3}
    assert any(c["in_channels"] > 1 for c in configs)
    assert any(c["groups"] > 1 for c in configs)
    assert any(c["batch"] > 1 for c in configs)


def test_a_2d_mutant_names_configuration_quantity_and_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "verify", "--problem", "conv2d_small", "--mutant", "transposed-axes",
        "--width", "400",
    )
    assert code == 1
    line = next(line for line in out.splitlines() if line.startswith("✗ mutant:transposed-axes"))
    assert "2-D 4×4, 2→1 ch, k 2×2" in line  # the configuration
    assert "yhat" in line and "expected" in line and "got" in line  # quantity, entry, values
