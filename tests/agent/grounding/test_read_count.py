"""The count reading (rule G16, ``agent.grounding.documents.read_count``): the count a "how many X" question asks,
read from a document about the asked entity, or nothing."""

from __future__ import annotations

import pytest

from agent.grounding import Observation
from agent.grounding.documents import read_count, read_person

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
    assert found is not None and (found.text, found.step) == ("410 sheep", 3)


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


# ---------------------------------------------------------------- the role reading (rule G17b, read_person)
HALL = (
    "Brindle Hall: # Brindle Hall Brindle Hall opened in 1952 and was rebuilt in 2004. The resident band is the "
    "Brindle Players, conducted by Odile Marchetti since 2017. The hall was founded by Henrik Dahl; its manager is "
    "Dr. Ama Boateng. It is owned by Westmoor Council, and its caretaker is Piet Claes."
)


def person(question: str, *texts: str) -> str | None:
    found = read_person(question, [Observation(i, "Search", "q", t) for i, t in enumerate(texts)])
    return found.answer if found else None


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Who manages Brindle Hall?", "Brindle Hall: Ama Boateng."),  # manages ~ manager; the title "Dr." dropped
        ("who owns brindle hall", "Brindle Hall: Westmoor Council."),  # owns ~ owned, the clause before ", and"
        ("Brindle Hall's caretaker?", "Brindle Hall: Piet Claes."),  # a terse role question
        ("Who founded Brindle Hall?", "Brindle Hall: Henrik Dahl."),
    ],
)
def test_the_one_name_beside_the_asked_role_is_read(question: str, answer: str) -> None:
    assert person(question, HALL) == answer


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("Who is the treasurer of Brindle Hall?", "no treasurer is named"),
        ("Who runs Brindle Hall?", "'runs' is stated by no form of itself (manager is a synonym, not a form)"),
        ("Who rebuilt Brindle Hall?", "no name within four words of 'rebuilt'"),
        ("What is the capacity of Brindle Hall?", "not a who question, no role word"),
        ("Who founded Elm Hall?", "no document about Elm Hall"),
    ],
)
def test_no_name_is_read_for_a_role_the_documents_do_not_name(question: str, why: str) -> None:
    assert person(question, HALL) is None, why


def test_two_names_for_the_role_in_two_clauses_read_nothing() -> None:
    both = "Fenwick Mill: # Fenwick Mill Fenwick Mill is owned by Ada Kerr and Tom Bell, and its miller is Jo Hart."
    assert (
        person("Who owns Fenwick Mill?", both) == "Fenwick Mill: Ada Kerr and Tom Bell."
    )  # one name claim, as written
    split = "Fenwick Mill: # Fenwick Mill Fenwick Mill is owned by Ada Kerr; it is also owned by Tom Bell's trust."
    assert person("Who owns Fenwick Mill?", split) is None  # two clauses, two names


def test_a_number_of_question_is_a_count_question_rule_g16e() -> None:
    from agent.grounding.documents import counted_words

    assert counted_words("number of goats at Hazelmere Farm?") == ["goats"]
    assert counted_words("What is the total number of cows at Hazelmere Farm?") == ["cows"]
    assert counted_words("What is the phone number of Hazelmere Farm?") == []  # a phone number counts nothing
    assert reading("number of goats at Hazelmere Farm?", FARM) == "Hazelmere Farm: 9 goats."
