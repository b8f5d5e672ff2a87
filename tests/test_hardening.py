"""Hardening (issue 13): hostile or careless inputs end in one clear line, bounded in time,
never a traceback, never half-written output, never an orphaned TeX process.

The adversarial inputs are module-level data (the catalogue); each test shows its check
able to fail (a control input that passes, or the behaviour before the fix spelled out).
Expected values are written by hand from the exercise (x = 1,2,3,4; w = 2,1,3; b = 1,1;
y = 2,4), never taken from the code under test.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from symconv.cli import main
from symconv.errors import SymconvError, TexError
from symconv.latex.compiler import Engine, compile_tex
from symconv.latex.report import write_together
from symconv.serialize import dumps_strict, strict_json

ROOT = Path(__file__).resolve().parents[1]
BIG = "9" * 5000  # beyond Python's 4,300-digit int <-> str limit

# ---------------------------------------------------------------------------------------
# the catalogue

_EXERCISE = """title = "t"
[layer]
input_length = {n}
kernel_size = 3
bias = "untied"
[optimizer]
learning_rate = {lr}
[values]
x = [{x1}, 2, 3, 4]
w = [2, 1, 3]
b = [1, 1]
y = [2, 4]
"""


def _toml(n: str = "4", lr: str = '"0.01"', x1: str = "1") -> str:
    return _EXERCISE.format(n=n, lr=lr, x1=x1)


# (name, problem file, a fragment of the one error line); each must exit 2
BAD_TOML = [
    ("5000-digit integer value", _toml(x1=BIG), "numbers are accepted up to 100 digits"),
    ("101-digit integer value", _toml(x1="9" * 101), "more than 100 digits"),
    ("float 1e308", _toml(x1="1e308"), "exponent beyond ±100"),
    ("float -1.5e300", _toml(x1="-1.5e300"), "exponent beyond ±100"),
    ("tiny float 1e-200", _toml(x1="1e-200"), "exponent beyond ±100"),
    ("learning rate 1e308", _toml(lr="1e308"), "exponent beyond ±100"),
    ("input length 10^50", _toml(n="1" + "0" * 50), "must be an integer <="),
    ("input length of 5000 digits", _toml(n=BIG), "numbers are accepted up to 100 digits"),
]

# (argv, a fragment of the one error line): each must exit 2 within the time bound
BAD_OPTIONS = [
    (["check", "{doc}", "--timeout", "nan"], "`--timeout` (='nan')"),
    (["check", "{doc}", "--timeout", "inf"], "`--timeout` (='inf')"),
    (["check", "{doc}", "--timeout", "10000"], "in (0, 600]"),
    (["check", "{doc}", "--timeout", "1e400"], "in (0, 600]"),
    (["check", "{doc}", "--timeout", "0"], "in (0, 600]"),
    (["report", "--no-pdf", "-o", ""], "is empty"),
    (["report", "--no-pdf", "-o", "/dev/null"], "is not a folder"),
    (["report", "--no-pdf", "-o", "{file}"], "is not a folder"),
    (["report", "--no-pdf", "-o", "{file}/sub"], "is not a folder"),
    (["report", "--no-pdf", "-o", "/proc/symconv-hardening"], "cannot be written"),
    (["equivariance", "--quick", "-o", "{file}"], "is not a folder"),
    (["equivariance", "--quick", "-o", ""], "is empty"),
    (["equivariance", "-o", "/dev/null"], "is not a folder"),
]

# size guards: (argv, fragment); refused before any work, within SIZE_SECONDS
SIZE_SECONDS = 3.0
TOO_BIG = [
    # 8002 outputs × 3 taps read the padding: 24006 + 10·8002 + 4 + 3 + 1 = 104034 units
    (["derive", "--n", "4", "--k", "3", "--padding", "4000"], "costs 104034 units"),
    (["derive", "--n", "4", "--k", "3", "--padding", "4000", "--form", "explicit"], "costs"),
    (["derive", "--n", "4", "--k", "3", "--padding", "4000", "--json"], "costs"),
    (["derive", "--n", "5", "--k", "3", "--dilation", "2", "--padding", "20000"], "costs"),
    (["derive", "--input-shape", "64,64", "--k", "3", "--in-channels", "4",
      "--out-channels", "8", "--batch", "4"], "costs"),
    (["report", "--no-pdf", "--n", "4", "--k", "3", "--padding", "4000", "-o", "{tmp}"],
     "costs"),
    # exact SGD values grow ~2.5 digits a step (the learning rate's 1/100 multiplies in)
    (["derive", "--problem", "exercise2", "--steps", "2500"], "digits"),
    (["derive", "--problem", "exercise2", "--steps", "2500", "--json"], "digits"),
    (["derive", "--problem", "exercise2", "--steps", "10000", "--plain"], "digits"),
    # 78,400 products × 3 steps
    (["derive", "--problem", "mnist_conv2", "--steps", "3", "--json"], "235200 products"),
]  # fmt: skip

# submissions with numbers Python cannot even read: each equation is unchecked, with
# the reason; the other files of the batch keep their results
HUGE_TOKENS = [
    f"$$\\hat{{y}}_1 = w_1 x_{{{BIG}}} + w_2 x_2 + w_3 x_3 + b_1$$",
    f"$$\\hat{{y}}_1 = w^{{({BIG})}}_1 x_1$$",
    f"$$\\hat{{y}}_{{{BIG}}} = 14$$",
    f"$$L = 1.{BIG}$$",
    f"$$\\hat{{y}}_1 = {BIG}$$",
]
GOOD_DOCUMENT = "$$\\hat{y}_1 = 2 \\cdot 1 + 1 \\cdot 2 + 3 \\cdot 3 + 1 = 14$$\n"

# the loss's arguments: (document, the verdict wanted).  The loss is the problem's:
# L(ŷ, y + 1000) is not it, and was accepted before (the arguments were ignored)
LOSS_ARGUMENTS = [
    ("$$\\mathcal{L}(\\hat y, y + 1000) = 200$$", "unchecked"),
    ("$$\\mathcal{L}(\\hat y, 2y) = 200$$", "unchecked"),
    ("$$\\mathcal{L}(w + 1) = 200$$", "unchecked"),
    ("$$\\mathcal{L}(w^{(1)}) = 200$$", "unchecked"),
    # controls: the loss of the exercise is ½(12² + 16²) = 200, written with its arguments
    ("$$\\mathcal{L}(\\hat y, y) = 200$$", "correct"),
    ("$$\\mathcal{L}(\\hat{\\mathbf{y}}, \\mathbf{y}) = 200$$", "correct"),
    ("$$L(x, w, b, y) = 200$$", "correct"),
    ("$$L(\\mathbf{w}, \\mathbf{b}) = 200$$", "correct"),
    ("$$\\mathcal{L}(\\hat y, y) = 201$$", "incorrect"),
]


# ---------------------------------------------------------------------------------------
# helpers


def _run(argv: Sequence[str]) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


def _one_error_line(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("symconv: error:"), err
    assert fragment in lines[0], err


def _strict(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def _fill(argv: Sequence[str], **paths: Path) -> list[str]:
    return [part.format(**{k: str(v) for k, v in paths.items()}) for part in argv]


# ---------------------------------------------------------------------------------------
# numbers within bounds at every entry


@pytest.mark.parametrize(("name", "text", "fragment"), BAD_TOML, ids=[c[0] for c in BAD_TOML])
def test_bad_numbers_in_toml_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, fragment: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    assert _run(["derive", "--problem", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _one_error_line(captured.err, fragment)


def test_the_toml_control_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The catalogue's file with sane numbers works: the refusals above are the numbers'."""
    path = tmp_path / "p.toml"
    path.write_text(_toml(x1="1e99"))
    assert _run(["derive", "--problem", str(path), "--json"]) == 0
    document = _strict(capsys.readouterr().out)
    # ŷ1 = 2·10^99 + 1·2 + 3·3 + 1 (by hand)
    assert Fraction(document["yhat"]["exact"][0]) == 2 * 10**99 + 12


