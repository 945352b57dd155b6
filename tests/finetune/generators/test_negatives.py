"""Negatives over the country pack: every shape ends in the not-found form; nothing is about the asked entity."""

from __future__ import annotations

from typing import Any

from agent.prompt import NOT_FOUND_THOUGHT, not_found_answer
from agent.tools.search import NO_RESULTS
from finetune.generators import negatives
from finetune.generators.base import ToolRunner
from tests.finetune.generators.conftest import draw_rows


def test_every_shape_ends_not_found_within_two_searches(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]], records: list[dict[str, Any]]
) -> None:
    names = {r["name"] for r in records} | {a for r in records for a in r["aliases"]}
    rows = draw_rows(lambda rng: negatives.one(split_records["train"], run1, rng, "train", names), 80, "neg")
    shapes = {r["meta"]["shape"] for r in rows}
    assert shapes == {"absent_field", "capital_city", "city", "state", "fictional", "nothing"}
    for row in rows:
        assert row["answerable"] is False and row["answer"] is None
        assert row["final_answer"] == not_found_answer(row["question"])
        assert row["final_log"] == f"{NOT_FOUND_THOUGHT}\nFinal Answer: {row['final_answer']}"
        assert 1 <= len(row["steps"]) <= 2
        first = row["steps"][0]["observation"]
        if row["meta"]["shape"] == "nothing":
            assert first == NO_RESULTS
        if row["meta"]["shape"] == "absent_field":  # the right record, without the field
            assert first.split(":")[0] in row["question"]
        if row["meta"]["shape"] in ("capital_city", "city", "state", "fictional"):
            assert first.split(":")[0] not in row["question"]


def test_train_never_asks_held_out_cities_or_forms(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    rows = draw_rows(lambda rng: negatives.one(split_records["train"], run1, rng, "train", set()), 60, "neg2")
    held_cities = negatives.CITIES[-negatives.HELDOUT_CITIES :]
    for row in rows:
        assert not any(c in row["question"] for c in held_cities)
        if row["meta"]["shape"] == "absent_field":
            _, key, index = row["meta"]["template"].split(":")
            assert int(index) < len(negatives.ABSENT[key][2]) - 1
