"""Country records of the local knowledge pack, read field by field, and the evidence segments of a run.

``agent.knowledge.country_document`` writes "Japan: capital Tokyo; population 126,960,000; ...". A
record is *on topic* when the question (or the search query, checked against the Korean names of
``agent.country_names`` for a question in Hangul) names its country and the question does not name
its capital instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.country_names import KO_NAMES, korean_names
from agent.grounding.model import Observation
from agent.grounding.not_found import is_useless_observation
from agent.grounding.numbers import evidence_values
from agent.grounding.text import contains, normalize, strip_prefix
from agent.prompt import CALCULATOR_NAME

# Field names of agent.knowledge.country_document, longest first (tests assert they still match it)
RECORD_FIELDS = (
    "calling code", "subregion", "population", "languages", "currency", "capital", "borders",
    "demonym", "region", "area",
)  # fmt: skip
# words in the question that show a field is what was asked (normalised forms)
FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "capital": ("capital", "capitals", "seat of government", "government", "seated", "수도"),
    "population": (
        "population", "populous", "people", "inhabitants", "inhabitant", "residents", "live", "lives",
        "living", "citizens", "persons", "populations", "density", "dense", "crowded", "headcount", "populace",
        "인구", "사람", "명", "밀도",
    ),
    "area": (
        "area", "areas", "square", "km2", "km", "kilometres", "kilometers", "size", "big", "bigger", "large",
        "larger", "largest", "small", "smaller", "cover", "covers", "density", "dense", "land", "surface",
        "면적", "넓", "크기", "제곱킬로미터", "평방킬로미터", "킬로미터", "밀도",
    ),
    "region": (
        "region", "continent", "where", "located", "part of the world", "world region", "지역", "대륙", "어디",
    ),
    "subregion": (
        "region", "subregion", "sub region", "continent", "where", "located", "part of", "지역", "대륙", "어디",
    ),
    "currency": (
        "currency", "currencies", "money", "pay", "paid", "cash", "coin", "tender", "통화", "화폐", "돈",
    ),
    "languages": (
        "language", "languages", "speak", "spoken", "speaks", "tongue", "official", "언어", "공용어", "말", "사용",
    ),
    "borders": (
        "border", "borders", "bordering", "bordered", "neighbour", "neighbours", "neighbor", "neighbors",
        "neighbouring", "neighboring", "adjacent", "next to", "surround", "surrounding", "land borders",
        "국경", "접", "이웃",
    ),
    "calling code": ("calling", "dial", "dialling", "dialing", "phone", "telephone", "code", "전화", "국가번호"),
    "demonym": (
        "demonym", "called", "nationality", "citizen", "people", "person", "adjective", "native", "국민", "사람",
    ),
}  # fmt: skip
_RECORD_START = re.compile(r"(?:^|(?<=\. ))(?P<title>[^\s:;][^:;]{0,80}?): (?=(?:" + "|".join(RECORD_FIELDS) + r") )")
# Other names of countries that their record titles do not contain (a question may use either)
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "united states": ("usa", "us", "u s", "u s a", "america", "american", "americans"),
    "united kingdom": ("uk", "u k", "britain", "great britain", "british"),
    "netherlands": ("holland", "dutch"),
    "myanmar": ("burma",),
    "ivory coast": ("cote d ivoire", "cote divoire"),
    "swaziland": ("eswatini",),
    "czech republic": ("czechia",),
    "republic of macedonia": ("north macedonia",),
    "democratic republic of the congo": ("drc", "dr congo", "congo kinshasa"),
    "republic of the congo": ("congo brazzaville",),
    "east timor": ("timor leste",),
    "cape verde": ("cabo verde",),
    "vatican city state": ("vatican", "holy see"),
    "united arab emirates": ("uae",),
    "south korea": ("korea", "republic of korea"),
    "north korea": ("dprk",),
}
_GENERIC_TITLE_WORDS = frozenset(
    "republic united states state islands island saint south north east west democratic federated kingdom "
    "new people city central french british dutch minor outlying and of the".split()
)


@dataclass
class Segment:
    """One unit of evidence: a country record, a Calculator result, or other text."""

    index: int
    text: str  # normalised
    raw: str
    title: str | None = None  # normalised title of a country record
    fields: dict[str, str] = field(default_factory=dict)  # record field -> normalised value text
    raw_fields: dict[str, str] = field(default_factory=dict)
    on_topic: bool = True
    calc: bool = False


def split_records(index: int, text: str) -> list[Segment]:
    """A search observation as segments: each country record on its own, other text as it is."""
    starts = list(_RECORD_START.finditer(text))
    if not starts:
        return [Segment(index, normalize(text), text)]
    segments: list[Segment] = []
    if text[: starts[0].start()].strip():
        head = text[: starts[0].start()]
        segments.append(Segment(index, normalize(head), head))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        chunk = text[m.start() : end]
        body = text[m.end() : end].strip().rstrip(".").rstrip()
        fields: dict[str, str] = {}
        for part in body.split("; "):
            for name in RECORD_FIELDS:
                if part.startswith(name + " "):
                    fields[name] = part[len(name) + 1 :]
                    break
        segments.append(
            Segment(
                index,
                normalize(chunk),
                chunk,
                title=normalize(m.group("title")),
                fields={k: normalize(v) for k, v in fields.items()},
                raw_fields=fields,
            )
        )
    return segments


def title_forms(title: str) -> list[str]:
    forms = {title}
    base = re.sub(r"\s*\(.*?\)\s*", " ", title).strip()
    forms.add(base)
    if base.startswith("the "):
        forms.add(base[4:])
    forms.update(COUNTRY_ALIASES.get(title, ()))
    return [f for f in forms if f]


def names_country(title: str, text: str) -> bool:
    """Does normalised ``text`` name the country of a record (its title, an alias or a stem)?"""
    if any(contains(text, form) for form in title_forms(title)):
        return True
    words = text.split()
    for tw in title.split():
        if len(tw) >= 5 and tw not in _GENERIC_TITLE_WORDS:
            stem = tw[:5]
            if any(w.startswith(stem) and len(w) >= 5 for w in words):  # German ~ Germany, Czechia
                return True
    return False


def _capital_conflict(seg: Segment, question: str) -> bool:
    """The question names this record's capital but not the country: it asks about the city."""
    capital = seg.fields.get("capital")
    if not capital or not seg.title or capital == seg.title:
        return False
    if not contains(question, capital):
        return False
    rest = f" {question} ".replace(f" {capital} ", " ")
    return not names_country(seg.title, rest.strip())


