"""The computation step: a question that asks for a difference or a sum is not answered by a division.

"What is the population gap between Tanzania and Kuwait?" → ``Calculator[47421786 / 3268431]`` →
"The population of Tanzania is about 14.5 times ..." holds only supported numbers, yet computes what was
not asked. When the question names a difference (gap, difference, how much/many more/less/larger/...,
take away, minus, subtract; 차이) or a sum (add up, sum, plus, combined, together, in total,
altogether; 합하면, 합치면, 합계, 더하면) and *every* Calculator call of the run only divides, the answer
is unsupported. One operator that is not a division (``a - b``, ``(a + b) / 2``, ``a * 15 / 100``) or
no Calculator call at all leaves the answer to the other rules.
Measured before it shipped: bench/results/grounding_operations.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.grounding.model import Observation
from agent.prompt import CALCULATOR_NAME

_COMPARATIVES = "more|fewer|less|larger|bigger|smaller|higher|lower|greater|longer|shorter|heavier|older|younger"
DIFFERENCE = re.compile(
    rf"\b(differences?|gap|how (much|many) ({_COMPARATIVES})|take away|minus|subtract\w*)\b|차이", re.I
)
SUM = re.compile(r"\b(add up|adding up|sum|plus|combined|together|in total|altogether)\b|합하|합치|합계|더하", re.I)
_OPERATOR = re.compile(r"\*\*|[-+*/%]")
_NUMBER_SIGN = re.compile(r"(^|[(,])\s*-")  # "-5" or "(-5": a sign, not a subtraction


# words of a question that asks for a computation, not for a stated value (rule G19b): an operation (DIFFERENCE,
# SUM), a rate or share, a span between two times or years, a conversion, a hypothetical or an amount earned
COMPUTATION = re.compile(
    r"\b(?:per|each|every|average|mean|percent\w*|ratio|times|twice|double|half|density|between|since|ago|passed|"
    r"elapsed|would|if|in all|money|earn\w*|make|made|takings|revenue|income|round trip|how many years|how long had|"
    r"in (?:seconds|minutes|hours|days|weeks|months|years|metres|meters|kilometres|kilometers|km|miles|feet|grams|"
    r"kilograms|kg|litres|liters|tonnes|pounds|dollars|euros))\b|[%+*/]",
    re.I,
)


def asks_computation(question: str) -> bool:
    """The question's words ask for a computation (an operation, a rate, a span, a conversion, a hypothetical):
    "How much would two adults pay?", "how many hours ... from 8:45 to 4:15", "cost per month". "What does a
    night in a private room cost?" asks for a stated price, which no product of two other prices is."""
    return bool(asked_operation(question) or COMPUTATION.search(question))


def only_divides(expression: str) -> bool:
    """True when the expression's only arithmetic operator is ``/`` (``round(a / b)`` included)."""
    ops = set(_OPERATOR.findall(_NUMBER_SIGN.sub(r"\1", expression)))
    return ops == {"/"}


def asked_operation(question: str) -> str | None:
    """'difference', 'sum' or None: the operation the question's own words name."""
    if DIFFERENCE.search(question):
        return "difference"
    if SUM.search(question):
        return "sum"
    return None


def operation_mismatch(question: str, observations: Sequence[Observation]) -> str | None:
    """The reason an answer computed the wrong operation, or None."""
    calls = [o.tool_input for o in observations if o.tool == CALCULATOR_NAME]
    if not calls or not all(only_divides(c) for c in calls):
        return None
    asked = asked_operation(question)
    if asked is None:
        return None
    return f"the question asks for a {asked}; the Calculator only divided ({calls[-1].strip()})"