def test_json_is_strict_beyond_the_float_range(capsys: pytest.CaptureFixture[str]) -> None:
    """The loss ½((10^200 + 1)² + (10^100 − 1)²) is beyond any float: null with a note,
    the exact value kept (before: a bare ``Infinity`` token)."""
    argv = ["derive", "--problem", "exercise2", "--x", "1e100,1,1,1", "--w", "1e100,1,1"]
    assert _run([*argv, "--json"]) == 0
    text = capsys.readouterr().out
    document = _strict(text)
    # by hand: ŷ1 = 10^200 + 1 + 1 + 1, ŷ2 = 10^100 + 1 + 1 + 1; y = 2, 4
    loss = Fraction((10**200 + 1) ** 2 + (10**100 - 1) ** 2, 2)
    assert Fraction(document["loss"]["exact"]) == loss
    assert document["loss"]["float"] is None and "float range" in document["loss"]["note"]
    assert document["yhat"]["float"] == [1e200, 1e100] and "note" not in document["yhat"]
    with pytest.raises(ValueError, match="non-strict"):  # the check can fail
        _strict(json.dumps({"loss": float("inf")}))


STRICT_CASES = [
    ({"a": float("nan")}, {"a": None}, 1),
    ({"a": [1.0, float("-inf"), {"b": float("inf")}]}, {"a": [1.0, None, {"b": None}]}, 2),
    ({"a": 1.5, "b": "Infinity"}, {"a": 1.5, "b": "Infinity"}, 0),
]


