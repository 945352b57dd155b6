"""The hand-written document eval sets (documents.jsonl, documents_extra.jsonl) are well-formed over their corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.numbers import as_number, normalize, parse_numbers

EVALSETS = Path(__file__).resolve().parents[2] / "finetune" / "evalsets"
SETS = {"documents.jsonl": "docs-", "documents_extra.jsonl": "docsx-"}
KINDS = {"doc_copy", "doc_compute", "doc_compare", "doc_unanswerable"}


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVALSETS / name).read_text(encoding="utf-8").splitlines()]


def _corpus_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((EVALSETS / "corpus").iterdir()))


@pytest.mark.parametrize("name", sorted(SETS))
def test_rows_are_well_formed(name: str) -> None:
    rows = _rows(name)
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["id"].startswith(SETS[name]), r
        assert r["kind"] in KINDS, r
        assert r["corpus"] == "corpus" and (EVALSETS / r["corpus"]).is_dir(), r
        assert r["question"].strip(), r
        if r.get("answerable", True) is False:
            assert r["answer"] is None and r["kind"] == "doc_unanswerable", r
        else:
            assert r["answer"] not in (None, "", []) and r["kind"] != "doc_unanswerable", r
            # numbers are written as numbers, so the scorer compares them with its tolerance
            assert not (isinstance(r["answer"], str) and as_number(r["answer"]) is not None), r


def test_copied_answers_are_in_the_corpus() -> None:
    """A doc_copy gold (number or name) is written in some corpus document, as the question promises."""
    text = _corpus_text()
    numbers = parse_numbers(text)
    words = f" {normalize(text)} "
    for name in SETS:
        for r in _rows(name):
            if r["kind"] != "doc_copy":
                continue
            golds = r["answer"] if isinstance(r["answer"], list) else [r["answer"]]
            for gold in golds:
                if isinstance(gold, int | float):
                    assert float(gold) in numbers, r
                else:
                    assert f" {normalize(gold)} " in words, r


def test_the_sets_do_not_repeat_a_question() -> None:
    questions = [normalize(r["question"]) for name in SETS for r in _rows(name)]
    assert len(set(questions)) == len(questions)


def test_extra_set_holds_what_the_readme_says() -> None:
    """documents_extra.jsonl: 36 unanswerable rows (29 near-misses first, then 7 absent entities) and 21 answerable."""
    rows = _rows("documents_extra.jsonl")
    unanswerable = [r for r in rows if r.get("answerable", True) is False]
    answerable = [r for r in rows if r.get("answerable", True) is not False]
    assert len(unanswerable) == 36 and len(answerable) == 21
    assert [r["id"] for r in unanswerable] == [f"docsx-{i:02d}" for i in range(1, 37)]
    assert {r["kind"] for r in answerable} == {"doc_copy", "doc_compute", "doc_compare"}
