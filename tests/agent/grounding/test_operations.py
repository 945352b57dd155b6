"""The computation step (``agent.grounding.operations``): a difference or a sum asked, only divisions computed."""

from __future__ import annotations

import pytest

from agent.grounding import Observation, check
from agent.grounding.operations import asked_operation, only_divides, operation_mismatch
from tests.agent.grounding.texts import FRANCE, JAPAN


def run(*calls: tuple[str, str]) -> list[Observation]:
    """Search Japan, search France, then the given Calculator calls (expression, result)."""
    steps = [
        Observation(0, "Search", "population of Japan", JAPAN),
        Observation(1, "Search", "population of France", FRANCE),
    ]
    return steps + [Observation(i + 2, "Calculator", expr, result) for i, (expr, result) in enumerate(calls)]


@pytest.mark.parametrize(
    ("expression", "divides"),
    [("127080000 / 66078000", True), ("round(377930 / 640679, 2)", True), ("-5 / 2", True),
     ("127080000 - 66078000", False), ("(127080000 + 66078000) / 2", False), ("240 * 15 / 100", False),
     ("2 ** 10 / 4", False), ("127080000 + 66078000", False)],
)  # fmt: skip
def test_only_divides(expression, divides):
    assert only_divides(expression) is divides


@pytest.mark.parametrize(
    ("question", "operation"),
    [("What is the population gap between Japan and France?", "difference"),
     ("How much larger is the population of Japan than that of France?", "difference"),
     ("How many more people live in Japan than in France?", "difference"),
     ("subtract the area of France from the area of Japan", "difference"),
     ("How many inhabitants do Japan and France have in total?", "sum"),
     ("What is the combined area of Japan and France?", "sum"),
     ("일본과 프랑스 인구를 모두 합하면?", "sum"), ("일본과 프랑스의 인구 차이는?", "difference"),
     ("How many times more people live in Japan than in France?", None),
     ("What is the population density of Japan?", None), ("Is Japan or France larger?", None),
     ("일본의 인구는 몇 명이어야 합니까?", None)],
)  # fmt: skip
def test_the_operation_the_question_names(question, operation):
    assert asked_operation(question) == operation


def test_a_gap_answered_with_a_ratio_is_unsupported():
    question = "What is the population gap between Japan and France?"
    answer = "The population of Japan is about 1.923181 times the population of France."
    g = check(question, answer, run(("127080000 / 66078000", "1.923181")))
    assert not g.supported
    assert g.unsupported == ["the question asks for a difference; the Calculator only divided (127080000 / 66078000)"]
    assert check(question, answer, run(("127080000 / 66078000", "1.923181")), operations=False).supported


def test_a_total_answered_with_a_ratio_is_unsupported_and_the_right_sum_is_not():
    question = "How many inhabitants do Japan and France have in total?"
    ratio = check(question, "Japan has 1.923181 times ...", run(("127080000 / 66078000", "1.923181")))
    assert not ratio.supported and "asks for a sum" in ratio.unsupported[0]
    total = check(
        question, "Japan and France have 193,158,000 inhabitants.", run(("127080000 + 66078000", "193158000"))
    )
    assert total.supported and total.evidence == [0, 1, 2]


def test_a_ratio_asked_as_a_ratio_and_a_difference_with_a_subtraction_stay_supported():
    ratio_q = "How many times more people live in Japan than in France?"
    assert check(ratio_q, "About 1.923181 times as many.", run(("127080000 / 66078000", "1.923181"))).supported
    gap_q = "What is the population gap between Japan and France?"
    gap = run(("127080000 / 66078000", "1.923181"), ("127080000 - 66078000", "61002000"))
    assert check(gap_q, "The gap is 61,002,000 people.", gap).supported  # one division among them is fine
    assert operation_mismatch(gap_q, run()) is None  # no Calculator call: the other rules decide
