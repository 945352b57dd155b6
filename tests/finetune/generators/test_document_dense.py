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


# ---- the v8 form (attempt 8): a near-miss not-found paired with each answered row ----


def _corpora_v8(n: int, split: str = "train") -> list[list[dict[str, Any]]]:
    rng, out = random.Random("dense-v8-test"), []
    for _ in range(n * 4):
        try:
            out.append(document_dense.rows_v8(rng, split))
        except Rejected:
            continue
        if len(out) == n:
            break
    assert len(out) == n
    return out


@pytest.fixture(scope="module")
def corpora_v8() -> list[list[dict[str, Any]]]:
    return _corpora_v8(60)


def test_v8_pairs_a_not_found_with_an_answered_row_over_the_same_corpus(
    corpora_v8: list[list[dict[str, Any]]],
) -> None:
    rows = [r for c in corpora_v8 for r in c]
    assert {r["meta"]["doc_type"] for r in rows} == set(document_dense.ALL_SCENES)
    missing = [r for r in rows if r["kind"] == "dense_missing"]
    answered = [r for r in rows if r["kind"] != "dense_missing"]
    assert 0.75 <= len(missing) / len(answered) <= 1.0  # about one not-found per answered row
    near = [r for r in missing if r["meta"]["near_miss"]]
    assert 0.55 <= len(near) / len(missing) <= 0.95
    near_asks = {a for ms in document_dense.NEAR_MISSING.values() for m in ms for a in m.asks}
    pattern = re.compile("|".join(re.escape(f).replace(r"\{e\}", ".+") for f in near_asks))
    assert all(pattern.fullmatch(r["question"]) for r in near)
    for corpus in corpora_v8:
        if len(corpus) == 1:
            assert corpus[0]["kind"] in ("dense_copy", "dense_compute")
            continue
        miss, answer = corpus
        assert miss["kind"] == "dense_missing" and answer["kind"] in ("dense_copy", "dense_compute")
        assert miss["final_answer"] == not_found_answer(miss["question"]) and not miss["answerable"]
        assert is_correct(answer["final_answer"], answer["answer"], answer.get("rel_tol")), answer
        title = miss["steps"][0]["observation"].split(":")[0]
        assert answer["steps"][0]["observation"].startswith(title)  # the same document in view
    assert {tuple(r["kind"] for r in c) for c in corpora_v8 if len(c) == 2} == {
        ("dense_missing", "dense_copy"),
        ("dense_missing", "dense_compute"),
    }


def test_v8_near_misses_ask_a_field_the_document_does_not_state() -> None:
    # each near-miss sits beside a stated slot of its scene (its search keyword finds that slot's sentence),
    # but no slot of the scene is the asked one: the asked words are none of the copies' asks
    for kind, near in document_dense.NEAR_MISSING.items():
        scene = document_dense.ALL_SCENES[kind]
        asked = {a for q in (*scene.copies, *scene.computes) for a in q.asks}
        for m in near:
            assert not set(m.asks) & asked, (kind, m.asks)
            assert len(m.asks) >= 2  # the last one held out of train


def test_v8_computations_run_the_calculator_over_the_document(corpora_v8: list[list[dict[str, Any]]]) -> None:
    computes = [r for c in corpora_v8 for r in c if r["kind"] == "dense_compute"]
    assert len(computes) >= 10
    for row in computes:
        search, calc = row["steps"]
        assert (search["tool"], calc["tool"]) == ("Search", "Calculator")
        assert row["answer"] == pytest.approx(float(evaluate(calc["tool_input"])))
        numbers = parse_numbers(search["observation"])
        seen = {round(v, 6) for v in numbers} | {round(v / 1e6, 6) for v in numbers}
        operands = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", calc["tool_input"])]
        fixed = (2, 60, 100, 1000, 1000000, 2024)
        assert [v for v in operands if round(v, 6) not in seen and v not in fixed and v > 6] == []


def test_v7_rows_never_use_the_v8_scenes_or_near_misses() -> None:
    rows = [r for c in _corpora(40) for r in c]
    assert {r["meta"]["doc_type"] for r in rows} <= set(document_dense.SCENES)
    assert not set(document_dense.SCENES) & set(document_dense.EXTRA_SCENES)
    assert all("near_miss" not in r["meta"] for r in rows)
    for kind in document_dense.SCENES:  # a v7 row asks its scene's own questions, never that scene's near-misses
        own = {a for q in (*document_dense.SCENES[kind].copies, *document_dense.SCENES[kind].computes) for a in q.asks}
        own |= {a for m in document_dense.SCENES[kind].missing for a in m.asks}
        near = {a for m in document_dense.NEAR_MISSING[kind] for a in m.asks} - own
        pattern = re.compile("|".join(re.escape(f).replace(r"\{e\}", ".+") for f in near))
        assert not any(pattern.fullmatch(r["question"]) for r in rows if r["meta"]["doc_type"] == kind)


def test_v8_the_last_ask_form_is_held_out_of_train() -> None:
    train = [r for c in _corpora_v8(16, "train") for r in c]
    held = [r for c in _corpora_v8(16, "heldout") for r in c]
    near = [m for ms in document_dense.NEAR_MISSING.values() for m in ms]
    asks = [q.asks for s in document_dense.ALL_SCENES.values() for q in (*s.copies, *s.computes, *s.missing)]
    last = {a[-1] for a in asks + [m.asks for m in near]}
    assert not last & {a for a_list in asks + [m.asks for m in near] for a in a_list[:-1]}  # no list trains another's
    pattern = re.compile("|".join(re.escape(f).replace(r"\{e\}", ".+").replace(r"\{k\}", r"\d") for f in last))
    assert not any(pattern.fullmatch(r["question"]) for r in train)
    assert any(pattern.fullmatch(r["question"]) for r in held)
