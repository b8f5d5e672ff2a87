"""The command line's structure and its layer options (``symconv.cli`` and ``.options``).

- the layer options build N-D, multi-channel, grouped, batched layers from the command line
  alone; their numbers are checked against PyTorch's conv2d + autograd (an independent
  oracle) and, for the 1-D upstream loss and a tiny 2-D layer, against hand computation;
- bad options: exit 2, one line on stderr naming the option as typed, no traceback;
- ``--n`` / ``--input-shape`` replace a file's input size of either spelling;
- the help renders and says what each option accepts;
- structure: command modules never import the dispatcher, no private names cross modules,
  every user-facing exception is defined in ``symconv.errors``, and building the parser
  imports nothing heavy.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import symconv.errors
from symconv.cli import COMMANDS, main
from symconv.cli.options import OVERRIDES

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "symconv"
EX2 = ["derive", "--problem", "exercise2"]

STEP_KEYS = (
    "yhat", "loss", "grad_yhat", "grad_w", "grad_b", "grad_x",
    "w_next", "b_next", "yhat_next", "loss_next",
)  # fmt: skip


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    document: dict[str, Any] = json.loads(out)
    return document


def run_bad(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run options that must be refused; the one line on stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("symconv: error:"), err
    assert "Traceback" not in err
    return err


def flatten(nested: Any) -> tuple[list[Any], list[int]]:
    """A nested list as (row-major entries, shape); a scalar has shape []."""
    if not isinstance(nested, list):
        return [nested], []
    parts = [flatten(item) for item in nested]
    shapes = {tuple(shape) for _, shape in parts}
    assert len(shapes) <= 1, "ragged nested list"
    inner = list(shapes.pop()) if shapes else []
    return [entry for entries, _ in parts for entry in entries], [len(nested), *inner]


Truth = dict[str, tuple[list[Any], list[int]]]


def mismatches(document: dict[str, Any], truth: Truth) -> list[str]:
    """Keys whose exact entries (as fractions) or shape differ from ``truth``'s
    (values, shape); ``float`` must be the same numbers as ``exact``."""
    wrong = []
    for key, (values, shape) in truth.items():
        entry = document[key]
        exact, exact_shape = flatten(entry["exact"])
        floats, float_shape = flatten(entry["float"])
        same = (
            entry["shape"] == shape == exact_shape == float_shape
            and [Fraction(v) for v in exact] == [Fraction(v) for v in values]
            and floats == [float(Fraction(v)) for v in exact]
        )
        if not same:
            wrong.append(key)
    return wrong


# ---------------------------------------------------------------------------------------
# a layer from options alone: PyTorch as the oracle

# 2-D, 2 → 2 channels in 2 groups, kernel 2×3, stride (1, 2), padding (1, 0), batch 2:
# output per axis (4 + 2 − 2)/1 + 1 = 5 and (5 − 3)/2 + 1 = 2.  Integer values and a
# learning rate of 1/4 keep every float64 number of torch exact.
GEOMETRY = {
    "input_shape": (4, 5), "in_channels": 2, "out_channels": 2, "groups": 2,
    "kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 0), "batch": 2,
}  # fmt: skip
LR = Fraction(1, 4)


def _ints(count: int, seed: int) -> list[int]:
    """Small deterministic integers in −3..3 (a linear congruential sequence)."""
    out, state = [], seed
    for _ in range(count):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(state % 7 - 3)
    return out


def _torch_truth(
    x: list[int],
    w: list[int],
    b: list[int],
    y: list[int],
    geometry: dict[str, Any],
    *,
    flip: bool = False,
) -> Truth:
    """yhat ... loss_next by torch.nn.functional.conv2d and autograd (sse_half, one SGD step).

    ``flip``: a deliberately wrong oracle (a true convolution: the kernel flipped).
    """
    torch = pytest.importorskip("torch")
    g = geometry
    n_in, n_out = g["in_channels"], g["out_channels"]
    xt = torch.tensor(x, dtype=torch.float64).reshape(g["batch"], n_in, *g["input_shape"])
    wt = torch.tensor(w, dtype=torch.float64).reshape(n_out, n_in // g["groups"], *g["kernel_size"])
    bt = torch.tensor(b, dtype=torch.float64)
    xt.requires_grad_(True)
    wt.requires_grad_(True)
    bt.requires_grad_(True)

    def forward(weight: Any, bias: Any) -> Any:
        kernel = weight.flip(-1, -2) if flip else weight
        return torch.nn.functional.conv2d(
            xt, kernel, bias, stride=g["stride"], padding=g["padding"], groups=g["groups"]
        )

    yhat = forward(wt, bt)
    # a wrong geometry may have another output size: y recycled to fill it
    count = yhat.numel()
    target = torch.tensor((y * count)[:count], dtype=torch.float64).reshape(yhat.shape)
    yhat.retain_grad()
    loss = 0.5 * ((target - yhat) ** 2).sum()
    loss.backward()
    lr = float(LR)
    with torch.no_grad():
        w_next, b_next = wt - lr * wt.grad, bt - lr * bt.grad
        yhat_next = forward(w_next, b_next)
        loss_next = 0.5 * ((target - yhat_next) ** 2).sum()

    def entry(t: Any) -> tuple[list[Any], list[int]]:
        return t.detach().reshape(-1).tolist(), list(t.shape)

    return {
        "yhat": entry(yhat), "loss": entry(loss), "grad_yhat": entry(yhat.grad),
        "grad_w": entry(wt.grad), "grad_b": entry(bt.grad), "grad_x": entry(xt.grad),
        "w_next": entry(w_next), "b_next": entry(b_next),
        "yhat_next": entry(yhat_next), "loss_next": entry(loss_next),
    }  # fmt: skip


def _csv(values: list[int]) -> str:
    return ",".join(map(str, values))


def _geometry_options(g: dict[str, Any]) -> list[str]:
    return [
        "--input-shape", _csv(list(g["input_shape"])),
        "--in-channels", str(g["in_channels"]), "--out-channels", str(g["out_channels"]),
        "--groups", str(g["groups"]), "--k", _csv(list(g["kernel_size"])),
        "--stride", _csv(list(g["stride"])), "--padding", _csv(list(g["padding"])),
        "--batch", str(g["batch"]),
    ]  # fmt: skip


X = _ints(2 * 2 * 4 * 5, seed=1)  # [batch, in_channels, 4, 5]
W = _ints(2 * 1 * 2 * 3, seed=2)  # [out_channels, in_channels / groups, 2, 3]
B = [1, -2]  # shared: one per output channel
Y = _ints(2 * 2 * 5 * 2, seed=3)  # [batch, out_channels, 5, 2]
GROUPED_ARGV = [
    "derive", *_geometry_options(GEOMETRY), "--lr", "1/4",
    "--x", _csv(X), "--w", _csv(W), "--b", _csv(B), "--y", _csv(Y),
    "--form", "explicit", "--json",
]  # fmt: skip


def test_grouped_2d_layer_from_options_matches_torch(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(GROUPED_ARGV, capsys)
    layer = document["problem"]
    assert layer["input_shape"] == [4, 5] and layer["output_shape"] == [5, 2]
    assert layer["padding"] == [[1, 1], [0, 0]] and layer["stride"] == [1, 2]
    assert (layer["in_channels"], layer["out_channels"], layer["groups"]) == (2, 2, 2)
    assert (layer["batch"], layer["learning_rate"]) == (2, "1/4")
    assert mismatches(document, _torch_truth(X, W, B, Y, GEOMETRY)) == []


# deliberately wrong oracles: the same comparison must catch each
WRONG_ORACLES: list[tuple[str, dict[str, Any], bool]] = [
    ("kernel flipped", GEOMETRY, True),
    ("padding on the other axis", GEOMETRY | {"padding": (0, 1)}, False),
    ("strides swapped", GEOMETRY | {"stride": (2, 1)}, False),
]


@pytest.mark.parametrize(
    ("geometry", "flip"), [case[1:] for case in WRONG_ORACLES], ids=[c[0] for c in WRONG_ORACLES]
)
def test_a_wrong_oracle_is_caught(
    capsys: pytest.CaptureFixture[str], geometry: dict[str, Any], flip: bool
) -> None:
    document = run_json(GROUPED_ARGV, capsys)
    wrong = _torch_truth(X, W, B, Y, geometry, flip=flip)
    assert {"yhat", "grad_w", "grad_x"} <= set(mismatches(document, wrong))


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_same_padding_of_an_even_kernel_pads_after(capsys: pytest.CaptureFixture[str]) -> None:
    # torch's padding="same" (stride 1) puts the extra padding of an even kernel after,
    # as design.md's TensorFlow rule does: 4×4 input, kernel 2 → 4×4 output
    torch = pytest.importorskip("torch")
    x, w, y = _ints(16, seed=4), _ints(4, seed=5), _ints(16, seed=6)
    argv = [
        "derive", "--input-shape", "4,4", "--k", "2", "--padding", "same", "--bias", "none",
        "--x", _csv(x), "--w", _csv(w), "--y", _csv(y), "--form", "explicit", "--json",
    ]  # fmt: skip
    document = run_json(argv, capsys)
    assert document["problem"]["padding"] == [[0, 1], [0, 1]]
    xt = torch.tensor(x, dtype=torch.float64).reshape(1, 1, 4, 4)
    wt = torch.tensor(w, dtype=torch.float64).reshape(1, 1, 2, 2)
    expected = torch.nn.functional.conv2d(xt, wt, padding="same")
    assert mismatches(document, {"yhat": (expected.reshape(-1).tolist(), [1, 1, 4, 4])}) == []
    # the other placement (before) is a different output, which the comparison sees
    before = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (1, 0, 1, 0)), wt)
    assert mismatches(document, {"yhat": (before.reshape(-1).tolist(), [1, 1, 4, 4])}) == ["yhat"]


def test_tiny_2d_layer_by_hand(capsys: pytest.CaptureFixture[str]) -> None:
    # x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,2],[3,0]], b = 1:
    # ŷ[i,j] = x[i,j] + 2·x[i,j+1] + 3·x[i+1,j] + 1 = (18, 24; 36, 42);
    # y = 0: L = ½(18² + 24² + 36² + 42²) = 1980, ∂L/∂ŷ = ŷ,
    # ∂L/∂w[p,q] = Σ ŷ[i,j]·x[i+p,j+q]: w[0,0] = 18 + 48 + 144 + 210 = 420, ...
    argv = [
        "derive", "--input-shape", "3,3", "--kernel-size", "2",
        "--x", "1,2,3,4,5,6,7,8,9", "--w", "1,2,3,0", "--b", "1", "--y", "0,0,0,0", "--json",
    ]  # fmt: skip
    document = run_json(argv, capsys)
    truth = {
        "yhat": ([18, 24, 36, 42], [1, 1, 2, 2]),
        "loss": ([1980], []),  # ½(324 + 576 + 1296 + 1764)
        "grad_w": ([420, 540, 780, 900], [1, 1, 2, 2]),
        "grad_b": ([120], [1]),
    }
    assert mismatches(document, truth) == []
    # the kernel-flip answer (a true convolution, w read as [[0,3],[2,1]]): ŷ[0,0] = 20
    assert mismatches(document, {"yhat": ([20, 26, 38, 44], [1, 1, 2, 2])}) == ["yhat"]


def test_2d_symbolic_problem_from_options_alone(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["derive", "--input-shape", "4,4", "--k", "2", "--in-channels", "2", "--form", "closed"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.strip()
    document = run_json([*argv, "--json"], capsys)
    layer = document["problem"]
    assert layer["input_shape"] == [4, 4] and layer["output_shape"] == [3, 3]  # 4 − 2 + 1
    assert layer["in_channels"] == 2 and layer["kernel_size"] == [2, 2]


def test_upstream_loss_on_the_exercise(capsys: pytest.CaptureFixture[str]) -> None:
    # g = ∂L/∂ŷ = (1, 2) given: ∂L/∂w_j = x_j + 2·x_{j+1} = (5, 8, 11); ∂L/∂b = g (untied);
    # ∂L/∂x = (1·2, 1·1 + 2·2, 1·3 + 2·1, 2·3) = (2, 5, 5, 6); w' = w − (5, 8, 11)/100
    argv = ["derive", "--problem", "exercise2", "--loss", "upstream", "--grad-yhat", "1,2"]
    document = run_json([*argv, "--json"], capsys)
    assert document["problem"]["loss"] == "upstream"
    assert document["loss"] is None and document["loss_next"] is None
    truth = {
        "grad_yhat": ([1, 2], [2]),
        "grad_w": ([5, 8, 11], [3]),
        "grad_b": ([1, 2], [2]),
        "grad_x": ([2, 5, 5, 6], [4]),
        "w_next": ([Fraction(39, 20), Fraction(23, 25), Fraction(289, 100)], [3]),
    }
    assert mismatches(document, truth) == []
    # the exercise's sse_half gradient (12, 16) is not what upstream gives
    assert mismatches(document, {"grad_b": ([12, 16], [2])}) == ["grad_b"]


def test_negative_values_of_the_new_options_need_no_equals_sign(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # g = (−1, 2): ∂L/∂w_j = −x_j + 2·x_{j+1} = (3, 4, 5)
    argv = [*EX2, "--loss", "upstream", "--grad-yhat", "-1,2", "--json"]
    document = run_json(argv, capsys)
    assert mismatches(document, {"grad_w": ([3, 4, 5], [3])}) == []


def test_no_bias_without_a_problem_file(capsys: pytest.CaptureFixture[str]) -> None:
    document = run_json(["derive", "--n", "4", "--k", "3", "--bias", "none", "--json"], capsys)
    assert document["problem"]["bias"] == "none"


# ---------------------------------------------------------------------------------------
# the input size: --n and --input-shape replace a file's size of either spelling


def test_n_replaces_a_files_input_shape(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "shape.toml"
    path.write_text("[layer]\ninput_shape = [6]\nkernel_size = 3\n", "utf-8")
    document = run_json(["derive", "--problem", str(path), "--n", "5", "--json"], capsys)
    assert document["problem"]["input_length"] == 5
    assert document["problem"]["output_length"] == 3  # 5 − 3 + 1


def test_input_shape_replaces_a_files_input_length(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "length.toml"
    path.write_text("[layer]\ninput_length = 6\nkernel_size = 3\n", "utf-8")
    argv = ["derive", "--problem", str(path), "--input-shape", "5,4", "--json"]
    document = run_json(argv, capsys)
    assert document["problem"]["input_shape"] == [5, 4]
    assert document["problem"]["output_shape"] == [3, 2]


# ---------------------------------------------------------------------------------------
# bad options: exit 2, one line naming the option as typed

TWO_D = ["derive", "--input-shape", "4,4", "--k", "2"]
# every other value of that layer (w 2×2, one shared b, y 3×3), so that x is read
OTHER_VALUES = ["--w", "1,1,1,1", "--b", "0", "--y", ",".join(["0"] * 9)]
BAD_OPTIONS: list[tuple[str, list[str], list[str]]] = [
    ("groups do not divide channels", [*TWO_D, "--in-channels", "2", "--groups", "3"],
     ["`--groups` (=3)", "must divide"]),
    ("four axes", ["derive", "--input-shape", "4,4,4,4", "--k", "2"],
     ["`--input-shape` (=4,4,4,4)", "1 to 3"]),
    ("three paddings on 2-D", [*TWO_D, "--padding", "1,2,3"], ["`--padding` (=1,2,3)", "2"]),
    ("two paddings on 1-D", [*EX2, "--padding", "1,0"], ["`--padding` (=1,0)"]),
    ("padding word", [*TWO_D, "--padding", "full"], ["`--padding` (=full)", "same"]),
    ("one stride entry 0", [*TWO_D, "--stride", "1,0"], ["`--stride` entry 2 (=0)", ">= 1"]),
    ("stride 0", [*EX2, "--stride", "0"], ["`--stride` (=0) must be an integer >= 1"]),
    ("kernel as typed", [*EX2, "--kernel-size", "5"], ["`--kernel-size` (=5)"]),
    ("kernel short flag", [*EX2, "--k", "5"], ["`--k` (=5)"]),
    ("length as typed", ["derive", "--input-length", "0", "--k", "1"], ["`--input-length` (=0)"]),
    ("zero channels", [*TWO_D, "--in-channels", "0"], ["`--in-channels` (=0)"]),
    ("batch not a number", [*TWO_D, "--batch", "two"], ["`--batch` (=two)"]),
    ("unknown loss", [*EX2, "--loss", "hinge"], ["`--loss` (=hinge)", "upstream"]),
    ("x entry", [*TWO_D, *OTHER_VALUES, "--x", ",".join(["1"] * 15 + ["a"])],
     ["`--x` entry 16 (=a)"]),
    ("x count on 2-D", [*TWO_D, *OTHER_VALUES, "--x", "1,2"], ["`--x` (=1,2)", "16"]),
    ("a value missing", [*TWO_D, "--x", ",".join(["1"] * 16)], ["values.w", "--w"]),
    ("grad_yhat without upstream", [*EX2, "--grad-yhat", "1,2"], ["`--grad-yhat` (=1,2)"]),
    ("upstream needs grad_yhat", [*EX2, "--loss", "upstream"], ["--grad-yhat"]),
    ("both sizes", ["derive", "--n", "4", "--input-shape", "4,4", "--k", "2"],
     ["`--input-shape` (=4,4)", "`--n` (=4)"]),
    ("no size", ["derive", "--k", "2"], ["--n", "--input-shape"]),
    ("file values on a changed shape", [*EX2, "--input-shape", "4,4"], ["values.x", "--x"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "words"), [case[1:] for case in BAD_OPTIONS], ids=[case[0] for case in BAD_OPTIONS]
)
def test_bad_option_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    err = run_bad([*argv, "--json"], capsys)
    missing = [word for word in words if word not in err]
    assert missing == [], err


def test_bad_options_of_other_commands_name_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    # every command that takes a problem has the same options and the same errors
    for command in (["verify"], ["check", "any.md"], ["report"], ["equivariance", "--prove"]):
        err = run_bad([*command, "--problem", "exercise2", "--groups", "0"], capsys)
        assert "`--groups` (=0) must be an integer >= 1" in err, (command, err)


# ---------------------------------------------------------------------------------------
# help


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out, _ = capsys.readouterr()
    assert [command for command in COMMANDS if command not in out] == []


def test_derive_help_says_what_each_option_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from symconv.layer import BIAS_MODES, PADDING_MODES
    from symconv.loss import LOSSES

    with pytest.raises(SystemExit) as caught:
        main(["derive", "--help"])
    assert caught.value.code == 0
    out, _ = capsys.readouterr()
    text = " ".join(out.split())
    flags = [flag for option in OVERRIDES for flag in option.flags]
    assert [flag for flag in flags if flag not in text] == []
    words = [*LOSSES, *BIAS_MODES, *PADDING_MODES, "same", "valid", "one per axis", "6,6"]
    assert [word for word in words if word not in text] == []
    assert all(option.help for option in OVERRIDES)


def test_demo_parts_parse_with_their_commands_options() -> None:
    # the demo runs each part through the part's own configure/run (not the dispatcher)
    from symconv.cli.demo import PARTS
    from symconv.cli.options import Parser

    parsed = {}
    for command, module_name, argv in PARTS:
        assert COMMANDS[command][0] == module_name
        parser = Parser(prog=f"symconv {command}")
        importlib.import_module(module_name).configure(parser)
        parsed[argv] = parser.parse_args(list(argv))
    assert parsed[()].output == "reports" and parsed[()].problem is None
    assert parsed[("--prove",)].prove is True
    quick = parsed[("--quick", "-o", "reports/equivariance-quick")]
    assert quick.quick is True and quick.prove is False


def test_python_m_symconv_help() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "symconv", "derive", "--help"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "--input-shape" in completed.stdout and completed.stderr == ""


# ---------------------------------------------------------------------------------------
# structure


def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


def dispatcher_imports(source: str) -> list[str]:
    """The imports of the dispatcher ``symconv.cli`` itself (not of its submodules)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "symconv.cli":
            found.append(f"from symconv.cli import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.ImportFrom) and node.module == "symconv":
            found += [f"from symconv import {a.name}" for a in node.names if a.name == "cli"]
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name == "symconv.cli"]
    return found


