"""More not-found shapes (the v10 mix): every row ends in the not-found form after at most two searches of
the real index, in Korean for a Korean question, and no name or form is one of the shipped eval sets'."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from agent.prompt import NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO, NOT_FOUND_THOUGHT, SEARCH_NAME
from finetune.generators import negatives_more as nm
from finetune.generators.base import ToolRunner
from tests.finetune.generators.conftest import draw_rows

EVAL_QUESTIONS = [
    json.loads(line)["question"] for f in Path("finetune/evalsets").glob("*.jsonl") for line in f.open() if line.strip()
]


def test_every_shape_ends_not_found_in_the_questions_language_within_two_searches(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    rows = draw_rows(lambda rng: nm.one(split_records["train"], run1, rng, "train"), 120, "nm10")
    assert Counter(r["meta"]["shape"] for r in rows).keys() == set(nm.SHAPES)
    for r in rows:
        assert r["answerable"] is False and r["kind"] == f"neg_{r['meta']['shape']}"
        assert 1 <= len(r["steps"]) <= 2 and all(s["tool"] == SEARCH_NAME for s in r["steps"])
        korean = r["meta"]["shape"].startswith("ko_")
        assert r["final_answer"] == (NOT_FOUND_ANSWER_KO if korean else NOT_FOUND_ANSWER)
        assert NOT_FOUND_THOUGHT in r["final_log"]
        assert all(not any("\uac00" <= ch <= "\ud7a3" for ch in s["tool_input"]) for s in r["steps"])  # English search
    namesakes = [r for r in rows if r["meta"]["shape"] == "namesake"]
    # the place's namesake country is what the index returns: a record that must not be read as the answer
    assert sum(r["steps"][0]["observation"].split(":", 1)[0] in r["question"] for r in namesakes) >= len(namesakes) // 2


def test_no_name_of_the_generator_is_in_an_eval_question_and_train_never_sees_the_held_out_names(
    run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]
) -> None:
    names = [*nm.FICTION, *(en for _, en in nm.KO_FICTION), *(k for k, _ in nm.KO_FICTION)]
    names += [*(en for _, en in nm.KO_PLACES), *(k for k, _ in nm.KO_PLACES), *(p for p, _, _ in nm.NAMESAKES)]

    def named(name: str, question: str) -> bool:  # a whole word in English ("Oz" is not "ounces"); Hangul: anywhere
        if any("\uac00" <= ch <= "\ud7a3" for ch in name):
            return name in question
        return re.search(rf"(?<!\w){re.escape(name.removeprefix('the '))}(?!\w)", question, re.I) is not None

    hits = {n for n in names for q in EVAL_QUESTIONS if named(n, q)}
    assert not hits
    forms = [f for _, _, f in (*nm.LIVE, *nm.KO_LIVE, *nm.FICTION_ASKS, *nm.KO_PLACE_ASKS, *nm.KO_FICTION_ASKS)]
    forms += [f for asks in nm.NAMESAKE_ASKS.values() for _, _, f in asks]
    assert not {f for f in forms if any(f.format(a="", b="", x="", k="").strip(" ?") == q for q in EVAL_QUESTIONS)}
    held = set(nm.FICTION[-nm.HELDOUT_FICTION :])
    train = draw_rows(lambda rng: nm.one(split_records["train"], run1, rng, "train"), 80, "nm10-held")
    assert not any(h in r["question"] for h in held for r in train)
    heldout = draw_rows(lambda rng: nm.one(split_records["heldout"], run1, rng, "heldout"), 40, "nm10-h")
    fiction = [r for r in heldout if r["meta"]["shape"] == "fiction"]
    assert fiction and all(any(h in r["question"] for h in held) for r in fiction)
