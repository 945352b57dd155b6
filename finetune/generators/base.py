"""What every generator family shares: the live tools, a trajectory under construction (``Draft``),
a row built from it, the not-found ending, held-out surface forms, and a seeded random source per
(generator, split).

A row is the trajectory format of ``finetune.data`` (``id, question, prompt, steps, final_answer,
final_log, source, answer, kind, meta``) plus ``answerable`` (False: the observations do not hold
the answer, the final answer is ``agent.prompt.not_found_answer``), so any family's output trains,
replays and turns into an eval question the same way. Every observation comes from the live Search
(local index) and Calculator through ``agent.loop.format_observation``: a trajectory is byte for byte
what the live loop would have produced had the model written it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.tools import BaseTool

from agent.knowledge import ensure_default_index
from agent.loop import format_observation
from agent.prompt import CALCULATOR_NAME, FINAL_THOUGHT, NOT_FOUND_THOUGHT, SEARCH_NAME, not_found_answer
from agent.tools import build_tools
from agent.trajectory import ToolCall, Trajectory
from finetune.scoring import is_correct

TRAIN, DEV, TEST = "train", "dev", "test"
GOLD_MAX_RESULTS = 1  # search results per observation in gold data: short prompts, the right hit first
OBSERVATION_MAX_CHARS = 1200  # same as the live default (settings.observation_max_chars)
Built = tuple[str, Any, float | None]  # final answer text, gold answer, rel_tol


class Rejected(Exception):
    """The draw does not make a clean trajectory (tools returned something the template cannot use)."""


# ---------------------------------------------------------------------------------------------
# The live tools and a trajectory under construction
# ---------------------------------------------------------------------------------------------
class ToolRunner:
    """Calls the real tools the way ReActAgent does and formats observations with the loop's function."""

    def __init__(self, tools: Sequence[BaseTool], observation_max_chars: int = OBSERVATION_MAX_CHARS) -> None:
        self.tools = {t.name: t for t in tools}
        self.observation_max_chars = observation_max_chars

    def __call__(self, name: str, tool_input: str) -> str:
        tool = self.tools[name]
        call = getattr(tool, "run_with_source", None)
        raw = call(tool_input)[0] if call is not None else tool.invoke(tool_input)
        return format_observation(str(raw), self.observation_max_chars)


def default_tools(cache_dir: Path | None = None, max_results: int = GOLD_MAX_RESULTS) -> list[BaseTool]:
    """Local Search over the built-in knowledge index + Calculator (no network)."""
    index = ensure_default_index(cache_dir)
    return build_tools(search="local", index_path=index, max_results=max_results)


# ---------------------------------------------------------------------------------------------
# Numbers as they appear in observations
# ---------------------------------------------------------------------------------------------
_NUM_IN_TEXT = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.,])\d+(?:\.\d+)?")


def find_number(observation: str, value: float) -> str | None:
    """The text of ``value`` as written in the observation ("127,080,000"), or None if absent."""
    for m in _NUM_IN_TEXT.finditer(observation):
        try:
            if abs(float(m.group(0).replace(",", "")) - value) < 0.5:
                return m.group(0)
        except ValueError:
            continue
    return None


def plain(number_text: str) -> str:
    """A number as Calculator input: no thousands separators."""
    return number_text.replace(",", "")


SkipQuestion = Rejected  # the gold generator's name: the tools did not return what the template needs


