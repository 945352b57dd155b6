"""Names of an answer: capitalised spans, quoted strings and non-Latin words, and where they may come from."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from agent.grounding.records import FIELD_WORDS
from agent.grounding.text import contains, normalize, word_forms

_TOKEN_RE = re.compile(r"[^\W_](?:[\w'’.\-]*[^\W_])?")
_CONNECTORS = frozenset(
    "of the and de da do du del della des di la le van von der den y e al el bin ibn upon on".split()
)
# Capitalised words that are not names (sentence starts, hedges, field words)
_COMMON = frozenset(
    """the a an this that these those there here it its they them their he she his her we our you your i
    yes no not none both neither either all some many most each every any and but or so also however
    therefore thus then according based as in on at by for from to with of about around approximately
    roughly nearly almost over under more less total combined sum answer final result population capital
    area currency currencies region subregion border borders language languages density note sorry
    unfortunately if when where which what who whom whose why how is are was were be been has have had
    do does did one two three four five six seven eight nine ten first second third last sure okay ok
    well hello hi thanks thank please let me my mine since because after before while although though
    calling code demonym approx people per square kilometre kilometres kilometer kilometers km km2 times
    difference ratio average mean larger smaller bigger more fewer official capitals country countries
    nation nations state city between among whichever""".split()
)
_QUOTE_RE = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|«([^»]{1,200})»|「([^」]{1,200})」")
KO_ENDINGS = sorted(
    """입니다 습니다 합니다 됩니다 있습니다 없습니다 이다 이며 이고 이에요 예요 에요 이요 이라고 라고
    에서는 에서 에게 으로는 으로 로는 로 에는 에 은 는 이 가 을 를 의 와 과 도 만 까지 부터 보다
    이나 나 명 개 년 월 일 입 요 며 고 및 등 당""".split(),
    key=len,
    reverse=True,
)
# Korean words of an answer that name no thing: field and unit words, totals, comparisons
# ("몽골의 면적은 1,564,110 제곱킬로미터입니다.", "A와(과) B의 인구를 합치면 ...명입니다.")
_KO_COMMON = frozenset(
    """약 대략 정도 가량 그리고 또한 그 이 저 것 수 및 등 있습니다 입니다 없습니다 답 답은 정답 결과 검색 약간
    수도 인구 인구밀도 밀도 면적 넓이 크기 국토 통화 화폐 돈 언어 공용어 국경 이웃 지역 대륙 국가 나라 도시
    사람 사람들 국민 주민 전화 국가번호 국제전화 번호 코드 제곱킬로미터 평방킬로미터 킬로미터 제곱미터
    합치면 합하면 더하면 합계 합 총 총인구 전체 모두 차이 배 더 많이 적게 가장 각각 평균 계산 계산하면""".split()
) | frozenset(w for words in FIELD_WORDS.values() for w in words if not w.isascii())


def _is_latin_letter(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")


def _has_case(ch: str) -> bool:
    return ch.lower() != ch.upper()


@dataclass(frozen=True)
class NameClaim:
    span: str
    start: int
    norm: str
    script: str  # "latin" (capitalised span, quote) or "other" (a non-Latin word)


def name_claims(answer: str) -> list[NameClaim]:
    """Capitalised spans, quoted strings and non-Latin words of the answer."""
    claims: list[NameClaim] = []
    tokens = [m for m in _TOKEN_RE.finditer(answer) if not m.group(0)[0].isdigit()]
    span: list[re.Match[str]] = []

    def flush() -> None:
        while span and span[-1].group(0).lower() in _CONNECTORS:
            span.pop()
        while span and span[0].group(0).lower().rstrip(".") in _COMMON | _CONNECTORS:
            span.pop(0)
        if span:
            text = answer[span[0].start() : span[-1].end()]
            claims.append(NameClaim(text, span[0].start(), normalize(text), "latin"))
        span.clear()

    for tok in tokens:
        word = tok.group(0)
        if not all(_is_latin_letter(c) for c in word if c.isalpha()):
            flush()
            claims.extend(_non_latin_claims(tok))
            continue
        gap = answer[span[-1].end() : tok.start()] if span else ""
        capital = word[0].isupper()
        if span and gap.strip() and gap.strip() not in ("-",):
            flush()
        if capital:
            span.append(tok)
        elif span and word.lower() in _CONNECTORS:
            span.append(tok)
        else:
            flush()
    flush()
    for m in _QUOTE_RE.finditer(answer):
        inner = next(g for g in m.groups() if g)
        claims.append(NameClaim(inner, m.start(), normalize(inner), "latin"))
    return claims


def _non_latin_claims(tok: re.Match[str]) -> list[NameClaim]:
    word = tok.group(0)
    hangul = any("\uac00" <= c <= "\ud7a3" for c in word)
    if not hangul:
        if any(_has_case(c) for c in word) and not word[0].isupper() and len(word) <= 3:
            return []  # short lower-case Cyrillic/Greek function words
        return [NameClaim(word, tok.start(), normalize(word), "other")]
    stem = korean_stem(word)
    if len(stem) < 2 or stem in _KO_COMMON or all(c in "만억조천백십" for c in stem):
        return []
    return [NameClaim(stem, tok.start(), stem, "other")]


def korean_stem(word: str) -> str:
    """A Hangul word without its particles and endings (일본의입니다 -> 일본, 총리는 -> 총리)."""
    stem = re.sub(r"[\d.,]+", "", word)
    changed = True
    while changed and stem:
        changed = False
        for ending in KO_ENDINGS:
            if stem.endswith(ending) and len(stem) > len(ending):
                stem, changed = stem[: -len(ending)], True
                break
    return stem.strip("'’\"")


def name_in(norm: str, script: str, text: str) -> bool:
    if script == "other":
        return norm in text.replace(" ", "") or norm in text
    return contains(text, norm)


def words_in(norm: str, texts: Iterable[str]) -> bool:
    """Every content word of a span in one of the texts (a span the evidence spells apart)."""
    words = [w for w in norm.split() if w not in _CONNECTORS]
    bag: set[str] = set()
    for t in texts:
        bag.update(t.split())
    return bool(words) and all(word_forms(w) & bag for w in words)


def question_names(question: str) -> list[str]:
    """The question's own names, normalised, lists split ("Which of Chad, Mali and Niger ..." has three)."""
    return list(dict.fromkeys(p.norm for c in name_claims(question) if c.script == "latin" for p in list_parts(c)))


