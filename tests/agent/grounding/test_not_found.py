"""agent.grounding.not_found: the forms of 'not found' in English and Korean, and useless observations."""

from __future__ import annotations

import pytest

from agent.grounding import (
    is_not_found,
    is_useless_observation,
)
from agent.prompt import NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO, not_found_answer
from tests.agent.grounding.texts import JAPAN, NONE


@pytest.mark.parametrize(
    "text",
    [
        NOT_FOUND_ANSWER,
        NOT_FOUND_ANSWER_KO,
        "I could not find the population of Tokyo in the search results.",
        "I couldn't find that.",
        "I cannot determine the answer from these results.",
        "The answer was not found in the search results.",
        "There is no information about the president.",
        "The search results do not contain the answer.",
        "The GDP of Japan is unknown.",
        "Sorry, I don't know.",
        "도쿄의 인구를 찾지 못했습니다.",
        "정보가 없습니다.",
        "알 수 없습니다.",
    ],
)
def test_not_found_forms(text: str) -> None:
    assert is_not_found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Japan has no land borders with other countries.",
        "No, Canberra is not the largest city of Australia.",
        "The capital of Australia is Canberra.",
        "Mongolia does not have a coastline.",
        "한국은 북한과 국경을 접하고 있습니다.",
        "",
    ],
)
def test_not_not_found(text: str) -> None:
    assert not is_not_found(text)


def test_not_found_answer_matches_question_language() -> None:
    assert is_not_found(not_found_answer("도쿄의 인구는?")) and is_not_found(not_found_answer("Who?"))


@pytest.mark.parametrize(
    ("text", "useless"),
    [(NONE, True), ("[local knowledge base] " + NONE, True), ("Error: Calculator failed: x", True), ("", True),
     (JAPAN, False), ("449", False)],
)  # fmt: skip
def test_useless_observations(text: str, useless: bool) -> None:
    assert is_useless_observation(text) is useless