def test_command_modules_do_not_import_the_dispatcher() -> None:
    modules = [name for name, _ in COMMANDS.values()] + ["symconv.cli.options"]
    modules += [f"symconv.cli.{p.stem}" for p in (PACKAGE / "cli").glob("*.py")]
    offenders = {
        name: found
        for name in sorted(set(modules) - {"symconv.cli"})
        if (found := dispatcher_imports(_module_file(name).read_text("utf-8")))
    }
    assert offenders == {}


def test_the_dispatcher_import_check_can_fail() -> None:
    source = "from symconv.cli import main\nfrom symconv import cli\nimport symconv.cli\n"
    assert len(dispatcher_imports(source)) == 3
    assert dispatcher_imports("from symconv.cli.options import fail\n") == []


def private_imports(source: str) -> list[str]:
    """``from symconv.x import _name``: a private name used across modules."""
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("symconv")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_private_names_cross_modules() -> None:
    offenders = {
        str(path.relative_to(REPO)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if (found := private_imports(path.read_text("utf-8")))
    }
    assert offenders == {}
    assert private_imports("from symconv.check.match import _zero, entries_of\n") == [
        "symconv.check.match._zero"
    ]


USER_FACING = set(symconv.errors.__all__)


def exception_classes_outside(source: str) -> list[str]:
    """Classes deriving from one of ``symconv.errors``' exceptions."""
    return [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id in USER_FACING for base in node.bases)
    ]


