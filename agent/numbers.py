"""Numbers and words in answers and observations: "3.5 million" is 3500000, "São Paulo" is "sao paulo".

The reading both sides share: ``finetune.scoring`` (is an answer right?) and ``agent.replay`` (does a
trace support a corrected answer?).
"""

from __future__ import annotations

import math
import re
import unicodedata

DEFAULT_REL_TOL = 0.01  # 1 %: a density of 336 vs 336.26 is right, 340 is not

_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "trillions": 1e12,
}
_WORD_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}  # fmt: skip
# A number: optional sign, digits with optional thousands separators (comma, thin/normal space
# not included: "1 000" is too ambiguous in prose), optional decimals, optional scale word.
_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<sign>[-−])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s*(?P<scale>thousand|millions?|mn|billions?|bn|trillions?|k|m|b)\b)?",
    re.IGNORECASE,
)
_WORD_NUMBER_RE = re.compile(r"\b(" + "|".join(_WORD_NUMBERS) + r")\b", re.IGNORECASE)
_FULL_NUMBER_RE = re.compile(r"^\s*" + _NUMBER_RE.pattern + r"\s*%?\s*$", re.IGNORECASE)


def parse_numbers(text: str) -> list[float]:
    """Every number in the text, scale words applied: "3.5 million" → 3500000.0, "1,234" → 1234.0."""
    values: list[float] = []
    for m in _NUMBER_RE.finditer(text):
        value = float(m.group("num").replace(",", ""))
        scale = m.group("scale")
        if scale:
            word = scale.lower()
            # single letters only count directly after the digits ("3.5m", "2k"), not "5 m" (metres)
            if len(word) > 1 or m.group(0)[len(m.group(0)) - len(scale) - 1].isdigit():
                value *= _SCALES[word]
        if m.group("sign"):
            value = -value
        values.append(value)
    values.extend(float(_WORD_NUMBERS[w.lower()]) for w in _WORD_NUMBER_RE.findall(text))
    return values


def as_number(gold: object) -> float | None:
    """The gold answer as a number when it is one (an int/float, or a string that is only a number)."""
    if isinstance(gold, bool):
        return None
    if isinstance(gold, int | float):
        return float(gold)
    if isinstance(gold, str) and _FULL_NUMBER_RE.match(gold):
        values = parse_numbers(gold)
        return values[0] if len(values) == 1 else None
    return None


def normalize(text: str) -> str:
    """Lower case, accents and punctuation removed, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]|_", " ", plain.lower()).split())


def number_matches(predicted: str, gold: float, rel_tol: float = DEFAULT_REL_TOL) -> bool:
    """Any number in the prediction within rel_tol of the gold number."""
    return any(math.isclose(v, gold, rel_tol=rel_tol, abs_tol=1e-9) for v in parse_numbers(predicted))
