"""What every generator family shares: a row built from a tool-run Draft, the not-found ending,
held-out surface forms, and a seeded random source per (generator, split).

A row is the trajectory format of ``finetune.data`` (``id, question, prompt, steps, final_answer,
final_log, source, answer, kind, meta``) plus ``answerable`` (False: the observations do not hold
the answer, the final answer is ``agent.prompt.not_found_answer``), so any family's output trains,
replays and turns into an eval question the same way.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.prompt import FINAL_THOUGHT, NOT_FOUND_THOUGHT, final_log, not_found_answer, render_prompt
from finetune.gold import Draft
from finetune.scoring import is_correct

TRAIN, DEV, TEST = "train", "dev", "test"


class Rejected(Exception):
    """The draw does not make a clean trajectory (tools returned something the template cannot use)."""


def rng_for(generator: str, split: str, seed: int) -> random.Random:
    """One independent random stream per generator and split: adding a family changes no other."""
    return random.Random(f"{generator}-{split}-{seed}")


def forms_for(forms: Sequence[str], split: str, heldout: int = 1) -> list[str]:
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
    thought = FINAL_THOUGHT if ending.answerable else NOT_FOUND_THOUGHT
    row: dict[str, Any] = {
        "id": "",
        "question": question,
        "prompt": render_prompt(question),
        "steps": draft.steps,
        "final_answer": ending.answer,
        "final_log": final_log(thought, ending.answer, first=not draft.steps),
        "source": "gold",
        "answer": ending.gold,
        "answerable": ending.answerable,
        "kind": kind,
        "meta": {"split": split, "generator": generator, "template": template, **(meta or {})},
    }
    if ending.rel_tol is not None:
        row["rel_tol"] = ending.rel_tol
    return row


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
