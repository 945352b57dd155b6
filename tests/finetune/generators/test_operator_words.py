"""Operators by their everyday words (the v9 mix): the plan names the operation, the Calculator does it, and no
form is one of the trained or held-out phrasings of finetune.gold, country_ops or the arithmetic grammar."""

from __future__ import annotations

from typing import Any

from finetune.generators import arithmetic, country_ops, operator_words
from finetune.generators.base import ToolRunner
from finetune.generators.countries import PHRASINGS
from finetune.generators.gold_arithmetic import ARITHMETIC as GOLD_ARITHMETIC
from finetune.scoring import is_correct
from tests.finetune.generators.conftest import draw_rows

SIGN = {"sum": " + ", "difference": " - ", "ratio": " / "}
PLAN_WORD = {"sum": "add", "difference": "subtract", "ratio": "divide"}


def other_forms(heldout_only: bool) -> set[str]:
    """The question forms the earlier families use (or only their held-out ones: the last of each list)."""
    lists = [*PHRASINGS.values(), *(t.phrasings for t in GOLD_ARITHMETIC), *country_ops.LEXICON.values()]
    lists += [op.forms for op in arithmetic.OPERATORS]
    return {f for fs in lists for f in (fs[-1:] if heldout_only else fs)}


def test_no_form_is_an_earlier_familys_form_and_each_list_holds_one_out() -> None:
    mine = [f for fs in operator_words.COUNTRY_FORMS.values() for f in fs]
    mine += [f for spec in operator_words.ARITHMETIC.values() for f in spec[3]]
    assert not set(mine) & other_forms(heldout_only=True)
    assert set(mine) & other_forms(heldout_only=False) == {"What is {a} multiplied by {b}?"}  # a trained gold form
    assert len(set(mine)) == len(mine)
    assert all(len(fs) >= 5 for fs in operator_words.COUNTRY_FORMS.values())


def test_country_rows_plan_the_operation_first_and_compute_it_with_the_calculator(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    rows = draw_rows(lambda rng: operator_words.country_one(split_records["train"], run1, rng, "train"), 40, "w9")
    assert {r["meta"]["operator"] for r in rows} == set(operator_words.COUNTRY_OPS)
    train_names = {r["name"] for r in split_records["train"]}
    for row in rows:
        kind, _, index = row["meta"]["template"].partition(":")
        assert int(index) < len(operator_words.COUNTRY_FORMS[kind]) - 1  # the last form held out of train
        op = kind.split("_", 1)[1]
        assert [s["tool"] for s in row["steps"]] == ["Search", "Search", "Calculator"]
        assert PLAN_WORD[op] in row["steps"][0]["thought"]
        assert SIGN[op] in row["steps"][-1]["tool_input"]
        searched = {s["tool_input"].split(" of ", 1)[1] for s in row["steps"][:2]}
        assert searched <= train_names
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        if op != "sum":
            assert row["answer"] > 0  # the larger first: a gap or a ratio above one, as the questions read


def test_arithmetic_rows_answer_with_the_calculators_value_and_heldout_draws_only_the_last_form(
    run1: ToolRunner,
) -> None:
    rows = draw_rows(lambda rng: operator_words.arithmetic_one(run1, rng, "train"), 60, "w9a")
    assert {r["meta"]["operator"] for r in rows} == set(operator_words.ARITHMETIC_OPS)
    for row in rows:
        assert [s["tool"] for s in row["steps"]] == ["Calculator"]
        assert row["steps"][0]["tool_input"] == row["meta"]["expression"]
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        if row["meta"]["operator"] == "percent_amount":  # the amount itself, never the price after it
            a, p = (float(x) for x in row["meta"]["expression"].replace(" / 100", "").split(" * "))
            assert row["answer"] == a * p / 100 < a
    held = draw_rows(lambda rng: operator_words.arithmetic_one(run1, rng, "heldout"), 20, "w9h")
    for row in held:
        name, _, index = row["meta"]["template"].partition(":")
        assert int(index) == len(operator_words.ARITHMETIC[name][3]) - 1
