"""Broad country questions: >= 20 composed forms per field, held-out frames, live replays, new structures."""

from __future__ import annotations

from typing import Any

from finetune.generators import countries_broad as cb
from finetune.generators.base import ToolRunner
from finetune.scoring import is_correct
from tests.finetune.generators.conftest import draw_rows


def test_each_field_has_at_least_twenty_train_forms_and_held_out_ones() -> None:
    for field in cb.FIELDS.values():
        train = cb.forms_for_split(field, "train")
        held = cb.forms_for_split(field, "heldout")
        assert len({cb.compose(p, f, "Chile") for p, f in train}) >= 20, field.key
        assert held and not set(held) & set(train)


def test_rows_replay_through_the_live_tools(run1: ToolRunner, split_records: dict[str, list[dict[str, Any]]]) -> None:
    rows = draw_rows(lambda rng: cb.one(split_records["train"], run1, rng, "train"), 80, "broad")
    structures = {r["meta"]["structure"] for r in rows}
    assert structures == {"field", "compare2", "compare3", "reverse", "sum3", "average"}
    train_names = {r["name"] for r in split_records["train"]}
    for row in rows:
        assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
        assert set(row["meta"]["countries"]) <= train_names
        for step in row["steps"]:
            assert run1(step["tool"], step["tool_input"]) == step["observation"]
        if row["meta"]["structure"] == "field":
            _, _, phrase, frame = row["meta"]["template"].split(":")
            assert int(frame) < len(cb.FRAMES) - cb.HELDOUT_FRAMES


def test_reverse_lookup_answers_the_country() -> None:
    rec = {"name": "Chile", "capital": "Santiago"}
    assert cb.compose("the capital of {a}", "tell me {c}", rec["name"]) == "tell me the capital of Chile"
    assert cb.compose("{a}'s capital", "{C}?", "Chile") == "Chile's capital?"
