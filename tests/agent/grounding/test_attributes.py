"""The attribute step of the check (``agent.grounding.attributes``, ``check(..., attributes=True)``)."""

from __future__ import annotations

import pytest

from agent.grounding import Observation, check
from agent.grounding.attributes import absent_attributes, forms, miscounted_numbers, related
from agent.grounding.records import field_asked
from agent.grounding.text import normalize

BAKERY = (
    "Harbor Street Bakery: # Harbor Street Bakery Harbor Street Bakery opened in 1998. The owner, Teresa Okafor, "
    "bakes about 350 loaves of bread every morning. A sourdough loaf costs 6 dollars and a croissant costs 3 dollars."
)
SOFTWARE = (
    "Tandem Software: # Tandem Software Tandem Software was founded in 2011 by Lars Brekke and Mira Haas. "
    "It has 260 employees in 3 offices. Revenue last year was 48 million dollars."
)
BIKES = "Velo bike share: # Velo bike share Velo has 75 stations and 900 bicycles across the city."
KESTREL = (
    "Kestrel K2 drone: # Kestrel K2 drone The Kestrel K2 flies for 31 minutes on one battery. It weighs 570 grams."
)
ESTONIA = "Estonia: capital Tallinn; population 1,315,819; area 45,227 km2; region Europe; demonym Estonian."


def _obs(*texts: str, query: str = "q") -> list[Observation]:
    return [Observation(i, "Search", query, t) for i, t in enumerate(texts)]


# (question, answer, observation, supported by the attribute step, supported without it)
CASES = [
    # an asked item or role no document holds: the answer repeats it with a neighbouring value
    ("How much does a cappuccino cost at Harbor Street Bakery?", "A cappuccino costs 6 dollars.", BAKERY, False, True),
    ("Who is the CEO of Tandem Software?", "The CEO of Tandem Software is Lars Brekke.", SOFTWARE, False, True),
    ("What was Tandem Software's profit last year?", "Its profit was 48 million dollars.", SOFTWARE, False, True),
    # a number counted as another thing than the document counts with it
    ("How many bicycles does Velo have?", "Velo has 75 bicycles.", BIKES, False, True),
    # the right answers to the same documents stay supported
    ("How much does a croissant cost at Harbor Street Bakery?", "A croissant costs 3 dollars.", BAKERY, True, True),
    ("What was Tandem Software's revenue last year?", "48 million dollars.", SOFTWARE, True, True),
    ("How many bicycles does Velo have?", "Velo has 900 bicycles.", BIKES, True, True),
    ("How many people work at Tandem Software?", "260 people work at Tandem Software.", SOFTWARE, True, True),
    # word forms (flies ~ fly), units in other spellings (grams ~ g), unit words of a conversion
    ("How long can the Kestrel K2 fly on one battery?", "It can fly for 31 minutes.", KESTREL, True, True),
    ("What does the Kestrel K2 weigh in grams?", "The Kestrel K2 weighs 570 g.", KESTREL, True, True),
    # computation words are no attribute; an answer that does not repeat the missing word is not read (a limit)
    ("Which is longer: Kestrel K2 flights or Velo rides?", "Kestrel K2 flights are longer.", KESTREL, True, True),
    ("How much does a cappuccino cost at Harbor Street Bakery?", "It costs 6 dollars.", BAKERY, True, True),
]


@pytest.mark.parametrize(("question", "answer", "text", "with_step", "without"), CASES)
def test_cases(question: str, answer: str, text: str, with_step: bool, without: bool) -> None:
    assert check(question, answer, _obs(text), documents=True).supported is without
    assert check(question, answer, _obs(text), documents=True, attributes=True).supported is with_step


def test_reasons_name_the_word_and_the_counted_thing() -> None:
    q = "How much does a cappuccino cost at Harbor Street Bakery?"
    assert absent_attributes(q, "A cappuccino costs 6 dollars.", _obs(BAKERY)) == [
        "cappuccino (asked and stated, but no document holds it)"
    ]
    assert miscounted_numbers("How many bicycles does Velo have?", "Velo has 75 bicycles.", _obs(BIKES)) == [
        "75 bicycles (the document's 75 counts stations)"
    ]
    g = check("How many bicycles does Velo have?", "Velo has 75 bicycles.", _obs(BIKES), True, attributes=True)
    assert g.unsupported == ["75 bicycles (the document's 75 counts stations)"]


def test_what_is_not_asked() -> None:
    # a computed answer (the Calculator's inputs are checked as numbers)
    obs = [*_obs(BAKERY), Observation(1, "Calculator", "6 * 4", "24")]
    q = "What do 4 cappuccinos cost at Harbor Street Bakery?"
    assert absent_attributes(q, "4 cappuccinos cost 24 dollars.", obs) == []
    # no proper name in the question, no prose (a country record), a not-found answer
    assert absent_attributes("How much does a cappuccino cost?", "A cappuccino costs 6 dollars.", _obs(BAKERY)) == []
    assert miscounted_numbers("How many people live in Estonia?", "1,315,819 people", _obs(ESTONIA)) == []
    nf = check(q, "I could not find the answer in the search results.", _obs(BAKERY), True, attributes=True)
    assert nf.supported and nf.not_found


def test_korean_one_syllable_field_word_inside_another_word() -> None:
    life = normalize("에스토니아의 기대 수명을 찾아 줘.")
    assert field_asked("population", life)  # 명 inside 수명: the check as it shipped
    assert not field_asked("population", life, strict=True)
    assert field_asked("population", normalize("에스토니아에는 몇 명이 살아요?"), strict=True)
    assert field_asked("population", normalize("에스토니아의 인구는?"), strict=True)
    q, a = "에스토니아의 기대 수명을 찾아 줘.", "에스토니아의 기대 수명은 1,315,819명입니다."
    record = _obs(ESTONIA, query="Estonia")  # a question in Hangul: the search query names the record
    assert check(q, a, record, documents=True).supported
    g = check(q, a, record, documents=True, attributes=True)
    assert not g.supported and g.unsupported == ["1,315,819"]
    assert check("에스토니아의 인구는?", "1,315,819명입니다.", record, True, attributes=True).supported


def test_word_relations() -> None:
    assert "fly" in forms("flies") and "carry" in forms("carried") and "station" in forms("stations")
    assert related("fee", "costs") and related("kilograms", "kg") and related("employees", "employs")
    assert not related("bicycles", "stations") and not related("kilograms", "grams")