@dataclass
class Draft:
    """A trajectory under construction: tool steps run for real, then the final answer."""

    run: ToolRunner
    steps: list[dict[str, str]] = field(default_factory=list)

    def act(self, thought: str, tool: str, tool_input: str) -> str:
        observation = self.run(tool, tool_input)
        self.steps.append({"thought": thought, "tool": tool, "tool_input": tool_input, "observation": observation})
        return observation

    def calls(self) -> list[ToolCall]:
        """The steps as ``Trajectory.build`` takes them: (thought, tool, tool_input, observation)."""
        return [(s["thought"], s["tool"], s["tool_input"], s["observation"]) for s in self.steps]

    def search_number(self, thought: str, query: str, value: float, title: str) -> str:
        observation = self.act(thought, SEARCH_NAME, query)
        if not observation.startswith(f"{title}:"):
            raise SkipQuestion(f"{query!r}: the first result is not {title}: {observation[:80]!r}")
        text = find_number(observation, value)
        if text is None:
            raise SkipQuestion(f"{query!r}: {value} not in observation {observation[:120]!r}")
        return text

    def search_text(self, thought: str, query: str, needles: Sequence[str], title: str) -> str:
        observation = self.act(thought, SEARCH_NAME, query)
        if not observation.startswith(f"{title}:"):
            raise SkipQuestion(f"{query!r}: the first result is not {title}: {observation[:80]!r}")
        low = observation.lower()
        missing = [n for n in needles if n.lower() not in low]
        if missing:
            raise SkipQuestion(f"{query!r}: {missing} not in observation {observation[:120]!r}")
        return observation

    def calculate(self, thought: str, expression: str) -> str:
        observation = self.act(thought, CALCULATOR_NAME, expression)
        if observation.startswith("Error"):
            raise SkipQuestion(f"calculator: {expression!r} -> {observation!r}")
        return observation


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------
def rng_for(generator: str, split: str, seed: int) -> random.Random:
    """One independent random stream per generator and split: adding a family changes no other."""
    return random.Random(f"{generator}-{split}-{seed}")


T = TypeVar("T")


def forms_for(forms: Sequence[T], split: str, heldout: int = 1) -> list[T]:
    """Surface forms a split may use: train never sees the last ``heldout`` forms; eval sees only them
    when asked for the held-out share (``split='heldout'``), else all of them."""
    if split == TRAIN:
        return list(forms[: len(forms) - heldout])
    if split == "heldout":
        return list(forms[len(forms) - heldout :])
    return list(forms)


@dataclass
class Ending:
    """How a trajectory ends: the final answer, the gold answer it must score as, and its tolerance."""

    answer: str
    gold: Any
    rel_tol: float | None = None
    answerable: bool = True


def not_found(question: str) -> Ending:
    return Ending(not_found_answer(question), None, None, answerable=False)


def build_row(
    *,
    question: str,
    draft: Draft,
    ending: Ending,
    kind: str,
    generator: str,
    template: str,
    split: str,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A trajectory row; raises ``Rejected`` when an answerable ending does not score against its gold."""
    if ending.answerable and not is_correct(ending.answer, ending.gold, ending.rel_tol):
        raise Rejected(f"final {ending.answer!r} does not score against {ending.gold!r}")
    extras: dict[str, Any] = {"answerable": ending.answerable}
    if ending.rel_tol is not None:
        extras["rel_tol"] = ending.rel_tol
    return Trajectory.build(
        question=question,
        calls=draft.calls(),
        final_answer=ending.answer,
        final_thought=FINAL_THOUGHT if ending.answerable else NOT_FOUND_THOUGHT,
        source="gold",
        answer=ending.gold,
        kind=kind,
        meta={"split": split, "generator": generator, "template": template, **(meta or {})},
        **extras,
    ).to_row()


def eval_line(row: dict[str, Any]) -> dict[str, Any]:
    """The eval-harness question line of a row (``answerable`` false rows have no gold answer)."""
    q: dict[str, Any] = {"id": row["id"], "question": row["question"], "answer": row["answer"], "kind": row["kind"]}
    if "rel_tol" in row:
        q["rel_tol"] = row["rel_tol"]
    q["answerable"] = row.get("answerable", True)
    q["generator"] = row["meta"].get("generator", "gold")
    q["template"] = row["meta"].get("template", "")
    if row["meta"].get("corpus"):
        q["corpus"] = row["meta"]["corpus"]
    return q