def from_question(name: NameClaim, question: str, qn: str) -> bool:
    """The answer's name is the question's own, not a part of a longer name of the question.

    "Mexico" in "Mexico City is the capital of which country?", "Bissau" in "the Guinea-Bissau
    capital" and "Saint-Pierre" in "Saint Pierre and Miquelon" are claims: the question names one
    thing, the answer another."""
    if name.script != "latin":
        return name_in(name.norm, name.script, qn)
    rest = f" {qn} "
    longer_names = {c.norm for c in name_claims(question) if c.script == "latin"}
    for longer in sorted(longer_names, key=len, reverse=True):
        if longer != name.norm and contains(longer, name.norm):
            rest = rest.replace(f" {longer} ", " | ")
    rest = rest.strip()
    return contains(rest, name.norm) or words_in(name.norm, [rest])


# First words of multi-word place names: a span they begin is a name even at a sentence start
_NAME_PREFIXES = frozenset(
    """north south east west northern southern eastern western new old saint st san santa sao united central
    great upper lower republic democratic federated el la le los las port puerto mount lake cape costa
    sierra sri papua equatorial guinea isle isles british french american dutch""".split()
)


def sentence_tail(name: NameClaim, answer: str, question: str, texts: Iterable[str]) -> NameClaim | None:
    """``name`` without its first word when that word is only a capitalised sentence start.

    "Together Lithuania and Burundi have 12457744 people." makes the span "Together Lithuania and Burundi";
    "Together" is no name. The word is dropped when the span starts a sentence, has more words, the first is a
    plain word ("Together", not "Al-Ahmed" or "McDonald"), not a place-name prefix ("North", "New", "Saint"),
    in none of ``texts`` (the question and the observations), and what is left names only the question's own
    names ("John Smith leads Australia." keeps "John Smith": "Smith" alone would match a Jane Smith). Otherwise
    None."""
    if name.script != "latin" or answer[: name.start].rstrip()[-1:] not in ("", ".", "!", "?", ":"):
        return None
    first, _, rest = name.span.partition(" ")
    rest = rest.lstrip()
    if not rest or not first.isalpha() or not first[1:].islower() or first.lower() in _NAME_PREFIXES:
        return None
    word = re.compile(rf"\b{re.escape(first.lower())}\b")
    if any(word.search(t.lower()) for t in texts):
        return None
    tail = NameClaim(rest, name.start + len(name.span) - len(rest), normalize(rest), name.script)
    qn = normalize(question)
    own = from_question(tail, question, qn) or all(from_question(p, question, qn) for p in list_parts(tail))
    return tail if own else None


def list_parts(name: NameClaim) -> list[NameClaim]:
    """A span split at the list words inside it (and, or, y, e, &); itself when it has none."""
    parts: list[NameClaim] = []
    offset = 0
    for m in re.finditer(r"\s+(?:and|or|y|e|&)\s+|$", name.span):
        piece = name.span[offset : m.start()]
        if piece.strip():
            parts.append(NameClaim(piece, name.start + offset, normalize(piece), name.script))
        offset = m.end()
    return parts or [name]