@pytest.mark.parametrize(("document", "clean", "replaced"), STRICT_CASES)
def test_strict_json(document: Any, clean: Any, replaced: int) -> None:
    cleaned, paths = strict_json(document)
    assert cleaned == clean and len(paths) == replaced
    parsed = _strict(dumps_strict(document))
    assert ("notes" in parsed) == bool(replaced)


# ---------------------------------------------------------------------------------------
# options and output paths, checked before any work


@pytest.mark.parametrize(("argv", "fragment"), BAD_OPTIONS)
def test_bad_options_are_one_line_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    fragment: str,
) -> None:
    doc = tmp_path / "s.md"
    doc.write_text(GOOD_DOCUMENT)
    file = tmp_path / "a-file"
    file.write_text("keep me")

    def no_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr("symconv.latex.report.default_verification", no_work)
    monkeypatch.setattr("symconv.experiment.run.load_split", no_work)
    monkeypatch.setattr("symconv.check.run.check_files", no_work)
    started = time.perf_counter()
    assert _run(_fill(argv, doc=doc, file=file)) == 2
    assert time.perf_counter() - started < SIZE_SECONDS
    _one_error_line(capsys.readouterr().err, fragment)
    assert file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "s.md"]


def test_help_states_the_default_problem_used(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "report"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "default: exercise2" in text, command
        assert "default: none" not in text, command
    with pytest.raises(SystemExit):
        main(["derive", "--help"])
    assert "default: none" in " ".join(capsys.readouterr().out.split())  # derive's is none


def test_quick_run_does_not_overwrite_the_committed_results(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without -o, --quick writes to reports/equivariance-quick, never reports/equivariance."""
    chosen: list[Path] = []

    def record(option: str, text: Any) -> Path:
        chosen.append(Path(text))
        raise SymconvError("stop here")

    monkeypatch.setattr("symconv.cli.options.output_dir", record)
    assert _run(["equivariance", "--quick"]) == 2
    assert _run(["equivariance"]) == 2
    assert chosen == [Path("reports/equivariance-quick"), Path("reports/equivariance")]
    assert Path("reports/equivariance") in [Path(p).parent for p in _committed("reports")]


def _committed(folder: str) -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.split()


# ---------------------------------------------------------------------------------------
# size guards: refused up front, within seconds


@pytest.mark.parametrize(("argv", "fragment"), TOO_BIG)
def test_size_guards_refuse_quickly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    started = time.perf_counter()
    assert _run(_fill(argv, tmp=tmp_path)) == 2
    elapsed = time.perf_counter() - started
    assert elapsed < SIZE_SECONDS, f"{elapsed:.1f} s"
    _one_error_line(capsys.readouterr().err, fragment)


def test_steps_below_the_digit_bound_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    """Control: 3 steps are exact; step 1 is the exercise's (w⁽¹⁾ = 2 − 0.44, ... by hand)."""
    assert _run(["derive", "--problem", "exercise2", "--steps", "3", "--json"]) == 0
    document = _strict(capsys.readouterr().out)
    assert len(document["steps"]) == 3
    assert [Fraction(v) for v in document["steps"][0]["w_next"]["exact"]] == [
        Fraction(156, 100), Fraction(28, 100), Fraction(2)
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------
# submissions: numbers beyond Python's limits, the loss's arguments


@pytest.mark.parametrize("equation", HUGE_TOKENS)
def test_huge_numbers_in_a_submission_are_unchecked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], equation: str
) -> None:
    doc = tmp_path / "huge.md"
    doc.write_text(equation + "\n")
    status = _run(["check", str(doc), "--json"])
    captured = capsys.readouterr()
    assert status in (0, 1, 2) and "Traceback" not in captured.err
    document = _strict(captured.out)
    [verdict] = document["equations"]
    assert verdict["verdict"] == "unchecked" and "digits" in json.dumps(verdict)


def test_a_huge_file_in_a_batch_keeps_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, huge = tmp_path / "good.md", tmp_path / "huge.md"
    good.write_text(GOOD_DOCUMENT)
    huge.write_text("\n\n".join(HUGE_TOKENS) + "\n")
    status = _run(["check", str(huge), str(good), "--json", "--jobs", "2"])
    captured = capsys.readouterr()
    results = _strict(captured.out)
    # every result is kept; the exit status says one document had nothing checkable
    # (design.md: exit 2), with the reason in one line on stderr
    assert status == 2 and len(results) == 2
    assert "nothing could be checked in" in captured.err and "huge.md" in captured.err
    assert results[1]["summary"]["correct"] == 1  # ŷ1 = 14 (by hand)
    assert [eq["verdict"] for eq in results[0]["equations"]] == ["unchecked"] * len(HUGE_TOKENS)


@pytest.mark.parametrize(("equation", "wanted"), LOSS_ARGUMENTS)
def test_the_loss_arguments_are_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], equation: str, wanted: str
) -> None:
    doc = tmp_path / "loss.md"
    doc.write_text(equation + "\n")
    _run(["check", str(doc), "--json"])
    [verdict] = _strict(capsys.readouterr().out)["equations"]
    assert verdict["verdict"] == wanted, verdict


