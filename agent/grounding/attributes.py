"""The attribute step of the check: does the evidence hold the attribute the answer states, and the value's own?

Two ways an answer states a neighbouring fact of a found document, each a reason the answer is unsupported:

1. **an asked attribute no document holds**: a content word of the question outside its entity name, which
   the answer repeats, occurs in no prose observation of the run (as written, as a word form, through
   ``documents.SYNONYMS``). "How much does a cappuccino cost at Harbor Street Bakery?" -> "A cappuccino costs
   6 dollars." over a document that sells sourdough and croissants only; "Who is the CEO of Tandem Software?"
   -> "The CEO of Tandem Software is Lars Brekke." over a document that names its founders. Words that name
   a computation (average, total, more, longer ...), numbers in words and units (an answer may convert) are
   not attributes.
2. **a value counted as another thing**: a number of the answer followed by a noun ("75 bicycles") that every
   prose sentence holding that number follows by an unrelated noun ("75 stations and 900 bicycles").

Only prose is read (country records are read field by field by ``records``), only questions with a proper
name in Latin script, written or spelled by a document as the document step finds it (``documents.run_entities``),
and a number that a Calculator result holds is not asked about
(its inputs are checked as numbers). For Korean questions over country records the same idea is the record
step's: a field word of one syllable (명 of 몇 명) asks for its field only where a word starts with it, so
"기대 수명" (life expectancy) does not ask for the population (``records.field_asked(strict=True)``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.grounding.documents import SYNONYMS, attribute_words, run_entities
from agent.grounding.model import Observation
from agent.grounding.not_found import is_useless_observation
from agent.grounding.numbers import NumberClaim, evidence_values, parse_numbers
from agent.grounding.records import split_records
from agent.grounding.text import normalize, strip_prefix
from agent.prompt import CALCULATOR_NAME

# Words that name a computation or a comparison, not an attribute a document states
_OPERATION_WORDS = frozenset(
    """average mean median sum total totals difference differences ratio percentage percent proportion share
    combined together altogether more less fewer most least than plus minus times twice half double triple
    longer shorter larger smaller bigger higher lower greater heavier lighter older younger cheaper faster
    slower wider deeper taller earlier later counting count add added adding up instead""".split()
)
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve dozen hundred thousand".split()
)
# Units and their other spellings: the same unit is no other thing; a unit is no attribute (answers convert)
_UNIT_GROUPS = (
    ("kilograms", "kilogram", "kg", "kgs", "kilos"),
    ("grams", "gram", "g"),
    ("kilometres", "kilometre", "kilometers", "kilometer", "km"),
    ("metres", "metre", "meters", "meter", "m"),
    ("centimetres", "centimetre", "centimeters", "centimeter", "cm"),
    ("millimetres", "millimetre", "millimeters", "millimeter", "mm"),
    ("miles", "mile", "mi"),
    ("hours", "hour", "h", "hrs", "hr"),
    ("minutes", "minute", "min", "mins"),
    ("seconds", "second", "sec", "secs", "s"),
    ("litres", "litre", "liters", "liter", "l"),
    ("dollars", "dollar", "usd"),
    ("cents", "cent"),
    ("euros", "euro", "eur"),
    ("hectares", "hectare", "ha"),
    ("inches", "inch", "in"),
)
_UNITS = {w: group for group in _UNIT_GROUPS for w in group}
# More question words and the evidence words that state the same attribute (beside ``documents.SYNONYMS``,
# which the document step reads as it shipped): prices are paid, fees charged, events run or held
_MORE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "fee": ("cost", "costs", "price", "charge", "charges", "charged", "fine", "pay", "dollars", "cents"),
    "fees": ("cost", "costs", "price", "charge", "charges", "charged", "fine", "pay", "dollars", "cents"),
    "pay": ("cost", "costs", "price", "priced", "fare", "ticket", "fee", "charge", "entry", "dollars"),
    "charge": ("cost", "costs", "price", "fee", "pay", "dollars"),
    "run": ("held", "runs", "organised", "organized", "takes", "place"),
    "sea": ("elevation", "altitude", "sits", "above"),  # "above sea level" is the elevation
    "level": ("elevation", "altitude", "sits", "above"),
}
# Words right after a number that count nothing
_NOT_COUNTED = frozenset(
    "a an the of in on at to for and or is are was were per each every its it this that than with by from as "
    "about more less fewer times above below over under into onto across along around near after before since "
    "until ago away up down out off".split()
)
_WORD_AFTER = re.compile(r"\s+([A-Za-z][A-Za-z'’\-]*)")


def forms(word: str) -> set[str]:
    """A word's inflected neighbours: flies ~ fly, carried ~ carry, stations ~ station, holds ~ held."""
    out = {word, word + "s", word + "es"}
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
                         ("ing", "e"), ("y", "ies"), ("y", "ied")):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            out.add(word[: len(word) - len(suffix)] + repl)
    return out


