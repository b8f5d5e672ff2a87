"""``symconv verify --impl``: a user's own layer from the command line.

The user's module is written into a temporary directory that becomes the current one
(``--impl`` imports from there).  A correct layer exits 0; a broken one exits 1 with the
message (quantity, first wrong entry, diagnosis, replay) and its replay reproduces it; a
callable that cannot be imported or called is one line on stderr with exit 2 and no
traceback; ``--json`` prints one document.  Plain ``verify`` keeps its behaviour.
"""

from __future__ import annotations

import itertools
import json
import shlex
import sys
from pathlib import Path

import pytest

from symconv.cli import main
from symconv.testing import DIAGNOSES, Supports, cases

MODULE = """
import numpy as np
from symconv.reference import numpy_conv as nc
from symconv.testing import layer_from_call

def forward(x, w, b, **s):
    return nc.forward(layer_from_call(x, w, b, **s), x, w, b)

def backward(x, w, b, g, **s):
    return nc.backward(layer_from_call(x, w, b, **s), x, w, b, g)

def forward_flipped(x, w, b, **s):
    return forward(x, np.flip(w, axis=tuple(range(2, w.ndim))).copy(), b, **s)

def forward_raising(x, w, b, **s):
    raise ZeroDivisionError("division by zero")

def backward_pair(x, w, b, g, **s):
    return backward(x, w, b, g, **s)[:2]

def torch_forward(x, w, b, *, stride, padding, dilation, groups, padding_mode):
    import torch.nn.functional as F
    pairs = [p if isinstance(p, tuple) else (p, p) for p in padding]
    pads = [side for pair in reversed(pairs) for side in pair]
    x = F.pad(x, pads) if any(pads) else x
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.dim() - 2]
    return conv(x, w, b, stride=stride, dilation=dilation, groups=groups)

NOT_CALLABLE = 3
"""