# ---------------------------------------------------------------------------------------
# outputs: a report's files all new or all old; TeX killed as a group; signals


def test_a_failed_write_keeps_the_old_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while writing the PDF: the old .tex and .pdf stay, nothing hidden is
    left (before: a new .tex beside the old .pdf, and a hidden partial file)."""
    (tmp_path / "r.tex").write_bytes(b"old tex")
    (tmp_path / "r.pdf").write_bytes(b"old pdf")
    real = Path.write_bytes
    calls: list[str] = []

    def full_disk(self: Path, data: Any) -> int:
        calls.append(self.name)
        if self.name == "r.pdf":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(SymconvError, match="No space left on device; nothing was changed"):
        write_together(tmp_path, "r", {"r.tex": b"new tex", "r.pdf": b"new pdf"})
    assert calls == ["r.tex", "r.pdf"]  # the failure came after the new .tex was written
    assert (tmp_path / "r.tex").read_bytes() == b"old tex"
    assert (tmp_path / "r.pdf").read_bytes() == b"old pdf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf", "r.tex"]
    monkeypatch.setattr(Path, "write_bytes", real)
    write_together(tmp_path, "r", {"r.tex": b"new tex", "r.pdf": b"new pdf"})
    assert (tmp_path / "r.pdf").read_bytes() == b"new pdf"  # the same call can succeed


def test_an_interrupted_commit_is_finished_by_the_next_run(tmp_path: Path) -> None:
    """A SIGKILL after the commit point left half the files moved: the next report of
    that stem moves the rest first (all new), and drops a dead run's staging folder."""
    commit = tmp_path / ".r.commit"
    commit.mkdir()
    (tmp_path / "r.tex").write_bytes(b"new tex")  # already moved
    (tmp_path / "r.pdf").write_bytes(b"old pdf")
    (commit / "r.pdf").write_bytes(b"new pdf")
    (commit / ".manifest.json").write_text('{"remove": ["r.log"]}')
    (tmp_path / "r.log").write_text("old log")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (tmp_path / f".r.staging-{dead}-x").mkdir()
    write_together(tmp_path, "r", {"r.fig": b"figure"})
    assert (tmp_path / "r.pdf").read_bytes() == b"new pdf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.fig", "r.pdf", "r.tex"]