def related(a: str, b: str) -> bool:
    """Do two normalised words name the same thing (a form, a shared 5-letter stem, a synonym, the same unit)?"""
    if a in _UNITS and b in _UNITS:
        return _UNITS[a] is _UNITS[b]
    targets = {a, *_synonyms(a)}
    for s in list(targets):
        targets.update(_synonyms(s))
    b_forms = forms(b)
    for t in targets:
        if t in b_forms or b in forms(t) or (len(t) >= 5 and len(b) >= 5 and t[:5] == b[:5]):
            return True
    return any(a in _synonyms(f) for f in b_forms)


def _synonyms(word: str) -> tuple[str, ...]:
    return SYNONYMS.get(word, ()) + _MORE_SYNONYMS.get(word, ())


def _prose(observations: Sequence[Observation]) -> list[str]:
    """The prose of the run's useful search observations (country records and Calculator results left out)."""
    texts = []
    for obs in observations:
        if obs.tool == CALCULATOR_NAME or is_useless_observation(obs.text):
            continue
        prose = " ".join(seg.raw for seg in split_records(obs.index, strip_prefix(obs.text)) if seg.title is None)
        if prose.strip():
            texts.append(prose)
    return texts


def _asked_words(question: str, entities: Sequence[str]) -> list[str]:
    """Content words of the question outside its entity name ("CEO" of "the CEO of Tandem Software" is asked)."""
    heads = {w for e in entities if " of " in e for w in e.split(" of ", 1)[0].split()}
    inside = [e for e in entities if " of " not in e or e.split(" of ", 1)[1] in entities]
    words = attribute_words(question, inside) + [w for w in heads if w not in attribute_words(question, inside)]
    return [w for w in dict.fromkeys(words) if w not in _OPERATION_WORDS and w not in _NUMBER_WORDS
            and w not in _UNITS and not any(c.isdigit() for c in w)]  # fmt: skip


def absent_attributes(question: str, answer: str, observations: Sequence[Observation]) -> list[str]:
    """Reasons, one per word the question asks about and the answer states that no prose observation holds.

    Nothing is asked of an answer a Calculator result supports (it states a computed quantity in the question's
    words: "the book can be kept for 63 days")."""
    entities = run_entities(question, observations)
    if not entities or _computed(answer, observations):
        return []
    prose = _prose(observations)
    if not prose:
        return []
    held = set(normalize(" ".join(prose)).split())
    stated = normalize(answer).split()
    reasons = []
    for word in _asked_words(question, entities):
        if not any(related(word, w) for w in stated):
            continue  # the answer does not state it
        if not any(related(word, h) for h in held):
            reasons.append(f"{word} (asked and stated, but no document holds it)")
    return reasons


def _calc_values(observations: Sequence[Observation]) -> list[float]:
    return [v for o in observations if o.tool == CALCULATOR_NAME for v in evidence_values(strip_prefix(o.text))]


def _computed(answer: str, observations: Sequence[Observation]) -> bool:
    calc = _calc_values(observations)
    return any(c.matches(v) for c in parse_numbers(answer) for v in calc)


def _counted(text: str, claim: NumberClaim) -> str | None:
    """The word a number counts: the one right after it ("75 stations"), or None."""
    m = _WORD_AFTER.match(text, claim.start + len(claim.span))
    if m is None:
        return None
    word = normalize(m.group(1)).split()
    return None if not word or word[0] in _NOT_COUNTED else word[0]


def miscounted_numbers(question: str, answer: str, observations: Sequence[Observation]) -> list[str]:
    """Reasons, one per number of the answer that counts another thing than every prose sentence holding it."""
    if not run_entities(question, observations):
        return []
    prose = _prose(observations)
    if not prose:
        return []
    qvals = evidence_values(question)
    calc = _calc_values(observations)
    reasons = []
    for claim in parse_numbers(answer):
        if any(claim.matches(v) for v in qvals + calc):
            continue
        word = _counted(answer, claim)
        if word is None:
            continue
        held = [_counted(text, e) for text in prose for e in parse_numbers(text) if claim.matches(e.value)]
        if held and all(h is not None and not related(word, h) and not related(h, word) for h in held):
            others = " / ".join(dict.fromkeys(h for h in held if h))
            reasons.append(f"{claim.span} {word} (the document's {claim.span} counts {others})")
    return reasons
