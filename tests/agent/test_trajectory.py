"""One Trajectory: built from parts, from a run, parsed from a line; the text the loop builds."""

from __future__ import annotations

import pytest

from agent.prompt import FINAL_THOUGHT, build_scratchpad, render_prompt, step_log
from agent.trace import RunResult, Step
from agent.trajectory import Trajectory

QUESTION = "What is the population of Peru times 2?"
CALLS = [
    ("I need the population of Peru.", "Search", "population of Peru", "Peru: population 32,971,854."),
    ("Now I multiply it by 2.", "Calculator", "32971854 * 2", "65943708"),
]


def built() -> Trajectory:
    return Trajectory.build(question=QUESTION, calls=CALLS, final_answer="65,943,708", id="t1", source="gold")


def test_build_renders_logs_as_the_model_writes_them() -> None:
    t = built()
    assert t.prompt == render_prompt(QUESTION)
    assert [s.log for s in t.steps] == [
        " I need the population of Peru.\nAction: Search\nAction Input: population of Peru",
        "Now I multiply it by 2.\nAction: Calculator\nAction Input: 32971854 * 2",
    ]
    assert t.final_log == f"{FINAL_THOUGHT}\nFinal Answer: 65,943,708"
    assert Trajectory.build(question="q", calls=[], final_answer="x").final_log == f" {FINAL_THOUGHT}\nFinal Answer: x"


def test_the_text_is_what_the_loop_builds_and_the_spans_are_what_the_model_wrote() -> None:
    t = built()
    text, spans = t.example()
    pad = build_scratchpad((s.log, s.observation) for s in t.steps)
    assert text == render_prompt(QUESTION, scratchpad=pad) + t.final_log == t.training_text()
    written = [text[a:b] for a, b in spans]
    # the first log follows "Thought:" directly; later ones take back the scratchpad's trailing space
    assert written == [
        t.steps[0].log + "\nObservation:",
        " " + t.steps[1].log + "\nObservation:",
        " " + t.final_log,
    ]
    assert "Peru: population" not in "".join(written)  # observations are never supervised


def test_a_line_round_trips_and_a_lean_line_renders_the_same_text() -> None:
    t = built()
    assert Trajectory.parse(t.to_row()) == t
    steps = [{"thought": a, "tool": b, "tool_input": c, "observation": d} for a, b, c, d in CALLS]
    lean = {"question": QUESTION, "final_answer": "65,943,708", "steps": steps}
    assert Trajectory.parse(lean).training_text() == t.training_text()
    extra = Trajectory.parse({**t.to_row(), "answerable": False})
    assert extra.to_row()["answerable"] is False


@pytest.mark.parametrize(
    "record,reason",
    [
        ([], "expected a JSON object"),
        ({"steps": []}, "missing 'question'"),
        ({"question": "q", "steps": "x"}, "'steps' must be a list"),
        ({"question": "q", "steps": [{"observation": "x"}], "final_answer": "a"}, "step 0: needs 'log'"),
        ({"question": "q", "steps": [{"log": " x"}], "final_answer": "a"}, "step 0: missing 'observation'"),
        ({"question": "q", "steps": []}, "missing 'final_log'"),
    ],
)
def test_unusable_lines_say_why(record: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Trajectory.parse(record)


def test_from_run_takes_the_tool_steps_and_the_answer() -> None:
    log = step_log(*CALLS[0][:3], first=True)
    steps = [
        Step(index=0, kind="format_error", log=" gibberish", observation="Invalid Format"),
        Step(index=1, kind="tool", thought=CALLS[0][0], tool="Search", tool_input=CALLS[0][2],
             observation=CALLS[0][3], log=log),  # fmt: skip
        Step(index=2, kind="final", thought="I know it now", final_answer="32,971,854"),
    ]
    question = "How many people live in Peru?"
    run = RunResult(run_id="r1", question=question, answer=" 32,971,854 ", status="answered",
                    steps=steps, backend="local", model="m", prompt=render_prompt(question))  # fmt: skip
    t = Trajectory.from_run(run, id="teacher-1", source="teacher")
    assert [(s.tool, s.observation) for s in t.steps] == [("Search", CALLS[0][3])]
    assert t.final_answer == "32,971,854" and t.final_log == "I know it now\nFinal Answer: 32,971,854"
    assert (t.id, t.source, t.prompt) == ("teacher-1", "teacher", run.prompt)
