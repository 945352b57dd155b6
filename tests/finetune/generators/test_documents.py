"""Document reading: random-fact corpora indexed and searched live; answers grounded; not-found kinds honest."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agent.prompt import NOT_FOUND_THOUGHT, not_found_answer
from finetune.generators import documents
from finetune.generators.document_types import TYPES
from finetune.scoring import is_correct, parse_numbers
from tests.finetune.generators.conftest import draw_rows


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return draw_rows(lambda rng: documents.one(rng, "train"), 70, "docs")


def test_every_question_type_and_document_type_is_made(rows: list[dict[str, Any]]) -> None:
    kinds = {r["kind"] for r in rows}
    assert {"doc_copy", "doc_missing_field", "doc_missing_entity", "doc_single"} <= kinds
    assert {r["meta"]["doc_type"] for r in rows} == set(TYPES) - set(documents.HELDOUT_TYPES)
    assert {r["meta"]["max_results"] for r in rows} == {1, 2, 3}


def test_answers_are_read_from_the_observations(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        if not row["answerable"]:
            continue
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        searched = " ".join(s["observation"] for s in row["steps"] if s["tool"] == "Search")
        if row["kind"] == "doc_copy":  # the copied fact is in what the search returned
            gold = row["answer"]
            if isinstance(gold, float):
                assert any(abs(v - gold) < 1e-6 for v in parse_numbers(searched)), row
            else:
                assert gold.lower() in searched.lower(), row


def test_not_found_rows_end_in_the_one_form_within_two_searches(rows: list[dict[str, Any]]) -> None:
    missing = [r for r in rows if not r["answerable"]]
    assert len(missing) >= 10
    for row in missing:
        assert row["final_answer"] == not_found_answer(row["question"])
        assert row["final_log"].startswith(NOT_FOUND_THOUGHT)
        assert 1 <= len(row["steps"]) <= 2 and all(s["tool"] == "Search" for s in row["steps"])
    entity = [r for r in missing if r["kind"] == "doc_missing_entity"]
    for row in entity:  # the corpus does not hold the entity: no result is about it
        name = row["question"]
        assert all(s["observation"].split(":")[0].lower() not in name.lower() for s in row["steps"])


def test_a_document_states_every_fact_but_the_omitted_ones() -> None:
    rng = random.Random(3)
    doc = documents.write_doc(rng, "company", "Velmora Logistics", {"ceo"})
    assert "ceo" not in doc.values and set(doc.values) == set(TYPES["company"]) - {"ceo"}
    assert "Velmora Logistics" in doc.text and len(doc.text) < 600


def test_held_out_document_type_only_in_heldout() -> None:
    rows = draw_rows(lambda rng: documents.one(rng, "heldout"), 6, "held")
    assert {r["meta"]["doc_type"] for r in rows} == set(documents.HELDOUT_TYPES)


def test_computations_go_through_the_calculator_with_several_forms_per_type() -> None:
    computing = (0, 1, 1, 0, 0, 0, 0)  # single and pair questions only
    rows = draw_rows(lambda rng: documents.one(rng, "train", computing), 40, "docs-compute")
    assert {r["kind"] for r in rows} <= {"doc_single", "doc_pair", "doc_copy"}  # copy: a type without the form
    computed = [r for r in rows if r["kind"] != "doc_copy"]
    assert len(computed) >= 30
    for row in computed:
        tools = [s["tool"] for s in row["steps"]]
        assert tools[-1] == "Calculator" and "Search" in tools, row["steps"]
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
    computations = {r["meta"]["template"].rsplit(":", 1)[-1] for r in computed}  # "per_office", "discount", ...
    assert len(computations) >= 8, computations
