"""Is a final answer right? Numbers within a relative tolerance, strings without case or punctuation.

Used by the eval harness, the teacher filter and the gold-data tests, so "correct" means the
same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.numbers import DEFAULT_REL_TOL, as_number, normalize, number_matches, parse_numbers

# the number and word reading lives in agent.numbers (replay checking shares it); the names stay here
__all__ = ["DEFAULT_REL_TOL", "Gold", "as_number", "is_correct", "normalize", "number_matches", "parse_numbers"]

SHORT_ANSWER_WORDS = 40  # a gold string inside a longer answer counts only if the answer is short

Gold = str | int | float | Sequence[str | int | float]


def string_matches(predicted: str, gold: str) -> bool:
    """Equal after normalisation, or the gold (as whole words) inside a short answer."""
    p, g = normalize(predicted), normalize(gold)
    if not g:
        return False
    if p == g:
        return True
    return len(p.split()) <= SHORT_ANSWER_WORDS and f" {g} " in f" {p} "


def is_correct(predicted: str | None, gold: Gold, rel_tol: float | None = None) -> bool:
    """Score one final answer. A list gold means every item must be found in the answer."""
    if predicted is None or not str(predicted).strip():
        return False
    tol = DEFAULT_REL_TOL if rel_tol is None else rel_tol
    items = list(gold) if isinstance(gold, list | tuple) else [gold]
    if not items:
        return False
    for item in items:
        number = as_number(item)
        if number is not None:
            if not number_matches(str(predicted), number, tol):
                return False
        elif not string_matches(str(predicted), str(item)):
            return False
    return True
