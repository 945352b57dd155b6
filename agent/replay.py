"""Replay checking of feedback: can a stored trace be replayed to a corrected answer?

A corrected answer makes a run a training example only when the trace's own tool calls support it:
the deterministic calls (the calculator) are re-run and must give the recorded observations, and an
observation must contain the corrected answer (``supports``). ``POST /runs/{id}/feedback`` records
the verdict; ``finetune.export`` builds the example (a ``Trajectory``) from the calls it keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.numbers import as_number, normalize, number_matches, parse_numbers
from agent.prompt import CALCULATOR_NAME
from agent.tools.calculator import evaluate, format_number

# A corrected number must match an observation within 0.1 %: "25.7 million" supports 25,687,041,
# but 450 does not support 449 (scoring's 1 % is for graded answers, too loose to trust a correction).
REPLAY_REL_TOL = 1e-3
Replayer = Callable[[str], str]


@dataclass
class ReplayResult:
    ok: bool
    reason: str
    keep: int = 0  # tool calls of the trace that the training example keeps (a prefix)


def default_replayers() -> dict[str, Replayer]:
    """Deterministic tools that can be re-run offline: the calculator (search results drift, so
    their recorded observations are taken as they are)."""
    return {CALCULATOR_NAME: lambda expr: format_number(evaluate(expr))}


def supports(observation: str, answer: str) -> bool:
    """The observation contains the answer: the same number (0.1 % tolerance), or the words.

    A sentence with numbers ("Canada's area is about 5.08 times Mexico's") is supported when every
    number in it is in the observation; a sentence without numbers only when all its words are.
    """
    number = as_number(answer.strip())
    if number is not None:
        return number_matches(observation, number, rel_tol=REPLAY_REL_TOL)
    numbers = parse_numbers(answer)
    if numbers:
        return all(number_matches(observation, n, rel_tol=REPLAY_REL_TOL) for n in numbers)
    target = normalize(answer)
    return bool(target) and f" {target} " in f" {normalize(observation)} "


def tool_steps(steps: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The steps that called a real tool (malformed steps and the final step left out)."""
    return [
        s for s in steps if s.get("kind") == "tool" and s.get("tool") and s.get("observation") is not None
    ]


def replay_check(
    steps: Iterable[Mapping[str, Any]], answer: str, replayers: Mapping[str, Replayer] | None = None
) -> ReplayResult:
    """Can the trace be replayed to ``answer``? Re-runs what is deterministic, checks the last observation."""
    calls = tool_steps(steps)
    if not answer or not answer.strip():
        return ReplayResult(False, "no corrected answer")
    if not calls:
        return ReplayResult(False, "the trace has no tool call to support the answer")
    tools = default_replayers() if replayers is None else replayers
    for step in calls:
        replay = tools.get(str(step["tool"]))
        if replay is None:
            continue
        try:
            fresh = str(replay(str(step["tool_input"])))
        except Exception as exc:  # a failing replay is a verdict, not a crash
            return ReplayResult(False, f"replaying {step['tool']}({step['tool_input']!r}) failed: {exc}")
        recorded = str(step["observation"])
        if " ".join(fresh.split()) != recorded and not supports(recorded, fresh):
            call = f"{step['tool']}({step['tool_input']!r})"
            return ReplayResult(False, f"replaying {call} gave {fresh!r}, the trace says {recorded!r}")
    if supports(str(calls[-1]["observation"]), answer):
        return ReplayResult(True, "the last observation supports the corrected answer", len(calls))
    # A wrong turn after the right observation (a population question answered with a density):
    # the example keeps the calls up to the first observation that holds the answer, then answers.
    for keep, step in enumerate(calls[:-1], start=1):
        if supports(str(step["observation"]), answer):
            return ReplayResult(
                True, f"observation {keep} of {len(calls)} supports the corrected answer; later steps dropped", keep
            )
    return ReplayResult(False, "no observation contains the corrected answer")
