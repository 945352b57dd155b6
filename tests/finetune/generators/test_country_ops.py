"""Two-country operators by their wording (the v7 mix): sums add, ratios divide, differences subtract."""

from __future__ import annotations

from typing import Any

from finetune.generators import country_ops
from finetune.generators.base import ToolRunner
from finetune.generators.countries import PHRASINGS
from finetune.scoring import is_correct
from tests.finetune.generators.conftest import draw_rows

OPERATOR = {"sum": "+", "ratio": "/", "difference": "-"}


def test_the_operator_follows_the_question_and_no_held_out_phrasing_is_trained(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    rows = draw_rows(lambda rng: country_ops.one(split_records["train"], run1, rng, "train"), 40, "ops")
    assert {r["meta"]["operator"] for r in rows} >= {"area_sum", "population_ratio", "area"}
    train_names = {r["name"] for r in split_records["train"]}
    gold_heldout = {forms[-1] for forms in PHRASINGS.values()}  # finetune.gold's held-out phrasings
    for row in rows:
        op = row["meta"]["operator"]
        kind, _, index = row["meta"]["template"].partition(":")
        form = country_ops.LEXICON[kind][int(index)]
        assert form not in gold_heldout and int(index) < len(country_ops.LEXICON[kind]) - 1  # last form held out
        searched = [s["tool_input"].split(" of ", 1)[1] for s in row["steps"] if s["tool"] == "Search"]
        assert set(searched) <= train_names
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        if op == "area":
            assert [s["tool"] for s in row["steps"]] == ["Search"]
            continue
        calc = row["steps"][-1]
        assert calc["tool"] == "Calculator" and f" {OPERATOR[op.split('_')[1]]} " in calc["tool_input"]


def test_v8_synonyms_copy_the_field_from_the_record_and_are_no_gold_phrasing(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    rows = draw_rows(lambda rng: country_ops.synonym_one(split_records["train"], run1, rng, "train"), 40, "syn")
    assert {r["meta"]["field"] for r in rows} == set(country_ops.SYNONYMS)
    gold_forms = {f for forms in PHRASINGS.values() for f in forms}  # every finetune.gold phrasing
    assert not gold_forms & {f for forms in country_ops.SYNONYMS.values() for f in forms}
    assert any("surface area" in r["question"] for r in rows)
    for row in rows:
        _, kind, index = row["meta"]["template"].split(":")
        assert int(index) < len(country_ops.SYNONYMS[kind]) - 1  # the last form held out of train
        assert [s["tool"] for s in row["steps"]] == ["Search"]
        assert row["steps"][0]["tool_input"].startswith(f"{kind} of ")
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        assert row["answerable"]
