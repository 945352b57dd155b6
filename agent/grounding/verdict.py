"""The verdict: every number and name of a final answer against the evidence of its run.

See ``agent.grounding``'s docstring for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.grounding.attributes import absent_attributes, miscounted_numbers
from agent.grounding.documents import unstated_claims
from agent.grounding.model import Grounding, Observation
from agent.grounding.names import (
    KO_ENDINGS,
    NameClaim,
    from_question,
    korean_stem,
    list_parts,
    name_claims,
    name_in,
    question_names,
    sentence_tail,
    words_in,
)
from agent.grounding.not_found import is_not_found
from agent.grounding.numbers import NumberClaim, evidence_values, is_constant, parse_numbers
from agent.grounding.operations import operation_mismatch
from agent.grounding.records import (
    Segment,
    evidence_segments,
    field_asked,
    record_named_by,
    title_forms,
)
from agent.grounding.text import contains, normalize
from agent.prompt import CALCULATOR_NAME


@dataclass
class _Pool:
    """Evidence numbers: (value, step index or None for the question)."""

    values: list[tuple[float, int | None]] = field(default_factory=list)

    def find(self, claim: NumberClaim) -> tuple[bool, int | None]:
        for v, idx in self.values:
            if claim.matches(v):
                return True, idx
        return False, None


def _number_pool(
    question: str, answer: str, segments: Sequence[Segment], qnums: Sequence[float], strict: bool = False
) -> _Pool:
    asked = normalize(question)
    pool = _Pool([(v, None) for v in qnums])
    for seg in segments:
        if seg.calc:
            continue  # calculator results join in step order below
        if seg.title is None:
            pool.values += [(v, seg.index) for v in evidence_values(seg.raw)]
        elif seg.on_topic:
            for name, value in seg.raw_fields.items():
                if field_asked(name, asked, strict):
                    pool.values += [(v, seg.index) for v in evidence_values(value)]
    return pool


def check(
    question: str,
    answer: str | None,
    observations: Sequence[Observation],
    documents: bool = False,
    operations: bool = True,
    attributes: bool = False,
    every_word: bool = False,
) -> Grounding:
    """Ground a final answer in the question and the run's tool observations (see the module doc).

    ``documents``: also the document step (``agent.grounding.documents``): a value found in a prose
    document counts only when its sentence is about the question's entity and the asked attribute.
    ``operations``: the computation step (``agent.grounding.operations``; off only to measure it).
    ``attributes``: the attribute step (``agent.grounding.attributes``): an asked attribute no document holds,
    a number counted as another thing, a Korean one-syllable field word inside another word.
    ``every_word`` (with ``documents``): a prose sentence supports a claim only when it states every asked word
    (``documents.unstated_claims``); the second look asks it of the answer it forces."""
    if answer is None or not answer.strip():
        return Grounding(supported=False)
    if is_not_found(answer):
        return Grounding(supported=True, not_found=True)
    qn = normalize(question)
    asked = normalize(question)
    segments = evidence_segments(question, observations)
    qnums = evidence_values(question)
    pool = _number_pool(question, answer, segments, qnums, strict=attributes)
    # Calculator results count when their inputs are supported (in step order, so chains work)
    calc_inputs: dict[int, list[int]] = {}
    by_index = {o.index: o for o in observations}
    for seg in segments:
        if not seg.calc:
            continue
        inputs = parse_numbers(by_index[seg.index].tool_input)
        used: list[int] = []
        ok = True
        for c in inputs:
            if is_constant(c.value):
                continue
            hit, idx = pool.find(c)
            if not hit:
                ok = False
                break
            if idx is not None:
                used.append(idx)
        if ok:
            # a difference is also stated by its size ("A has 9,471,597 fewer people than B")
            pool.values += [(x, seg.index) for v in evidence_values(seg.raw) for x in {v, abs(v)}]
            calc_inputs[seg.index] = used

    unsupported: list[tuple[int, str]] = []
    evidence: set[int] = set()
    claimed = False

    def cite(idx: int | None) -> None:
        if idx is not None:
            evidence.add(idx)
            evidence.update(calc_inputs.get(idx, ()))

    for num in parse_numbers(answer):
        hit, idx = pool.find(num)
        if hit and idx is None:
            continue  # a number from the question
        claimed = True
        if hit:
            cite(idx)
        else:
            unsupported.append((num.start, num.span))

    qnames = question_names(question)
    names_new = False  # the answer names someone or something the question does not
    for name in name_claims(answer):
        if from_question(name, question, qn):
            continue
        claimed = names_new = True
        idx = _find_name(name, segments, asked, question, answer, attributes)
        if idx is not None:
            cite(idx)
            continue
        # "Together Lithuania and Burundi ...": a capitalised sentence start is no part of the name
        if sentence_tail(name, answer, question, [question, *(o.text for o in observations)]) is not None:
            continue  # what is left is the question's own names
        # "Iran and Nepal" is two names of a list unless the evidence holds it as one
        for part in list_parts(name):
            if from_question(part, question, qn):
                continue
            idx = _find_name(part, segments, asked, question, answer, attributes)
            if idx is None:
                unsupported.append((part.start, part.span))
            else:
                cite(idx)

    # a record about another country than the one asked is no evidence for an answer without claims
    useful = [s for s in segments if s.on_topic or s.calc or s.title is None]
    if not claimed:
        if not useful:
            unsupported.append((0, answer.strip()))
        elif (restated := _restated_value(question, answer, segments, attributes)) is not None:
            evidence.add(restated)  # "The capital of Monaco is Monaco.", "Luxembourg is the capital of Luxembourg."
        elif _echoes(question, answer) and not _yes_no_or_choice(question, answer, qnames):
            unsupported.append((0, answer.strip()))
        else:
            evidence.update(s.index for s in useful)
    spans = [s for _, s in sorted(unsupported)]
    # rule G19a: a price, a time, a date or a number asked ("tell me the price of the 18 year old") is a quantity too
    value_asked = _VALUE_ASKED.search(question) and not _yes_no_or_choice(question, answer, qnames)
    if every_word and documents and not spans and (_QUANTITY_ASKED.search(question) or value_asked):
        gives_none = all(any(n.matches(v) for v in qnums) for n in parse_numbers(answer)) and not names_new
        if gives_none and not _YES_NO.match(answer):
            spans = [f"{answer.strip()} (asked for a quantity, it gives none the question does not)"]
    if operations and claimed and not spans and (mismatch := operation_mismatch(question, observations)):
        spans = [mismatch]  # a difference or sum asked, only divisions computed (agent.grounding.operations)
    if documents and claimed and not spans and not _yes_no_or_choice(question, answer, qnames):
        calc = [i for i in evidence if by_index[i].tool == CALCULATOR_NAME]
        spans = unstated_claims(question, answer, observations, calc, every_word=every_word)
    if attributes and claimed and not spans and not _yes_no_or_choice(question, answer, qnames):
        spans = absent_attributes(question, answer, observations) + miscounted_numbers(question, answer, observations)
    if attributes and not spans and not names_new and (wh := _asks_who_or_where(question)):
        if not _yes_no_or_choice(question, answer, qnames):  # "Where was Dr. Amina Sato born?" -> "... in 1979."
            spans = [f"{answer.strip()} (asked {wh}, it names no one and no place the question does not)"]
    return Grounding(
        supported=not spans,
        unsupported=list(dict.fromkeys(spans)),
        evidence=sorted(evidence),
    )


def _find_name(
    name: NameClaim, segments: Sequence[Segment], asked: str, question: str, answer: str, strict: bool = False
) -> int | None:
    """The step whose observation supports a name, or None."""
    for seg in segments:
        if seg.title is None or seg.calc:
            if name_in(name.norm, name.script, seg.text):
                return seg.index
            continue
        if name.norm in title_forms(seg.title) and (
            seg.on_topic or (_asks_for_country(question) and record_named_by(seg, question))
        ):
            return seg.index  # a record supports its own title (a reverse lookup)
        if not seg.on_topic:
            continue
        if any(name_in(name.norm, name.script, seg.fields[f]) for f in _usable_fields(seg, asked, answer, strict)):
            return seg.index
    # a span the records spell apart ("Bosnia and Herzegovina" written over two fields) or split words
    if name.script == "latin" and len(name.norm.split()) > 1:
        texts = {s.index: s.text for s in reversed(segments) if s.title is None and not s.calc}
        for s in segments:
            if s.title is not None and s.on_topic:
                usable = " ".join(s.fields[f] for f in _usable_fields(s, asked, answer, strict))
                texts[s.index] = f"{texts.get(s.index, '')} {s.title} {usable}"
        for index, text in sorted(texts.items()):
            if words_in(name.norm, [text]):
                return index
        if words_in(name.norm, texts.values()):
            return min(texts)
    return None


def _usable_fields(seg: Segment, asked: str, answer: str, strict: bool = False) -> list[str]:
    """The fields of an on-topic record a name of the answer may come from.

    The fields the question asks about; all of them once the answer states an asked one ("Canberra
    is the capital, in Oceania"), none when the question asks about nothing the record holds. "In
    which city is the government of Honduras seated?" -> "... in El Salvador" takes a border for the
    capital it never states."""
    asked_fields = [f for f in seg.fields if field_asked(f, asked, strict)]
    if not asked_fields:
        return []
    if any(_states_field(seg, f, answer) for f in asked_fields):
        return list(seg.fields)
    return asked_fields


def _states_field(seg: Segment, name: str, answer: str) -> bool:
    """The answer holds this record field's value (a number of it, or one item of its list)."""
    raw = seg.raw_fields.get(name, "")
    if name in ("population", "area"):
        values = evidence_values(raw)
        return any(c.matches(v) for c in parse_numbers(answer) for v in values)
    a = normalize(answer)
    return any(len(n) >= 2 and contains(a, n) for n in (normalize(part) for part in raw.split(", ")))


_HANGUL = re.compile("[\uac00-\ud7a3]")
_STOP = frozenset(
    """a an the is are was were be of in on at to for and or what which who whom whose how many much
    does do did it its this that there has have had with by from as than per please tell me i you""".split()
)


def _content(text: str) -> set[str]:
    """Content words; Hangul ones by their stems, endings on their own dropped.

    So "일본의 총리는 '일본의'입니다." restates "일본의 총리는 누구입니까?" (일본, 총리)."""
    words = {korean_stem(w) if _HANGUL.search(w) else w for w in normalize(text).split()}
    return {w for w in words if w and w not in _STOP and w not in KO_ENDINGS and not w.isdigit()}


def _echoes(question: str, answer: str) -> bool:
    """The answer's words are all the question's: it restates rather than answers."""
    return _content(answer) <= _content(question)


# whole words: "Norway ...", "nova mobile was founded ...", "네팔의 ..." (Nepal), "예멘의 ..." (Yemen) answer no yes/no
_YES_NO = re.compile(
    r"^\s*(?:(?:yes|no|yeah|nope|correct|incorrect|true|false)\b|(?:네|예)(?![\uac00-\ud7a3])|아니|맞|틀)",
    re.IGNORECASE,
)


_CHOICE_WORDS = ("which", "who", "whichever", "between", "or", "than")
# a question that asks for a quantity or a date chooses no option, whatever names it holds ("How many trains a day
# does Northwind Rail run between Dalby and Port Ellen?")
_QUANTITY_ASKED = re.compile(
    r"\b(?:how (?:many|much|long|far|big|large|old|tall|high|deep|wide|heavy)|what year|when)\b", re.IGNORECASE
)

_VALUE_ASKED = re.compile(
    r"\b(?:price|prices|cost|costs|fare|fares|fee|fees|what time|what date|which year|number of)\b", re.IGNORECASE
)


def _yes_no_or_choice(question: str, answer: str, qnames: Sequence[str] = ()) -> bool:
    """A yes/no answer, or a choice among the options the question offers.

    "Which of Chad, Mali and Niger has the largest population?" -> "Niger has the largest population."
    names one of the question's names (not all of them): a choice, not a restatement."""
    if _YES_NO.match(answer):
        return True
    q = normalize(question)
    if contains(q, "or") or "중" in question or "어느" in question or "또는" in question:
        return True
    if len(qnames) < 2 or not any(contains(q, w) for w in _CHOICE_WORDS) or _QUANTITY_ASKED.search(question):
        return False
    a = normalize(answer)
    chosen = [n for n in qnames if contains(a, n)]
    return 0 < len(chosen) < len(qnames)


_WH_WORD = re.compile(r"\b(who|whom|where|what|which|whose|how|when|why)\b", re.IGNORECASE)


def _asks_who_or_where(question: str) -> str | None:
    """ "who" or "where" when that is the question's first wh-word (Latin script): the answer must name someone or
    somewhere ("Tell me where Dr. Amina Sato was born."; not "What is the population of the country where ...")."""
    if re.search("[\uac00-\ud7a3]", question):
        return None
    m = _WH_WORD.search(question)
    word = m.group(1).lower() if m else None
    return "who" if word in ("who", "whom") else "where" if word == "where" else None


_COUNTRY_ASKED = ("country", "countries", "nation", "nations", "where", "located", "나라", "국가", "어디")


def _asks_for_country(question: str) -> bool:
    """The question asks which country (a reverse lookup), not about a thing a record merely names."""
    q = normalize(question)
    return any(contains(q, w) or (not w.isascii() and w in q) for w in _COUNTRY_ASKED)


def _restated_value(question: str, answer: str, segments: Sequence[Segment], strict: bool = False) -> int | None:
    """The step of a record whose asked value, or whose title in a reverse lookup, is the question's word.

    The answer repeats a name of the question, but as what was asked: "Name the capital of Monaco."
    -> "The capital of Monaco is Monaco." (Monaco's capital field), "what country is Luxembourg the
    capital of" -> "Luxembourg is the capital of Luxembourg." (the title of the record whose capital it
    is). "Who is the president of France?" -> "The president of France is France." asks no field."""
    a = normalize(answer)
    asked = normalize(question)
    for seg in segments:
        if seg.title is None or seg.calc:
            continue
        if seg.on_topic:
            for name, value in seg.fields.items():
                if name not in ("population", "area") and field_asked(name, asked, strict) and contains(a, value):
                    return seg.index
        if _asks_for_country(question) and record_named_by(seg, question):
            if any(contains(a, form) for form in title_forms(seg.title)):
                return seg.index
    return None
