"""The count reading (rule G16, ``agent.grounding.documents.read_count``): the count a "how many X" question asks,
read from a document about the asked entity, or nothing."""

from __future__ import annotations

import pytest

from agent.grounding import Observation
from agent.grounding.documents import read_count

FARM = (
    "Hazelmere Farm: # Hazelmere Farm Hazelmere Farm keeps 410 sheep, 38 cows and 9 goats on 120 hectares. "
    "About 14 people work on the farm, and its shop sells about 200 eggs a day. In 2022 the farm planted 600 trees, "
    "up from 250 in 2019."
)
TOWER = "Quayside Tower: # Quayside Tower About 520 people live in Quayside Tower. It has 31 floors and 240 flats."
OTHER = "Hazel Farm Shop: # Hazel Farm Shop The Hazel Farm Shop keeps 70 goats."


def reading(question: str, *texts: str) -> str | None:
    found = read_count(question, [Observation(i, "Search", "q", t) for i, t in enumerate(texts)])
    return found.answer if found else None


def test_the_count_of_the_asked_thing_is_read_from_a_list_of_counts() -> None:
    assert reading("How many goats are kept at Hazelmere Farm?", FARM) == "Hazelmere Farm: 9 goats."
    assert reading("how many cows does hazelmere farm keep", FARM) == "Hazelmere Farm: 38 cows."
    assert reading("How many flats does Quayside Tower have?", TOWER) == "Quayside Tower: 240 flats."
    found = read_count("How many sheep does Hazelmere Farm keep?", [Observation(3, "Search", "q", FARM)])
    assert found is not None and (found.count, found.step) == ("410 sheep", 3)


def test_a_hedge_and_the_period_of_the_count_are_kept() -> None:
    assert (
        reading("How many eggs does the Hazelmere Farm shop sell a day?", FARM)
        == "Hazelmere Farm: about 200 eggs a day."
    )
    assert reading("How many eggs does Hazelmere Farm sell?", FARM) == "Hazelmere Farm: about 200 eggs a day."


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("How many pigs are kept at Hazelmere Farm?", "the asked thing is not counted"),
        ("How many people visit Hazelmere Farm?", "14 people work there: another verb"),
        ("How many people work in Quayside Tower?", "520 people live there"),
        ("How many eggs does Hazelmere Farm sell a week?", "a day's count, not a week's"),
        ("How many trees did Hazelmere Farm plant in 2019?", "the sentence also counts 250 with a bare number"),
        ("How many goats does Hazelmere Farm have per hectare?", "a rate"),
        ("How many goats does Brookside Farm keep?", "no document about Brookside Farm"),
        ("How many floors and flats does Quayside Tower have?", "two counted things"),
        ("What is the population of Quayside Tower?", "not a how-many question"),
    ],
)
def test_nothing_is_read_when_the_documents_do_not_count_what_was_asked(question: str, why: str) -> None:
    assert reading(question, FARM, TOWER) is None, why


def test_two_values_for_the_asked_count_read_nothing() -> None:
    twice = FARM + " Hazelmere Farm: # Hazelmere Farm news Hazelmere Farm now keeps 12 goats."
    assert reading("How many goats are kept at Hazelmere Farm?", twice) is None
    # a document about another entity is not read, even when it counts the asked thing
    assert reading("How many goats are kept at Hazelmere Farm?", FARM, OTHER) == "Hazelmere Farm: 9 goats."