_NAMES = itertools.count()


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh user module in the current directory; returns its name."""
    name = f"user_conv_{next(_NAMES)}"
    (tmp_path / f"{name}.py").write_text(MODULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    return name


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(list(argv)))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_a_correct_layer_passes(capsys: pytest.CaptureFixture[str], user: str) -> None:
    code, out, err = run(
        capsys, "verify", "--impl", f"{user}:forward", "--impl-backward", f"{user}:backward"
    )
    assert (code, err) == (0, "")
    assert "20 configuration(s) × float64" in out and "every quantity matches" in out
    code, out, _ = run(
        capsys, "verify", "--impl", f"{user}:forward", "--impl-backward", f"{user}:backward",
        "--sweep", "6", "--seed", "3", "--dtype", "all", "--supports", "dims=1,2,3",
        "--supports", "padding_modes=zeros,circular", "--json",
    )
    document = json.loads(out)
    assert code == 0 and document["ok"] is True and document["configs"] == 6
    assert {c["backend"] for c in document["checks"]} == {"impl-float64", "impl-float32"}
    assert {c["quantity"] for c in document["checks"]} == {"yhat", "grad_x", "grad_w", "grad_b"}
    assert document["failures"] == []


def test_a_problem_and_a_torch_forward(capsys: pytest.CaptureFixture[str], user: str) -> None:
    pytest.importorskip("torch")
    code, out, _ = run(capsys, "verify", "--impl", f"{user}:torch_forward", "--problem",
                       "conv2d_small", "--json")
    document = json.loads(out)
    assert code == 0 and document["configs"] == 1
    assert document["checks"][0]["config"]["input_shape"] == [4, 4]
    code, out, _ = run(capsys, "verify", "--impl", f"{user}:torch_forward", "--sweep", "3")
    assert code == 0 and "3 configuration(s)" in out


def test_a_mismatch_exits_1_with_the_message_and_replays(
    capsys: pytest.CaptureFixture[str], user: str
) -> None:
    argv = ["verify", "--impl", f"{user}:forward_flipped", "--impl-backward",
            f"{user}:backward", "--sweep", "8", "--supports", "dims=2"]
    code, out, err = run(capsys, *argv)
    assert code == 1 and err == ""
    assert f"yhat of {user}:forward_flipped/backward differs from the exact value" in out
    assert "first wrong entry: yhat[" in out
    assert f"diagnosis: {DIAGNOSES['flipped-kernel']}" in out
    assert "FAILED" in out.splitlines()[-1]
    replay = next(line for line in out.splitlines() if "replay:" in line).split("replay: ")[1]
    assert "--supports dims=2" in replay and "--sweep 8 --seed 0 --case " in replay
    # the replay runs that one case: the same message, one configuration
    case = int(replay.split("--case ")[1].split()[0])
    code, again, _ = run(capsys, *shlex.split(replay)[1:])
    assert code == 1 and "1 configuration(s)" in again
    first = out.split("\n\n")[[b.count("--case ") for b in out.split("\n\n")].index(1)]
    assert first.strip() in again
    assert cases(Supports(dims=(2,)), sweep=8)[case - 1].problem.layer.ndim == 2


def test_json_mode_is_one_document(capsys: pytest.CaptureFixture[str], user: str) -> None:
    code, out, err = run(
        capsys, "verify", "--impl", f"{user}:forward_flipped", "--impl-backward",
        f"{user}:backward", "--sweep", "5", "--json",
    )
    assert code == 1 and err == ""
    document = json.loads(out)  # nothing else on stdout
    assert set(document) >= {"ok", "configs", "checks", "failures"} and not document["ok"]
    failing = [c for c in document["checks"] if not c["ok"]]
    assert failing
    for check in failing:
        assert check["backend"] == "impl-float64" and "case" in check["config"]
        assert {"index", "expected", "actual", "max_abs_err", "tolerance"} <= set(check)
        assert check["diagnosis"] == DIAGNOSES["flipped-kernel"]
    failure = document["failures"][0]
    assert failure["quantity"] == "yhat" and failure["diagnosis"] == DIAGNOSES["flipped-kernel"]
    assert failure["message"].startswith("yhat of ") and "--case" in failure["replay"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--impl", "nowhere_at_all.mod:f"],
         "`--impl` (=nowhere_at_all.mod:f) cannot be imported: No module named 'nowhere_at_all'"),
        (["--impl", "{user}:missing"], "`--impl` (={user}:missing) cannot be imported: {user} "
         "has no attribute 'missing'"),
        (["--impl", "{user}:NOT_CALLABLE"],
         "`--impl` (={user}:NOT_CALLABLE) is not callable (it is a int)"),
        (["--impl", "{user}"], "`--impl` (={user}) must be MODULE:NAME"),
        (["--impl", "{user}:forward_raising", "--impl-backward", "{user}:backward"],
         "`--impl` (={user}:forward_raising) raised ZeroDivisionError: division by zero on "),
        (["--impl", "{user}:forward", "--impl-backward", "{user}:backward_pair"],
         "`--impl-backward` (={user}:backward_pair) returned 2 values; expected (grad_x, "),
        (["--impl-backward", "{user}:backward"], "`--impl-backward` needs --impl"),
        (["--impl", "{user}:forward", "--framework", "numpy"], "`--framework` (=numpy) needs "),
        (["--impl", "{user}:forward", "--impl-backward", "{user}:backward", "--supports",
          "dims=4"], "`--supports`: `Supports.dims` (=(4,))"),
        (["--impl", "{user}:forward", "--impl-backward", "{user}:backward", "--mutant",
          "wrong-sign"], "`--mutant` and `--list-mutants` cannot be combined with --impl"),
        (["--framework", "torch"], "`--framework` needs --impl"),
    ],
)
@pytest.mark.parametrize("json_mode", [False, True])
def test_errors_are_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str], user: str, argv: list[str], message: str,
    json_mode: bool,
) -> None:
    argv = [a.replace("{user}", user) for a in argv] + (["--json"] if json_mode else [])
    code, out, err = run(capsys, "verify", *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"symconv: error: {message.replace('{user}', user)}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_plain_verify_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--problem", "exercise2", "--json")
    document = json.loads(out)
    assert code == 0 and set(document) == {"ok", "configs", "seconds", "checks"}
    backends = {c["backend"] for c in document["checks"]}
    assert {"numpy-float32", "numpy-float64", "torch-gradcheck"} <= backends  # default: all
    assert not any(b.startswith("impl") for b in backends)
    code, out, _ = run(capsys, "verify", "--problem", "exercise2", "--dtype", "float32", "--json")
    assert code == 0 and "numpy-float64" not in {c["backend"] for c in json.loads(out)["checks"]}
