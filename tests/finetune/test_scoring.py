"""Scoring table: numbers with tolerance and scale words, strings without case or punctuation."""

from __future__ import annotations

import pytest

from finetune.scoring import as_number, is_correct, normalize, parse_numbers


@pytest.mark.parametrize(
    ("predicted", "gold", "rel_tol", "expected"),
    [
        ("The population density of Japan is about 336 people per square kilometre.", 336, None, True),
        ("336.26", 336, None, True),
        ("about 340 people per km²", 336, None, False),
        ("340", 336, 0.02, True),
        ("The population of Japan is 127,080,000.", 127080000, None, True),
        ("127.08 million people", 127080000, None, True),
        ("roughly 127 million", 127080000, None, True),
        ("1.2 billion", "1,200,000,000", None, True),
        ("3.5m", 3500000, None, True),
        ("5 m", 5000000, None, False),
        ("2k", 2000, None, True),
        ("The answer is 449.", "449", None, True),
        ("The answer is 448.", 449, None, True),  # within 1 %
        ("The answer is 448.", 449, 1e-6, False),
        ("The difference is -1,250 square kilometres.", -1250, None, True),
        ("It is 15% of the total.", "15%", None, True),
        ("There are twelve months.", 12, None, True),
        ("0.5", 0.5, None, True),
        ("The capital of Japan is Tokyo.", "Tokyo", None, True),
        ("tokyo", "Tokyo", None, True),
        ("Tokyo!", "tokyo", None, True),
        ("The capital is Kyoto.", "Tokyo", None, False),
        ("Bogotá", "Bogota", None, True),
        ("Guinea-Bissau", "Guinea Bissau", None, True),
        ("Papua New Guinea", "Guinea", None, True),
        ("The currency of Japan is the Japanese yen.", "Japanese yen", None, True),
        ("The currency of Japan is the yen.", "Japanese yen", None, False),
        ("France borders Spain, Italy and Belgium.", ["Spain", "Italy", "Belgium"], None, True),
        ("France borders Spain and Italy.", ["Spain", "Italy", "Belgium"], None, False),
        ("Tokyo " + "word " * 60, "Tokyo", None, False),
        ("", "Tokyo", None, False),
        (None, 5, None, False),
        ("I don't know", 5, None, False),
    ],
)
def test_is_correct(predicted: str | None, gold: object, rel_tol: float | None, expected: bool) -> None:
    assert is_correct(predicted, gold, rel_tol) is expected  # type: ignore[arg-type]


def test_parse_numbers_and_helpers() -> None:
    assert parse_numbers("1,234.5 and 7 and 2.5 billion") == [1234.5, 7.0, 2.5e9]
    assert as_number("127,080,000") == 127080000.0
    assert as_number("Tokyo") is None
    assert as_number(True) is None
    assert normalize("  São  Tomé & Príncipe ") == "sao tome principe"
