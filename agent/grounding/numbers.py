"""Numbers of an answer or an observation, with the precision they are shown at.

Thousands separators, decimals, ``3.36e8``, ``million``/``billion``, Korean 만/억/조, percent,
negative numbers, years; "336" covers 336.26, "about 130 million" covers 127,080,000.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

HEDGE_REL_TOL = 0.02  # "about 130" covers 127.5-132.6: a hedged number may be rounded a little more

_LATIN_SCALES = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "mn": 1e6, "m": 1e6,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "trillions": 1e12,
}  # fmt: skip
_KO_BIG = {"만": 1e4, "억": 1e8, "조": 1e12}
_KO_SMALL = {"십": 10.0, "백": 100.0, "천": 1000.0}
_NUMBER_RE = re.compile(
    r"(?<![\w.,\-−])(?P<sign>[-−–])?(?P<mant>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exp>[-+]?\d{1,3})(?![\w])|\s*[x×]\s*10\s*\^\s*(?P<exp2>[-+]?\d{1,3}))?"
    r"(?:(?P<sp>\s*)(?P<scale>thousand|millions?|mn|billions?|bn|trillions?|k|m|b)(?![a-z])"
    r"|\s*(?P<ko>[십백천]?[만억조]|[십백천]))?"
    r"(?P<pct>\s*(?:%|per\s?cent\b|percent\b|퍼센트|프로))?",
    re.IGNORECASE,
)
_ORDINAL_AFTER = re.compile(r"(?:st|nd|rd|th)\b", re.IGNORECASE)
_HEDGE_BEFORE = re.compile(
    r"(?:about|approximately|approx\.?|around|roughly|nearly|almost|some|over|under|more\s+than|"
    r"less\s+than|close\s+to|circa|ca\.|~|≈|약|대략)\s*$",
    re.IGNORECASE,
)
_HEDGE_AFTER = re.compile(r"^\s*(?:정도|가량|여)")


@dataclass(frozen=True)
class NumberClaim:
    span: str
    start: int
    value: float
    unit: float  # the place value of the last digit shown (336 -> 1, 336 million -> 1e6, 3.36e8 -> 1e6)
    hedged: bool = False
    percent: bool = False
    scale: float = 1.0  # the word scale applied (480 million -> 1e6)

    def matches(self, v: float) -> bool:
        """An evidence value the shown number stands for (rounded or truncated to its precision)."""
        targets = [self.value] + ([self.value / 100] if self.percent else [])
        for target in targets:
            unit = self.unit / 100 if target is not self.value else self.unit
            tol = 0.5 * unit + 1e-9 * max(abs(target), 1.0)
            if self.hedged:
                tol = max(tol, HEDGE_REL_TOL * abs(target))
            if abs(v - target) <= tol:
                return True
            # truncated rather than rounded: 336.26 shown as 336.2
            if (v >= 0) == (target >= 0) and 0 <= abs(v) - abs(target) < unit:
                return True
        return False


def parse_numbers(text: str) -> list[NumberClaim]:
    """Every number in the text with its value and shown precision."""
    found: list[NumberClaim] = []
    for m in _NUMBER_RE.finditer(text):
        mant = m.group("mant").replace(",", "")
        scale_word = (m.group("scale") or "").lower()
        if not m.group("scale") and not m.group("ko") and not m.group("pct") and not m.group("exp"):
            if _ORDINAL_AFTER.match(text, m.end("mant")):
                continue
        if scale_word and len(scale_word) == 1 and m.group("sp"):
            # a single letter counts only right after the digits ("3.5m"), not "5 m" (metres)
            scale_word = ""
        decimals = len(mant.split(".")[1]) if "." in mant else 0
        value = float(mant)
        unit = 10.0**-decimals
        exp = m.group("exp") or m.group("exp2")
        end = m.end("pct") if m.group("pct") else m.end()
        hedged = bool(_HEDGE_BEFORE.search(text[max(0, m.start() - 14) : m.start()])) or bool(
            _HEDGE_AFTER.match(text[end : end + 4])
        )
        if decimals == 0 and (hedged or scale_word or m.group("ko")):
            # "about 340" / "340 million" may be 336 rounded (two significant digits kept);
            # a bare 120 is exact, and 1000 is not 1234
            digits = mant.lstrip("0") or "0"
            zeros = len(digits) - len(digits.rstrip("0"))
            if zeros and len(digits) - zeros >= 2:
                unit = 10.0**zeros
        scale = 1.0
        if exp:
            scale = 10.0 ** int(exp)
        elif scale_word:
            scale = _LATIN_SCALES[scale_word]
        elif m.group("ko"):
            ko = m.group("ko")
            scale = math.prod(_KO_SMALL.get(c, 1.0) * _KO_BIG.get(c, 1.0) for c in ko)
        sign = -1.0 if m.group("sign") else 1.0
        span = text[m.start() : end].strip()
        word_scale = scale if scale_word else 1.0
        found.append(
            NumberClaim(span, m.start(), sign * value * scale, unit * scale, hedged, bool(m.group("pct")), word_scale)
        )
    return _merge_korean(text, found)


def _merge_korean(text: str, claims: list[NumberClaim]) -> list[NumberClaim]:
    """Korean compound numbers are one number: 3억 3600만 is 336,000,000, not two."""
    out: list[NumberClaim] = []
    for c in claims:
        prev = out[-1] if out else None
        if (
            prev is not None
            and any(ch in prev.span for ch in _KO_BIG)
            and any(ch in c.span for ch in "만억조천백십")
            and not text[prev.start + len(prev.span) : c.start].strip()
            and prev.unit > abs(c.value)
        ):
            out[-1] = NumberClaim(
                text[prev.start : c.start + len(c.span)],
                prev.start,
                prev.value + c.value,
                c.unit,
                prev.hedged or c.hedged,
            )
            continue
        out.append(c)
    return out


def evidence_values(text: str) -> list[float]:
    """Evidence numbers (scales applied) and the forms a computation uses them in.

    A percent also stands as its fraction and as the factors it adds or takes off (10 % tax: x 1.1;
    25 % off: x 0.75); a number with a scale word also stands as written ("revenue of 480 million
    dollars" is the 480 of ``abs(480 - 350)``, a sum counted in millions)."""
    vals: list[float] = []
    for c in parse_numbers(text):
        vals.append(c.value)
        if c.percent:
            vals += [c.value / 100, 1 + c.value / 100, 1 - c.value / 100]
        if c.scale != 1.0:
            vals.append(c.value / c.scale)
    return vals


# Numbers a Calculator input may hold without evidence: units and conversions (x / y * 100).
def is_constant(v: float) -> bool:
    a = abs(v)
    if a <= 12 and float(a).is_integer():
        return True
    if a in (0.5, 0.25, 24, 60, 365, 366, 3.14, 3.1416, 3.14159):
        return True
    return a >= 10 and math.isclose(math.log10(a), round(math.log10(a)), abs_tol=1e-12)