_FAKE_TEX = """#!/bin/sh
# a TeX engine that hangs, with a child like latexmk's pdflatex; records the child and cwd
/bin/sleep 300 &
echo "$! $PWD" > "$SYMCONV_TEST_MARK.tmp"
/bin/mv "$SYMCONV_TEST_MARK.tmp" "$SYMCONV_TEST_MARK"
wait
"""


def _fake_tex(folder: Path) -> Path:
    folder.mkdir()
    for name in ("latexmk", "pdflatex"):
        script = folder / name
        script.write_text(_FAKE_TEX)
        script.chmod(0o755)
    return folder


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (waiting for a parent that is not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_for(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {seconds} s")


def test_tex_timeout_kills_the_whole_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: only latexmk was killed; its pdflatex (here: sleep) ran on in a deleted
    folder.  Now the group goes, and the build folder with it."""
    mark = tmp_path / "mark"
    monkeypatch.setenv("SYMCONV_TEST_MARK", str(mark))
    engine = Engine("latexmk", str(_fake_tex(tmp_path / "bin") / "latexmk"))
    started = time.perf_counter()
    with pytest.raises(TexError, match="did not finish within 1 s"):
        compile_tex("\\relax", engine=engine, timeout=1)
    assert time.perf_counter() - started < 10
    child, build = _wait_for(mark, 1).split()
    deadline = time.monotonic() + 5
    while not _gone(int(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(int(child)), "the engine's child outlived the timeout"
    assert not Path(build).exists()


SIGNALS = [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    (signal.SIGINT, 130, "interrupted (SIGINT)"),
]


@pytest.mark.parametrize(("number", "status", "message"), SIGNALS)
def test_a_signal_during_tex_ends_cleanly(
    tmp_path: Path, number: signal.Signals, status: int, message: str
) -> None:
    """symconv report killed while TeX runs: exit 128+signal, one line, no traceback,
    no TeX process left, no build folder, no report files half-written."""
    mark = tmp_path / "mark"
    out = tmp_path / "out"
    out.mkdir()
    (out / "exercise2.tex").write_text("old tex")
    (out / "exercise2.pdf").write_text("old pdf")
    path = f"{_fake_tex(tmp_path / 'bin')}:{Path(sys.executable).parent}:/usr/bin:/bin"
    env = dict(os.environ, PATH=path, SYMCONV_TEST_MARK=str(mark))
    process = subprocess.Popen(
        [sys.executable, "-m", "symconv", "report", "-o", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        child, build = _wait_for(mark, 120).split()
        process.send_signal(number)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert "Traceback" not in err and err.strip() == f"symconv: {message}", err
    assert _gone(int(child)) and not Path(build).exists()
    assert sorted(p.name for p in out.iterdir()) == ["exercise2.pdf", "exercise2.tex"]
    assert (out / "exercise2.tex").read_text() == "old tex"


@pytest.mark.parametrize(("number", "status", "message"), SIGNALS)
def test_a_signal_during_a_derivation_ends_cleanly(
    number: signal.Signals, status: int, message: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-u", "-c",
         "import sys; from symconv.cli import main; print('ready', flush=True); "
         "sys.exit(main(['derive', '--problem', 'mnist_conv2', '--steps', '2', '--json']))"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # inside the derivation (it takes ~10 s)
        process.send_signal(number)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == status, err
    assert err.strip() == f"symconv: {message}", err
