"""The binding step (``symconv.check.bind``): which document symbol plays which role.

Each case is a handful of equations as people write them and the roles a reader would
assign; the expectations are read off the equations, not produced by the binder.  The
end-to-end cases judge small documents through the judge and show that a binding
changes verdicts (the same equations without it are misread).
"""

from __future__ import annotations

import pytest
from lark import Token, Tree

from symconv.check.bind import Binding, ident_of, infer, zero_based
from symconv.check.document import Equation
from symconv.check.evaluate import name_key
from symconv.check.judge import judge_document
from symconv.check.parse import parse_equation
from symconv.check.truth import Truth
from symconv.problem import load_problem


def trees(*latex: str) -> list[Tree[Token]]:
    return [parse_equation(text) for text in latex]


# equations, {document symbol: canonical key} the binding must contain
CASES = [
    (  # the exercise's own dialect
        [r"\hat{y}_1 = w \cdot x + b_1", r"L = \frac{1}{2}\sum_i (y_i - \hat{y}_i)^2"],
        {"hat:y": "hat:y", "y": "y"},
    ),
    (  # a blog: o the output (defined by the forward pass), t the target (the loss)
        [r"o_i = \sum_j w_j x_{i+j-1} + b_i", r"L = \frac{1}{2}\sum_i (o_i - t_i)^2"],
        {"o": "hat:y", "t": "y"},
    ),
    (  # y is the output when the forward pass defines it; the target is then t
        [r"y_i = \sum_{j=1}^{k} w_j x_{i+j-1}", r"E = \sum_i (y_i - t_i)^2"],
        {"y": "hat:y", "t": "y"},
    ),
    (  # Keras words
        [r"y_{pred} = w \star x + b", r"L = (y_{pred} - y_{true})^2"],
        {"y|pred": "hat:y", "y|true": "y"},
    ),
    (  # a textbook: z the output, d the desired response
        [r"z_i = \sum_j w_j x_{i+j-1} + b", r"E = \frac{1}{2}\sum_i (d_i - z_i)^2"],
        {"z": "hat:y", "d": "y"},
    ),
    (  # an optimum's star marks the target
        [r"\text{out}_i = \text{bias} + \sum_k \text{weight}_k \text{input}_{i+k}"],
        {"text:out": "hat:y", "text:bias": "b", "text:weight": "w", "text:input": "x"},
    ),
    (  # y^* the target, y the output
        [r"y = W x + b", r"L = \frac{1}{2}\lVert y - y^* \rVert^2"],
        {"y": "hat:y", "y^*": "y"},
    ),
]


@pytest.mark.parametrize(("latex", "roles"), CASES)
def test_roles_are_read_from_the_forward_pass_and_the_loss(
    latex: list[str], roles: dict[str, str]
) -> None:
    binding = infer(trees(*latex))
    assert {k: binding.renames.get(k) for k in roles} == roles


def test_a_document_without_a_target_has_none() -> None:
    binding = infer(trees(r"y_i = \sum_j w_j x_{i+j-1}", r"y_1 = 14"))
    assert binding.renames == {"y": "hat:y"}
    assert "target" not in binding.to_json()["roles"]


def test_y_that_is_neither_output_nor_target_is_not_the_target() -> None:
    # o and t are the layer's; the y of this document is something else (a later stage)
    binding = infer(
        trees(r"o_i = \sum_j w_j x_{i+j-1}", r"L = \sum_i (o_i - t_i)^2", r"y_i = 2 o_i")
    )
    assert binding.renames["o"] == "hat:y" and binding.renames["t"] == "y"
    renamed = binding.apply(parse_equation(r"y_1 = 3"))
    key = name_key(renamed.children[0].children[0])
    assert key is not None and key[0] != "y"


def test_the_notation_table_overrides_the_inference() -> None:
    # nothing in these equations says which is the output; the table does
    binding = infer(trees(r"q_1 = 14", r"r_1 = 2"), {"output": "q", "target": "r"})
    assert binding.renames == {"q": "hat:y", "r": "y"}
    assert binding.source == {"output": "notation table", "target": "notation table"}


@pytest.mark.parametrize(
    ("latex", "symbol", "key"),
    [
        ([r"\delta_i = \frac{\partial L}{\partial \hat{y}_i}"], "delta", "hat:y"),
        ([r"\delta_i := \frac{\partial L}{\partial o_i} = o_i - t_i", r"L = (o_i - t_i)^2"],
         "delta", "hat:y"),
        ([r"g = \frac{\partial L}{\partial w}"], "g", "w"),
        ([r"\bar{y}_i = \frac{\partial L}{\partial \hat{y}_i}"], "bar:y", "hat:y"),
    ],
)  # fmt: skip
def test_names_defined_as_loss_gradients(latex: list[str], symbol: str, key: str) -> None:
    assert infer(trees(*latex)).gradients[symbol] == key


