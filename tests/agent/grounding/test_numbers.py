"""agent.grounding.numbers and .text: the numbers an answer or an observation states, and the text
normalisation names are compared in."""

from __future__ import annotations

import pytest

from agent.grounding import (
    normalize,
    parse_numbers,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234,567", 1234567.0),
        ("3.5 million", 3.5e6),
        ("3.36e8", 3.36e8),
        ("2 x 10^6", 2e6),
        ("-5", -5.0),
        ("−5", -5.0),
        ("25%", 25.0),
        ("1.5bn", 1.5e9),
        ("3억 3600만", 3.36e8),
        ("2천만", 2e7),
    ],
)
def test_parse_numbers(text: str, value: float) -> None:
    nums = parse_numbers(text)
    assert len(nums) == 1 and nums[0].value == pytest.approx(value)


def test_numbers_inside_names_and_units_are_not_numbers() -> None:
    assert [n.value for n in parse_numbers("COVID-19 spread over 7 km2 in the 3rd week, 5 m away")] == [7.0, 5.0]


def test_normalize() -> None:
    assert normalize("Japan's  Brasília, D.C.!") == "japan brasilia d c"
