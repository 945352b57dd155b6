"""Document reading: random-fact corpora indexed and searched live; answers grounded; not-found kinds honest."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from agent.prompt import NOT_FOUND_THOUGHT, not_found_answer
from finetune.generators import documents
from finetune.generators.document_near import NEAR
from finetune.generators.document_near_hard import HARD
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


def test_near_miss_rows_show_a_neighbouring_fact_and_still_end_not_found() -> None:
    """``missing_near`` (the v4 weights): the asked field is absent, a neighbour (founder for CEO) is stated."""
    weights = (0, 0, 0, 0, 0, 0, 0, 1)
    rows = draw_rows(lambda rng: documents.one(rng, "train", weights), 12, "docs-near")
    for row in rows:
        assert row["kind"] == "doc_missing_near" and not row["answerable"]
        assert row["final_answer"] == not_found_answer(row["question"])
        kind, asked = row["meta"]["doc_type"], row["meta"]["template"].split(":")[2]
        near = NEAR[kind][asked]
        first = row["steps"][0]["observation"]
        forms = [re.escape(s.rstrip(".")).replace(r"\{e\}", ".+").replace(r"\{v\}", ".+") for s in near.says]
        forms.append(re.escape(f"- {near.listed}:"))
        assert any(re.search(f, first, re.IGNORECASE) for f in forms), (near, first)
        assert 1 <= len(row["steps"]) <= 2


def test_seven_weights_never_draw_the_near_miss_kind() -> None:
    rows = draw_rows(lambda rng: documents.one(rng, "train", documents.QUESTION_WEIGHTS), 40, "docs-seven")
    assert "doc_missing_near" not in {r["kind"] for r in rows}


def test_every_near_miss_neighbour_belongs_to_a_field_of_its_type() -> None:
    for kind, fields in NEAR.items():
        assert set(fields) <= set(TYPES[kind]) and not set(f.name for f in fields.values()) & set(TYPES[kind])
        doc = documents.write_doc(random.Random(1), kind, "Velmora", set(fields), list(fields.values()))
        assert set(doc.values) == (set(TYPES[kind]) - set(fields)) | {f.name for f in fields.values()}


def _states(fact: Any, observation: str) -> bool:
    forms = [re.escape(s.rstrip(".")).replace(r"\{e\}", ".+").replace(r"\{v\}", ".+") for s in fact.says]
    forms.append(re.escape(f"- {fact.listed}:"))
    return any(re.search(f, observation, re.IGNORECASE) for f in forms)


def test_hard_near_miss_rows_bury_a_neighbour_beside_distractors_and_end_not_found() -> None:
    """``missing_near_hard`` (the v5 weights): the asked field absent, a ``HARD`` neighbour stated, 2-3 results."""
    weights = (0, 0, 0, 0, 0, 0, 0, 0, 1)
    rows = draw_rows(lambda rng: documents.one(rng, "train", weights), 12, "docs-hard")
    for row in rows:
        assert row["kind"] == "doc_missing_near_hard" and not row["answerable"]
        assert row["final_answer"] == not_found_answer(row["question"])
        assert row["meta"]["max_results"] in (2, 3) and 1 <= len(row["steps"]) <= 2
        kind, asked = row["meta"]["doc_type"], row["meta"]["template"].split(":")[2]
        first = row["steps"][0]["observation"]
        shown = [*HARD[kind][asked], *([NEAR[kind][asked]] if asked in NEAR.get(kind, {}) else [])]
        assert any(_states(near, first) for near in shown), (asked, first)  # v4's neighbour joins 40 % of them


def test_copy_near_rows_read_the_stated_field_beside_its_hard_neighbours() -> None:
    """``copy_near``: the same documents with the field stated: the answer is the field, never not-found."""
    weights = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    rows = draw_rows(lambda rng: documents.one(rng, "train", weights), 12, "docs-copy-near")
    for row in rows:
        assert row["kind"] == "doc_copy_near" and row["answerable"]
        assert NOT_FOUND_THOUGHT not in row["final_log"]
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol"))
        kind, asked = row["meta"]["doc_type"], row["meta"]["template"].split(":")[2]
        assert any(_states(near, row["steps"][0]["observation"]) for near in HARD[kind][asked])


def test_eight_weights_never_draw_the_v5_kinds() -> None:
    weights = (1, 1, 1, 1, 1, 1, 1, 1)
    rows = draw_rows(lambda rng: documents.one(rng, "train", weights), 30, "docs-eight")
    assert not {"doc_missing_near_hard", "doc_copy_near"} & {r["kind"] for r in rows}


def test_every_hard_neighbour_is_a_new_fact_of_a_field_of_its_type() -> None:
    near_names = {f.name for fields in NEAR.values() for f in fields.values()}
    for kind, fields in HARD.items():
        assert set(fields) <= set(TYPES[kind])
        names = [f.name for fs in fields.values() for f in fs]
        assert len(names) == len(set(names)) and not set(names) & (set(TYPES[kind]) | near_names)
        assert all(not f.asks for fs in fields.values() for f in fs)  # never asked: always a decoy