def field_asked(name: str, asked: str, strict: bool = False) -> bool:
    """Does the (normalised) question + answer mention this record field?

    A Korean field word matches inside a word (인구는, 수도를); with ``strict`` (the attribute step) one of a
    single syllable only where a word starts with it: 명 of "몇 명" asks for the population, 수명 (a life span)
    does not."""
    for word in FIELD_WORDS.get(name, ()):
        if contains(asked, word):
            return True
        if not word.isascii() and word in asked:  # Korean: inside a word
            if not (strict and len(word) == 1) or re.search(rf"(?:^|\s){word}", asked):
                return True
    return False


def _korean_query_allows(question: str) -> Callable[[str], bool]:
    """For a question in Hangul: may a search query make this (normalised) record title on topic?

    Not when the question names another country of ``agent.country_names`` ("이라크의 국토 면적은?" searched as
    "area of Saudi Arabia"; "호주의 수도는?" as "capital of Honduras"), nor when the country has a
    Korean name the question does not use ("와칸다의 수도는?" searched as "capital of Japan")."""
    if not any("\uac00" <= c <= "\ud7a3" for c in question):
        return lambda title: True
    compact = question.replace(" ", "")
    named = {
        normalize(title) for title in KO_NAMES if any(ko.replace(" ", "") in compact for ko in korean_names(title))
    }
    known = {normalize(title) for title in KO_NAMES}
    return lambda title: title in named or (not named and title not in known)


def evidence_segments(question: str, observations: Sequence[Observation]) -> list[Segment]:
    qn = normalize(question)
    query_allows = _korean_query_allows(question)
    segments: list[Segment] = []
    for obs in observations:
        if is_useless_observation(obs.text):
            continue
        text = strip_prefix(obs.text)
        if obs.tool == CALCULATOR_NAME:
            segments.append(Segment(obs.index, normalize(text), text, calc=True))
            continue
        query = normalize(obs.tool_input)
        for seg in split_records(obs.index, text):
            if seg.title is not None:
                by_query = names_country(seg.title, query) and query_allows(seg.title)
                named = names_country(seg.title, qn) or by_query
                seg.on_topic = named and not _capital_conflict(seg, qn)
            segments.append(seg)
    return segments


def record_named_by(seg: Segment, question: str) -> bool:
    """The question names one of the record's values (a reverse lookup: "whose capital is Canberra?").

    Codes (currency CUP, calling codes) must match as written: "World Cup" does not name Cuba's peso."""
    qn = normalize(question)
    for name, raw in seg.raw_fields.items():
        if name in ("population", "area"):
            continue
        for part in raw.split(", "):
            part_n = normalize(part)
            if len(part_n) < 3 or part_n == "none":
                continue
            if part.isupper() and not re.search(rf"(?<!\w){re.escape(part)}(?!\w)", question):
                continue
            if contains(qn, part_n):
                return True
    qnums = {round(v) for v in evidence_values(question)}
    return any(round(v) in qnums for f in ("population", "area") for v in evidence_values(seg.raw_fields.get(f, "")))
