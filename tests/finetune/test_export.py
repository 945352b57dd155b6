"""Run store → trajectory JSONL: confirmed/corrected runs, replay check, de-duplication, counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.prompt import observation_suffix, render_prompt
from agent.replay import replay_check, supports
from agent.trace import RunResult, Step
from app.cli_finetune import export_command
from app.cli_finetune import export_store_runs as export_runs
from app.store.runs import RunStore
from finetune.export import parse_since

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CAPITAL_Q = "What is the capital of Australia?"
CANBERRA = "Canberra is the capital of Australia."


def calc_run(run_id: str, expr: str = "37 * 12 + 5", obs: str = "449", answer: str = "449") -> RunResult:
    bad = Step(
        index=0, kind="format_error", log=" gibberish", observation="Invalid Format: Missing 'Action:'"
    )
    tool = Step(index=1, kind="tool", thought="I need to compute it.", tool="Calculator", tool_input=expr)
    tool.observation, tool.log = obs, "I need to compute it.\nAction: Calculator\nAction Input: " + expr
    final = Step(index=2, kind="final", thought="I now know the final answer", final_answer=answer, log="x")
    return RunResult(
        run_id=run_id, question=f"What is {expr}?", answer=answer, status="answered",
        steps=[bad, tool, final], backend="local", model="gemma-3-270m",
    )  # fmt: skip


def search_run(run_id: str, obs: str, answer: str) -> RunResult:
    tool = Step(
        index=0, kind="tool", thought="I should search.", tool="Search", tool_input="capital of Australia"
    )
    tool.observation, tool.log = obs, " I should search.\nAction: Search\nAction Input: capital of Australia"
    final = Step(index=1, kind="final", thought="I now know the final answer", final_answer=answer, log="x")
    return RunResult(
        run_id=run_id, question=CAPITAL_Q, answer=answer, status="answered", steps=[tool, final],
        backend="openai", model="gpt-4o-mini",
    )  # fmt: skip


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_supports_numbers_and_words() -> None:
    assert supports("Population: 25,687,041 (2021)", "25687041")
    assert supports("Canberra is the capital city of Australia.", "canberra")
    assert not supports("Sydney is the largest city.", "Canberra")
    assert not supports("449", "450")


def test_supports_sentences_by_their_numbers() -> None:
    """A correction written as a sentence is judged by every number in it (0.1 %), not its wording."""
    assert supports("5.082874", "Canada's area is about 5.08 times the area of Mexico.")
    assert supports("1146671", "France and Spain together cover 1,146,671 km2.")
    assert not supports("134687", "France and Spain together cover 1,146,671 km2.")
    assert not supports("5.082874", "About 5.08 times, so 3 of them fit.")  # 3 is not in the observation
    assert not supports("5.082874", "Canada is about five times larger.")  # 5 is not 5.08 within 0.1 %


def test_replay_check() -> None:
    ok = [s.model_dump() for s in calc_run("a").steps]
    fake_calc = {"Calculator": lambda e: {"37 * 12 + 5": "449", "1/0": "boom"}[e]}
    assert replay_check(ok, "449", fake_calc).ok
    assert not replay_check(ok, "450", fake_calc).ok  # the observation does not say 450
    forged = [s.model_dump() for s in calc_run("b", obs="450", answer="450").steps]
    res = replay_check(forged, "450", fake_calc)  # the tool gives 449: the trace was not what the tool said
    assert not res.ok and "449" in res.reason
    assert not replay_check([ok[2]], "449", fake_calc).ok  # no tool call at all
    search = [s.model_dump() for s in search_run("c", CANBERRA, "Sydney").steps]
    assert replay_check(search, "Canberra", {}).ok  # search observations are taken as recorded


def test_export_confirmed_corrected_dedup_and_counts(store_url: str, tmp_path: Path) -> None:
    store = RunStore(store_url)
    store.save(calc_run("c1"), created_at=T0)
    store.save(calc_run("c2"), created_at=T0 + timedelta(minutes=1))  # same question + steps as c1
    store.save(search_run("s1", CANBERRA, "Sydney"), created_at=T0 + timedelta(minutes=2))
    store.save(search_run("s2", "Sydney is a big city.", "Sydney"), created_at=T0 + timedelta(minutes=3))
    store.save(calc_run("w1", expr="2 + 2", obs="4", answer="4"), created_at=T0 + timedelta(minutes=4))
    store.save(calc_run("u1", expr="3 * 3", obs="9", answer="9"), created_at=T0 + timedelta(minutes=5))
    store.add_feedback("c1", True)
    store.add_feedback("c2", True)
    store.add_feedback("s1", False, answer="Canberra", replayable=True)
    store.add_feedback("s2", False, answer="Canberra", replayable=False)
    store.add_feedback("w1", False, note="wrong")
    store.close()

    out, qa = tmp_path / "out" / "runs.jsonl", tmp_path / "qa.jsonl"
    counts = export_runs(store_url, out, qa_out=qa)
    assert counts == {"logged": 2, "written": 2, "duplicates": 1, "skipped": 0, "qa_pairs": 1}
    lines = read(out)
    assert [line["meta"]["run_id"] for line in lines] == ["c1", "s1"]
    calc, corrected = lines
    assert calc["source"] == "logged" and calc["prompt"] == render_prompt(calc["question"])
    assert len(calc["steps"]) == 1 and calc["meta"]["dropped_steps"] == 1  # the malformed step is gone
    assert calc["steps"][0]["log"] == " I need to compute it.\nAction: Calculator\nAction Input: 37 * 12 + 5"
    assert calc["final_log"] == "I now know the final answer\nFinal Answer: 449"
    assert corrected["final_answer"] == "Canberra" and corrected["meta"]["feedback"] == "corrected"
    text = "".join(s["log"] + observation_suffix(s["observation"]) for s in corrected["steps"])
    assert text.endswith("Observation: Canberra is the capital of Australia.\nThought: ")
    assert read(qa) == [
        {
            "id": "feedback-s2",
            "run_id": "s2",
            "question": CAPITAL_Q,
            "answer": "Canberra",
            "source": "feedback",
        }
    ]

    counts = export_runs(store_url, out, since=T0 + timedelta(minutes=1, seconds=30))
    assert counts["written"] == 1 and read(out)[0]["meta"]["run_id"] == "s1"

    counts = export_runs(store_url, out, only_confirmed=False)  # + the unreviewed answered run u1
    assert counts["written"] == 3 and counts["duplicates"] == 1
    assert {line["meta"]["run_id"] for line in read(out)} == {"c1", "s1", "u1"}


def test_missing_thought_gets_a_plain_one(store_url: str, tmp_path: Path) -> None:
    run = calc_run("t1")
    run.steps[1].thought = ""
    store = RunStore(store_url)
    store.save(run)
    store.add_feedback("t1", True)
    store.close()
    export_runs(store_url, tmp_path / "t.jsonl")
    step = read(tmp_path / "t.jsonl")[0]["steps"][0]
    assert step["log"] == " I should use Calculator.\nAction: Calculator\nAction Input: 37 * 12 + 5"


def test_parse_since() -> None:
    assert parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert abs(parse_since("7d") - (datetime.now(UTC) - timedelta(days=7))) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="since"):
        parse_since("last tuesday")


def test_export_command_cli(store_url: str, tmp_path: Path) -> None:
    import typer

    store = RunStore(store_url)
    store.save(calc_run("c1"))
    store.add_feedback("c1", True)
    store.close()
    app = typer.Typer()
    app.command("export")(export_command)
    out = tmp_path / "x.jsonl"
    args = ["--out", str(out), "--store-url", store_url]
    result = CliRunner().invoke(app, [*args, "--since", "1d", "--only-confirmed"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["written"] == 1 and len(read(out)) == 1
    bad = CliRunner().invoke(app, [*args, "--since", "someday"])
    assert bad.exit_code != 0


def wrong_turn_run(run_id: str) -> RunResult:
    """The logged failure: a population question answered with a density (search, search, divide)."""
    norway = "Norway: capital Oslo; population 5,156,450; area 323,802 km2; region Europe"
    steps = []
    for i, (tool, text, obs) in enumerate(
        [("Search", "population of Norway", norway), ("Search", "area of Norway", norway),
         ("Calculator", "round(5156450 / 323802)", "16")]
    ):  # fmt: skip
        step = Step(index=i, kind="tool", thought="I should look it up.", tool=tool, tool_input=text)
        step.observation, step.log = obs, f" I should look it up.\nAction: {tool}\nAction Input: {text}"
        steps.append(step)
    steps.append(Step(index=3, kind="final", thought="I now know the final answer", final_answer="16", log="x"))
    return RunResult(
        run_id=run_id, question="What is the population of Norway?", answer="The population of Norway is 16 people.",
        status="answered", steps=steps, backend="local", model="gemma-3-270m",
    )  # fmt: skip


def test_a_correction_found_before_a_wrong_turn_keeps_the_calls_up_to_it(store_url: str, tmp_path: Path) -> None:
    steps = [s.model_dump() for s in wrong_turn_run("n").steps]
    check = replay_check(steps, "The population of Norway is 5,156,450.")
    assert check.ok and check.keep == 1 and "later steps dropped" in check.reason
    assert not replay_check(steps, "5,200,000").ok  # in no observation (0.1 %)

    store = RunStore(store_url)
    store.save(wrong_turn_run("n1"), created_at=T0)
    store.add_feedback("n1", False, answer="The population of Norway is 5,156,450.", replayable=True)
    store.close()
    out = tmp_path / "runs.jsonl"
    assert export_runs(store_url, out)["written"] == 1
    (line,) = read(out)
    assert [s["tool_input"] for s in line["steps"]] == ["population of Norway"]
    assert line["final_answer"] == "The population of Norway is 5,156,450."
    assert line["meta"]["cut_steps"] == 2 and line["meta"]["dropped_steps"] == 0
    assert line["final_log"] == "I now know the final answer\nFinal Answer: The population of Norway is 5,156,450."
