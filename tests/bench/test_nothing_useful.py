"""bench.nothing_useful: the rule-on run is measured where the rule fires, and equals rule-off elsewhere."""

from __future__ import annotations

import copy
import dataclasses
import json

from agent.loop import AgentConfig, ReActAgent
from bench.nothing_useful import fires_at, render, replay_table, run_question
from finetune.evaluate import Target
from tests.agent.test_loop import final, make_tools
from tests.bench.test_grounding_replay import row
from tests.model import ScriptedChatModel, action

NONE = "No good search result found."


def agents(script: list[str], search) -> tuple[Target, ReActAgent, ReActAgent]:
    on = ReActAgent(ScriptedChatModel(script=script), make_tools(search=search), AgentConfig())
    off = copy.copy(on)
    off.config = dataclasses.replace(on.config, nothing_useful_limit=0)
    return Target("local:test", on), off, on


def test_the_rule_fires_on_the_second_empty_search_and_is_run_for_real() -> None:
    script = [action("Search", "a"), action("Search", "b"), action("Search", "c"), final("T'Challa")]
    target, off, on = agents(script, lambda q: NONE)
    row = run_question(target, off, on, "Who is the president of Wakanda?", verify=False)
    assert row["fires_at_step"] == 1
    assert (row["off"]["status"], row["off"]["steps"]) == ("ungrounded", 4)
    assert (row["on"]["status"], row["on"]["steps"], row["on"]["rerun"]) == ("not_found", 2, True)
    assert "| local:test | 1 | 1 |" in render([row], "t")


def test_a_run_the_rule_never_cuts_is_the_same_trace_on_and_off() -> None:
    australia = "Australia: capital Canberra; population 23,696,900; borders none."
    script = [action("Search", "capital of Australia"), final("The capital of Australia is Canberra.")]
    target, off, on = agents(script, lambda q: australia)
    row = run_question(target, off, on, "What is the capital of Australia?", verify=True)
    assert row["fires_at_step"] is None and row["verified_same_trace"] is True
    assert row["on"]["status"] == row["off"]["status"] == "answered"
    skipped = run_question(target, off, on, "What is the capital of Australia?", verify=False)
    assert skipped["on"]["rerun"] is False and skipped["on"]["steps"] == skipped["off"]["steps"] == 2
    assert fires_at(off.run("What is the capital of Australia?"), 2) is None


def test_replay_table_cuts_recorded_runs_where_the_rule_would(tmp_path) -> None:
    empty = ("leader", NONE)
    rows = [row("John Smith.", empty, empty, empty), row("Australia has no land borders.", ("Australia", "x"))]
    for r, steps in zip(rows, (4, 2), strict=True):
        r.update(config="local:default", steps=steps)
    path = tmp_path / "r.results.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = replay_table([path])
    assert "| `r.results.jsonl` | local:default | 2 | 1 | 3 → 2 | 3.00 → 2.00 |" in table
    assert "| Who leads Australia? | answered, 4 | not_found, 2 |" in table
