"""Dense documents (the v7 mix): the right number copied among several, Calculator computations, and each
near-miss not-found paired with a copy over the same corpus."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from agent.prompt import NOT_FOUND_THOUGHT, not_found_answer
from agent.tools.calculator import evaluate
from finetune.generators import document_dense
from finetune.generators.base import Rejected
from finetune.scoring import is_correct, parse_numbers


def _corpora(n: int, split: str = "train") -> list[list[dict[str, Any]]]:
    rng, out = random.Random("dense-test"), []
    for _ in range(n * 4):
        try:
            out.append(document_dense.rows(rng, split))
        except Rejected:
            continue
        if len(out) == n:
            break
    assert len(out) == n
    return out


@pytest.fixture(scope="module")
def corpora() -> list[list[dict[str, Any]]]:
    return _corpora(36)


def test_every_scene_and_question_kind_is_made(corpora: list[list[dict[str, Any]]]) -> None:
    rows = [r for c in corpora for r in c]
    assert {r["kind"] for r in rows} == {"dense_copy", "dense_compute", "dense_missing"}
    assert {r["meta"]["doc_type"] for r in rows} == set(document_dense.SCENES)


def test_a_not_found_row_comes_with_a_copy_over_the_same_corpus(corpora: list[list[dict[str, Any]]]) -> None:
    pairs = [c for c in corpora if len(c) == 2]
    assert pairs and all(len(c) in (1, 2) for c in corpora)
    for missing, copy in pairs:
        assert missing["kind"] == "dense_missing" and copy["kind"] == "dense_copy"
        assert missing["final_answer"] == not_found_answer(missing["question"])
        assert missing["final_log"].startswith(NOT_FOUND_THOUGHT) and not missing["answerable"]
        # one corpus: the target's document (with the neighbouring numbers) is in both observations
        name = copy["question"]
        target = missing["steps"][0]["observation"]
        assert any(s["observation"].split(":")[0] in target for s in copy["steps"]), (name, target)


def test_copies_take_the_asked_number_among_the_others(corpora: list[list[dict[str, Any]]]) -> None:
    copies = [r for c in corpora for r in c if r["kind"] == "dense_copy"]
    assert copies
    for row in copies:
        observation = row["steps"][0]["observation"]
        assert len(parse_numbers(observation)) >= 3  # dense: the asked one and its neighbours
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        assert len(row["steps"]) == 1


def test_computations_run_the_calculator_over_numbers_the_search_returned(
    corpora: list[list[dict[str, Any]]],
) -> None:
    computes = [r for c in corpora for r in c if r["kind"] == "dense_compute"]
    assert len(computes) >= 5
    for row in computes:
        search, calc = row["steps"]
        assert (search["tool"], calc["tool"]) == ("Search", "Calculator")
        assert float(calc["observation"].replace(",", "")) == pytest.approx(float(evaluate(calc["tool_input"])))
        assert row["answer"] == pytest.approx(float(evaluate(calc["tool_input"])))
        numbers = parse_numbers(search["observation"])  # "38 million" reads as 38000000
        seen = {round(v, 6) for v in numbers} | {round(v / 1e6, 6) for v in numbers}
        operands = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", calc["tool_input"])]
        # every operand but the question's small k and the fixed factors (2, 60, 100, 1e6, 2024) is in the document
        assert [v for v in operands if round(v, 6) not in seen and v not in (2, 60, 100, 1000000, 2024) and v > 6] == []


def test_the_last_ask_form_is_held_out_of_train() -> None:
    train = [r for c in _corpora(12, "train") for r in c]
    held = [r for c in _corpora(12, "heldout") for r in c]
    last = {
        a[-1] for s in document_dense.SCENES.values() for q in (*s.copies, *s.computes, *s.missing) for a in [q.asks]
    }
    pattern = re.compile("|".join(re.escape(f).replace(r"\{e\}", ".+").replace(r"\{k\}", r"\d") for f in last))
    assert not any(pattern.fullmatch(r["question"]) for r in train)
    assert any(pattern.fullmatch(r["question"]) for r in held)
