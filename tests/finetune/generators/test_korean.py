"""Korean questions: Korean final answers, English searches, the Korean not-found form, correct particles."""

from __future__ import annotations

from typing import Any

import pytest

from agent.prompt import NOT_FOUND_ANSWER_KO
from finetune.generators import korean
from finetune.generators.base import ToolRunner
from finetune.scoring import is_correct
from tests.finetune.generators.conftest import draw_rows


@pytest.mark.parametrize(
    ("word", "final"), [("일본", True), ("미국", True), ("프랑스", False), ("스페인", True), ("이탈리아", False)]
)
def test_final_consonant_picks_the_particle(word: str, final: bool) -> None:
    assert korean.has_final_consonant(word) is final


def test_rows_answer_in_korean_and_search_in_english(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    rows = draw_rows(lambda rng: korean.one(split_records["train"], run1, rng, "train"), 50, "ko")
    assert {r["kind"] for r in rows} >= {"ko_capital", "ko_population", "ko_absent", "ko_sum"}
    for row in rows:
        assert any("\uac00" <= ch <= "\ud7a3" for ch in row["question"])
        assert any("\uac00" <= ch <= "\ud7a3" for ch in row["final_answer"])
        for step in row["steps"]:
            assert not any("\uac00" <= ch <= "\ud7a3" for ch in step["tool_input"])  # the index is English
        if row["answerable"]:
            assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        else:
            assert row["final_answer"] == NOT_FOUND_ANSWER_KO


def test_sum_answers_join_the_two_names_with_the_right_particle(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    only_sums = tuple(1.0 if kind == "sum" else 0.0 for kind in korean.FORMS)
    rows = draw_rows(lambda rng: korean.one(split_records["train"], run1, rng, "train", only_sums), 12, "ko-sum")
    for row in rows:
        assert row["kind"] == "ko_sum"
        assert "와(과)" not in row["final_answer"]
        first = row["final_answer"].split(" ")[0]  # "일본과" / "프랑스와"
        name = first[:-1]
        assert first[-1] == ("과" if korean.has_final_consonant(name) else "와"), row["final_answer"]


def test_names_weights_draw_region_rows_over_any_split_with_the_right_particle(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    everyone = [r for recs in split_records.values() for r in recs]
    rows = draw_rows(lambda rng: korean.one(everyone, run1, rng, "train", korean.NAMES_WEIGHTS), 20, "ko-names")
    heldout_form = korean.FORMS["region"][-1]
    train_names = {r["name"] for r in split_records["train"]}
    assert {r["kind"] for r in rows} == {"ko_region"}
    searched = [r["steps"][0]["tool_input"].removeprefix("region of ") for r in rows]
    assert any(c not in train_names for c in searched)  # the lexicon reaches countries outside the train split
    for row, country in zip(rows, searched, strict=True):
        ko = korean.KO_NAMES[country]
        assert len(row["steps"]) == 1 and ko in row["question"]
        particle = "은" if korean.has_final_consonant(ko) else "는"
        assert row["final_answer"] == f"{ko}{particle} '{row['answer']}'에 있습니다."
        assert row["question"] != heldout_form.format(k=ko, ke=ko)
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row


def test_default_weights_never_draw_a_region_row(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    assert len(korean.KIND_WEIGHTS) == len(korean.FORMS) == len(korean.NAMES_WEIGHTS)
    rows = draw_rows(lambda rng: korean.one(split_records["train"], run1, rng, "train"), 40, "ko-default")
    assert "ko_region" not in {r["kind"] for r in rows}


def test_name_rows_cover_every_korean_name_with_different_forms_and_name_the_field(
    run1: ToolRunner, records: list[dict[str, Any]]
) -> None:
    import random

    pairs = korean.name_forms("train", random.Random(0))
    per_name: dict[str, set[str]] = {}
    for name, form in pairs:
        per_name.setdefault(name, set()).add(form)
    assert set(per_name) == set(korean.KO_NAMES)
    assert all(len(f) == korean.NAME_ROWS for f in per_name.values())  # NAME_ROWS different forms per name
    assert korean.FORMS["region"][-1] not in {f for fs in per_name.values() for f in fs}  # held out
    by_name = {r["name"]: r for r in records}
    for name, form in pairs[:6]:
        row = korean.name_row(by_name[name], run1, random.Random(1), "train", form)
        ko = korean.KO_NAMES[name]
        assert row["final_answer"] == f"{ko}({name})의 지역은 '{row['answer']}'입니다."
        assert row["steps"][0]["tool_input"] == f"region of {name}"
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
