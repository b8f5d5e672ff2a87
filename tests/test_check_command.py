"""``symconv check`` as a grader runs it: the problem named first, the binding shown,
a document about another problem said so, and the exit codes (design.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symconv", "check", *args, "--plain"],
        capture_output=True,
        text=True,
        check=False,
        env={"NO_COLOR": "1", "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


BLOG = r"""# Forward and backward, blog style

The output is $o$, the target $t$.

$$o_i = \sum_{j=1}^{3} w_j x_{i+j-1} + b_i$$

$$o_1 = 14, \quad o_2 = 20$$

$$L = \frac{1}{2} \sum_i (o_i - t_i)^2 = 200$$

Let $\delta_i = \partial L / \partial o_i$.

$$\delta_i = \frac{\partial L}{\partial o_i} = o_i - t_i$$

$$\frac{\partial L}{\partial w_j} = \sum_i \delta_i \, x_{i+j-1}$$
"""

# the numbers of another layer (n = 5, k = 2): none of them holds for the exercise
OTHER = r"""
$$\hat{y}_1 = 7$$

$$\hat{y}_2 = 9$$

$$\hat{y}_3 = 11$$

$$L = 41$$
"""


def test_the_default_problem_is_named_first_and_the_binding_shown(tmp_path: Path) -> None:
    doc = tmp_path / "blog.md"
    doc.write_text(BLOG, encoding="utf-8")
    done = _check(str(doc))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("problem: exercise2")
    notation = next(line for line in lines if line.strip().startswith("notation:"))
    assert notation.strip().startswith("notation: output o → ŷ, target t → y, δ")
    assert "incorrect" not in done.stdout.split("\n")[-2]  # the summary line: 0 incorrect
    data = json.loads(_check(str(doc), "--json").stdout)
    assert data["problem"]["name"] == "exercise2" and data["problem"]["default"] is True
    assert data["binding"]["roles"] == {"output": "o", "target": "t"}
    assert data["summary"]["incorrect"] == 0 and data["summary"]["correct"] == 6


def test_a_document_about_another_problem_is_said_so(tmp_path: Path) -> None:
    doc = tmp_path / "other.md"
    doc.write_text(OTHER, encoding="utf-8")
    done = _check(str(doc))
    assert done.returncode == 1
    assert "does not seem to be about exercise2" in done.stdout
    # the same document with its own problem named: no such note
    given = _check(str(doc), "--problem", "exercise2")
    assert "give its problem with --problem" not in given.stdout


def test_nothing_checkable_exits_two(tmp_path: Path) -> None:
    doc = tmp_path / "prose.md"
    doc.write_text("No math here, only words.\n", encoding="utf-8")
    done = _check(str(doc))
    assert done.returncode == 2
    assert "nothing could be checked" in done.stderr
    scope = tmp_path / "scope.md"
    scope.write_text("$$a_i = \\operatorname{ReLU}(\\hat{y}_i)$$\n", encoding="utf-8")
    assert _check(str(scope)).returncode == 2  # every equation unchecked: unsupported


def test_one_unreadable_file_does_not_stop_the_batch(tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text("$$\\hat{y}_1 = 14$$\n", encoding="utf-8")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not a notebook", encoding="utf-8")
    done = _check(str(bad), str(good), "--json")
    assert done.returncode == 2
    assert done.stderr.count("symconv: error:") == 1 and "bad.ipynb" in done.stderr
    files = json.loads(done.stdout)
    assert [f["file"].rsplit("/", 1)[-1] for f in files] == ["bad.ipynb", "good.md"]
    assert files[0]["failure"]["reason"] == "unreadable input"
    assert files[1]["summary"]["correct"] == 1  # the good file was judged
    alone = _check(str(bad))
    assert alone.returncode == 2 and alone.stdout == ""  # alone: one error line, no output


def test_the_batch_summary_says_which_files_failed_and_why(tmp_path: Path) -> None:
    """Without --json: the summary table has a failure column naming each failed file's
    reason, and the last line counts the failed files by reason."""
    good = tmp_path / "good.md"
    good.write_text("$$\\hat{y}_1 = 14$$\n", encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"\xff\xfe not UTF-8\n")
    done = _check(str(good), str(bad), "--width", "200")
    assert done.returncode == 2
    rows = {line.split()[1]: line for line in done.stdout.splitlines() if "│ " in line}
    assert "failure" in done.stdout
    assert "unreadable input" in rows[str(bad)] and "unreadable" not in rows[str(good)]
    assert "1 of 2 file(s) failed (unreadable input: 1); the other files were judged in full" in (
        done.stdout
    )
