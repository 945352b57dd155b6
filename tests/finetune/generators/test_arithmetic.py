"""Arithmetic grammar: every expression runs through the real Calculator; held-out forms stay out of train."""

from __future__ import annotations

from agent.parser import ParsedAction, ReActParser
from agent.tools.calculator import calculate
from finetune.generators import arithmetic
from finetune.generators.base import ToolRunner
from finetune.scoring import is_correct
from tests.finetune.generators.conftest import draw_rows


def test_rows_are_calculator_runs_that_score(run1: ToolRunner) -> None:
    parser = ReActParser()
    rows = draw_rows(lambda rng: arithmetic.one(run1, rng, "train"), 120, "a")
    for row in rows:
        (step,) = row["steps"]
        assert step["tool"] == "Calculator" and step["tool_input"] == row["meta"]["expression"]
        assert calculate(step["tool_input"]) == step["observation"]
        parsed = parser.parse(step["log"])
        assert isinstance(parsed, ParsedAction) and parsed.tool_input == step["tool_input"]
        assert is_correct(row["final_answer"], row["answer"], row["rel_tol"]), row
    operators = {r["meta"]["template"].split(":")[0] for r in rows}
    assert len(operators) >= 12, operators  # a grammar, not a handful of templates
    assert any(r["meta"]["irrelevant_clause"] for r in rows)


def test_train_never_uses_held_out_forms_or_combinations(run1: ToolRunner) -> None:
    rows = draw_rows(lambda rng: arithmetic.one(run1, rng, "train"), 200, "b")
    for row in rows:
        template = row["meta"]["template"]
        name, _, index = template.partition(":")
        if name == "combo":
            assert index not in arithmetic.HELDOUT_COMBOS
        else:
            op = arithmetic.BY_NAME[name]
            assert int(index) < len(op.forms) - op.heldout, template
    held = draw_rows(lambda rng: arithmetic.one(run1, rng, "heldout"), 80, "c")
    for row in held:
        name, _, index = row["meta"]["template"].partition(":")
        if name == "combo":
            assert index in arithmetic.HELDOUT_COMBOS
        else:
            op = arithmetic.BY_NAME[name]
            assert int(index) >= len(op.forms) - op.heldout


def test_a_bad_draw_is_rejected_not_written(run1: ToolRunner) -> None:
    import pytest

    from finetune.generators.base import Rejected

    with pytest.raises(Rejected):
        arithmetic.calculate_checked(run1, "factorial(500)")  # far too large for a word problem
    with pytest.raises(Rejected):
        arithmetic.calculate_checked(run1, "1 / 0")