def test_every_user_facing_exception_is_defined_in_errors() -> None:
    offenders = {
        str(path.relative_to(REPO)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "errors.py"
        and (found := exception_classes_outside(path.read_text("utf-8")))
    }
    assert offenders == {}
    assert exception_classes_outside("class Oops(SymconvError):\n    pass\n") == ["Oops"]


def test_moved_exceptions_keep_their_old_import_paths() -> None:
    from symconv.check import run
    from symconv.latex import compiler, results

    old = {
        run.CheckInputError: symconv.errors.CheckInputError,
        results.ExperimentError: symconv.errors.ExperimentError,
        results.VerificationError: symconv.errors.VerificationError,
        compiler.TexError: symconv.errors.TexError,
        compiler.NoEngineError: symconv.errors.NoEngineError,
    }
    assert all(a is b for a, b in old.items())
    assert all(issubclass(cls, symconv.errors.SymconvError) for cls in old.values())


def test_moved_exceptions_keep_their_messages(tmp_path: Path) -> None:
    from symconv.check.run import read_document
    from symconv.latex.results import load_experiment

    missing = str(tmp_path / "nosuch.md")
    with pytest.raises(symconv.errors.CheckInputError) as caught:
        read_document(missing)
    assert str(caught.value) == f"`FILE` (={missing!r}) is not a readable file"
    (tmp_path / "bad.json").write_text("{", "utf-8")
    with pytest.raises(symconv.errors.ExperimentError, match="is not valid JSON"):
        load_experiment(tmp_path / "bad.json")
    error = symconv.errors.TexError("pdflatex failed", "! Undefined control sequence.", "log")
    assert (str(error), error.excerpt, error.log) == (
        "pdflatex failed",
        "! Undefined control sequence.",
        "log",
    )


HEAVY = ("sympy", "numpy", "torch", "rich", "lark", "matplotlib", "dask")


def test_building_the_parser_imports_nothing_heavy() -> None:
    # what `symconv --help` costs beyond `import symconv`: no heavy package at all
    code = (
        "import sys\n"
        "import symconv\n"
        "before = {m.split('.')[0] for m in sys.modules}\n"
        "import symconv.cli\n"
        "symconv.cli.build_parser()\n"
        "after = {m.split('.')[0] for m in sys.modules}\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in after - before if m in heavy))\n"
        "print(sorted(m for m in after if m in heavy and m != 'sympy'))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split("\n")[:2] == ["[]", "[]"]