def test_an_adjoint_bar_on_one_role_means_adjoints_for_all() -> None:
    binding = infer(
        trees(r"o_i = \sum_j w_j x_{i+j-1}", r"\bar{o}_i := \frac{\partial L}{\partial o_i}")
    )
    assert binding.gradients["bar:o"] == "hat:y"
    assert binding.gradients["bar:w"] == "w" and binding.gradients["bar:x"] == "x"


def test_primes_are_gradients_only_when_the_document_defines_them_so() -> None:
    as_gradients = infer(trees(r"y'_i = \frac{\partial L}{\partial y_i}", r"y_i = w_1 x_i"))
    assert as_gradients.gradients["hat:y'"] == "hat:y"
    assert as_gradients.gradients["w'"] == "w"
    # without such a definition a prime is the value after the update (a step mark)
    as_steps = infer(trees(r"w' = w - \eta \frac{\partial L}{\partial w}"))
    assert as_steps.gradients == {}


def test_code_shorthand_dw() -> None:
    binding = infer(trees(r"dw_j = \sum_i dy_i x_{i+j}", r"y_i = \sum_j w_j x_{i+j}"))
    assert binding.shorthand
    rewritten = binding.apply(parse_equation(r"dw_1 = 3"))
    assert rewritten.children[0].data == "frac"
    # d as the target (a desired response): no shorthand, d_i stays a name
    textbook = infer(trees(r"z_i = w_1 x_i", r"E = (d_i - z_i)^2", r"e_i = d_i - z_i"))
    assert not textbook.shorthand and textbook.renames["d"] == "y"


def test_word_subscript_with_an_index() -> None:
    found = ident_of(parse_equation(r"y_{pred,2} = 1").children[0])
    assert found is not None and found[0] == "y|pred"
    assert [s.data for s in found[1]] == ["sub"]


@pytest.mark.parametrize(
    ("latex", "zero"),
    [
        ([r"\hat{y}_0 = w_0 x_0"], True),
        ([r"o_i = \sum_{j=0}^{k-1} w_j x_{i+j}"], True),
        ([r"\hat{y}_1 = w_1 x_0 + w_2 x_1"], False),  # x_0: the padding of a 1-based text
    ],
)
def test_zero_based_documents(latex: list[str], zero: bool) -> None:
    assert zero_based(trees(*latex)) is zero


def test_the_exercise_dialect_is_not_rewritten() -> None:
    binding = infer(trees(r"\hat{y}_1 = 14", r"L = \frac{1}{2}(y_1 - \hat{y}_1)^2"))
    assert binding.is_plain and binding.describe() == ""
    tree = parse_equation(r"\hat{y}_1 = 14")
    assert binding.apply(tree) is tree


def test_describe_names_the_binding() -> None:
    binding = Binding(renames={"o": "hat:y", "t": "y"}, gradients={"delta": "hat:y"})
    assert binding.describe() == "output o → ŷ, target t → y, δ = ∂L/∂ŷ"


# --- judged end to end on the exercise (x = [1, 2, 3, 4], w = [2, 1, 3], b = [1, 1],
# y = [2, 4]: ŷ = [14, 20], L = 200, ∂L/∂ŷ = [12, 16], ∂L/∂w = [44, 72, 100])

BLOG = [
    r"o_i = \sum_{j=1}^{3} w_j x_{i+j-1} + b_i",
    r"o_1 = 14",
    r"L = \frac{1}{2}\sum_i (o_i - t_i)^2 = 200",
    r"\delta_i = \frac{\partial L}{\partial o_i} = o_i - t_i",
    r"\delta_2 = 16",
    r"\frac{\partial L}{\partial w_j} = \sum_i \delta_i x_{i+j-1}",
    r"dw = \begin{bmatrix} 44 \\ 72 \\ 100 \end{bmatrix}",
    r"\delta_1 = t_1 - o_1",  # planted: the sign
    r"o_2 = 21",  # planted: arithmetic
]


def _verdicts(latex: list[str]) -> list[tuple[str, str | None]]:
    equations = [Equation(text, None, n + 1) for n, text in enumerate(latex)]
    judged = judge_document(equations, Truth(load_problem("exercise2")))
    return [(j.verdict, j.diagnosis.kind if j.diagnosis else None) for j in judged]


def test_a_blog_derivation_is_judged_in_its_own_names() -> None:
    verdicts = _verdicts(BLOG)
    assert [v for v, _ in verdicts[:7]] == ["correct"] * 7
    assert verdicts[7] == ("incorrect", "sign_error")
    assert verdicts[8][0] == "incorrect"


def test_a_wrong_binding_changes_the_verdicts() -> None:
    # the roles swapped by a [notation] table: the right equations no longer hold
    swapped = load_problem("exercise2").with_notation({"output": "t", "target": "o"})
    equations = [Equation(text, None, n + 1) for n, text in enumerate(BLOG[:3])]
    judged = judge_document(equations, Truth(swapped))
    assert [j.verdict for j in judged][1:] != ["correct", "correct"]
