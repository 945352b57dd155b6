"""Is a final answer supported by what the tools returned? A pure check over a finished run.

No model call, no I/O: the final answer is split into *claims* and each claim must be found in
the question or in an observation (or a Calculator result):

- **numbers** (thousands separators, decimals, ``3.36e8``, ``million``/``billion``, Korean
  만/억/조, percent, negative numbers, years) are supported by an evidence number within the
  precision the answer shows: "336" covers 336.26, "336 million" covers 335,893,238, "340" covers
  336 (trailing zeros are rounding when two significant digits remain), a hedge ("about", "약")
  widens that to 2 %; a percent also matches its fraction (30 % ↔ 0.3). A Calculator result is
  evidence only when every number of its input is itself supported (the question, an earlier
  observation, or a small constant such as 100), so arithmetic cannot launder an unsupported number;
  a Calculator result also supports its absolute value (a difference is stated as "N more than").
  For Calculator inputs an evidence number also stands as written before its scale word ("480
  million dollars" is the 480 of ``abs(480 - 350)``) and a percent as the factor it adds or takes
  off (10 % tax: ``* 1.1``).
- **names**: capitalised spans ("Papua New Guinea", "XCD", "Joe Biden"), quoted strings and
  non-Latin words (Hangul, kana, CJK, Cyrillic, ...) that are not in the question must occur in an
  observation (accents, case and punctuation ignored; Korean particles stripped; Korean field, unit
  and total words such as 인구, 면적, 제곱킬로미터, 합치면 are not names). A name counts as the
  question's own only where the question uses it on its own: "Mexico" in "Mexico City is the capital
  of which country?" and "Bissau" in "the Guinea-Bissau capital" are claims of the answer.

Country records of the local knowledge pack (``agent.knowledge.country_document``: "Japan: capital
Tokyo; population 126,960,000; ...") are read per field, so that a record supports a claim only
when it is *about what was asked*:

- the record's country is named in the question or in the search query that returned it, and the
  question does not instead name that record's capital ("population of Tokyo" is not answered by
  Japan's record; "Mexico City" is not "Mexico");
- the field holding the claim is what the question asks about ("the GDP of Brazil is 211 million"
  finds 211 million in the *population* field and is unsupported; so is "The population of Japan is
  127,080,000." as the answer to a question about life expectancy: the answer's own words do not count);
- a record that is not about what was asked still supports its own title when the question asks
  for a country and names one of the record's values: "Which country has the capital Canberra?" →
  "Australia", "what country is Luxembourg the capital of" → "Luxembourg is the capital of
  Luxembourg." (a reverse lookup); "Who is the mayor of Mexico City?" → "Mexico" is not.

An answer with no claim of its own (everything in it is in the question) needs at least one useful
observation, and if it only restates the question it must be a yes/no or a choice among the
question's options ("Which of Chad, Mali and Niger ...?" → "Niger has the largest population.": it
names some of the question's names, not all). A "not found" answer (``agent.prompt.NOT_FOUND_ANSWER``
and looser variants, English and Korean) is recognised first and claims nothing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from agent.prompt import CALCULATOR_NAME, NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO

# agent.tools.search writes these; repeated here (not imported) so this module stays import-light
NO_RESULTS = "No good search result found."
LOCAL_PREFIX = "[local knowledge base] "

HEDGE_REL_TOL = 0.02  # "about 130" covers 127.5-132.6: a hedged number may be rounded a little more
MAX_SPAN_WORDS = 8  # a capitalised span longer than this is a title-cased sentence, checked word by word


class Grounding(BaseModel):
    """Whether a final answer is backed by the run's observations."""

    supported: bool = Field(
        description="every number and name of the final answer was found in the question or an observation "
        "(a not-found answer claims nothing and is supported)",
        examples=[True],
    )
    unsupported: list[str] = Field(
        default_factory=list,
        description="spans of the final answer no observation supports (the whole answer when no search "
        "returned anything useful)",
        examples=[["Joe Biden"]],
    )
    evidence: list[int] = Field(
        default_factory=list,
        description="indexes of the steps whose observations support the answer",
        examples=[[0, 2]],
    )
    not_found: bool = Field(
        default=False, description="the final answer says the information was not found", examples=[False]
    )


@dataclass(frozen=True)
class Observation:
    """One tool step of a run, as the check sees it."""

    index: int  # the step's index in the run
    tool: str
    tool_input: str
    text: str


# --------------------------------------------------------------------------------------- not found
_NOT_FOUND_EN = re.compile(
    r"\b(?:could\s*n[o']?t|can\s*n[o']?t|can't|cannot|unable\s+to|did\s*n[o']?t|was\s*n[o']?t\s+able\s+to|"
    r"were\s*n[o']?t\s+able\s+to|failed\s+to)\s+(?:find|locate|determine|retrieve|identify|get)\b"
    r"|\bnot\s+(?:be\s+)?found\b"
    r"|\bno\s+(?:relevant\s+|such\s+|reliable\s+|specific\s+)?(?:information|data|results?|answer|records?|mention)\b"
    r"|\b(?:do|does|did)(?:\s+not|n't)\s+(?:know|contain|mention|include|provide|say|"
    r"have\s+(?:any\s+|enough\s+)?(?:information|data|details))\b"
    r"|\bnot\s+(?:available|mentioned|included|provided|listed|known|specified|stated)\b"
    r"|\bunknown\b|\bno\s+good\s+search\s+result",
    re.IGNORECASE,
)
_NOT_FOUND_KO = re.compile(
    r"찾을\s*수\s*(?:없|가\s*없)|찾지\s*못|알\s*수\s*(?:없|가\s*없)|정보(?:가|는)?\s*없|결과(?:가|에)?\s*없|"
    r"모르겠|확인할\s*수\s*없|나와\s*있지\s*않|포함되어\s*있지\s*않|언급되어\s*있지\s*않"
)


def is_not_found(answer: str | None) -> bool:
    """The answer says the information was not found (the fixed form or a looser variant)."""
    if not answer or not answer.strip():
        return False
    text = answer.replace("’", "'").strip()
    if text in (NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO):
        return True
    return bool(_NOT_FOUND_EN.search(text) or _NOT_FOUND_KO.search(text))


def is_useless_observation(text: str | None) -> bool:
    """An observation that holds nothing: empty, "No good search result found." or an error."""
    body = _strip_prefix(text or "").strip()
    return not body or body.startswith(NO_RESULTS) or body.startswith("Error:")


def _strip_prefix(text: str) -> str:
    return text[len(LOCAL_PREFIX) :] if text.startswith(LOCAL_PREFIX) else text


# ------------------------------------------------------------------------------------ normalising
def normalize(text: str) -> str:
    """Lower case, accents and punctuation removed, possessive 's dropped, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    # accents go; Hangul syllables (decomposed into jamo by NFKD) are composed back
    plain = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c))).lower()
    plain = re.sub(r"'s\b", "", plain)
    return " ".join(re.sub(r"[^\w\s]|_", " ", plain).split())


def _contains(haystack: str, needle: str) -> bool:
    """Whole-word containment of normalised texts."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def _word_forms(word: str) -> set[str]:
    """A word and its singular/plural neighbours (Australians ~ Australian)."""
    forms = {word}
    if word.endswith("es") and len(word) > 4:
        forms.add(word[:-2])
    if word.endswith("s") and len(word) > 3:
        forms.add(word[:-1])
    forms.add(word + "s")
    return forms


# ---------------------------------------------------------------------------------------- numbers
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


def _values(text: str) -> list[float]:
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
def _is_constant(v: float) -> bool:
    a = abs(v)
    if a <= 12 and float(a).is_integer():
        return True
    if a in (0.5, 0.25, 24, 60, 365, 366, 3.14, 3.1416, 3.14159):
        return True
    return a >= 10 and math.isclose(math.log10(a), round(math.log10(a)), abs_tol=1e-12)


# ------------------------------------------------------------------------------ country records
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
# Korean names of countries (record title -> Hangul, alternatives after "|"): the ones
# finetune.generators.korean writes, and a few other common names. A question in Hangul that does not
# name one of these countries is not about it, whatever the search query says.
COUNTRY_NAMES_KO: dict[str, str] = {
    "Japan": "일본", "China": "중국", "United States": "미국|미합중국", "United Kingdom": "영국|잉글랜드",
    "France": "프랑스", "Germany": "독일", "Italy": "이탈리아", "Spain": "스페인", "Portugal": "포르투갈",
    "Netherlands": "네덜란드|홀란드", "Belgium": "벨기에", "Switzerland": "스위스", "Austria": "오스트리아",
    "Sweden": "스웨덴", "Norway": "노르웨이", "Denmark": "덴마크", "Finland": "핀란드", "Poland": "폴란드",
    "Czech Republic": "체코", "Hungary": "헝가리", "Greece": "그리스", "Turkey": "터키|튀르키예", "Russia": "러시아",
    "Ukraine": "우크라이나", "India": "인도", "Pakistan": "파키스탄", "Bangladesh": "방글라데시",
    "Indonesia": "인도네시아", "Malaysia": "말레이시아", "Thailand": "태국", "Vietnam": "베트남",
    "Philippines": "필리핀", "Singapore": "싱가포르", "Mongolia": "몽골", "Canada": "캐나다", "Mexico": "멕시코",
    "Brazil": "브라질", "Argentina": "아르헨티나", "Chile": "칠레", "Peru": "페루", "Colombia": "콜롬비아",
    "Venezuela": "베네수엘라", "Egypt": "이집트", "Nigeria": "나이지리아", "Kenya": "케냐", "Ethiopia": "에티오피아",
    "South Africa": "남아프리카 공화국", "Morocco": "모로코", "Algeria": "알제리", "Australia": "호주|오스트레일리아",
    "New Zealand": "뉴질랜드", "Iran": "이란", "Iraq": "이라크", "Saudi Arabia": "사우디아라비아",
    "Israel": "이스라엘", "Ireland": "아일랜드", "Iceland": "아이슬란드", "Cuba": "쿠바", "Cambodia": "캄보디아",
    "Laos": "라오스", "Nepal": "네팔", "Sri Lanka": "스리랑카", "Romania": "루마니아", "Bulgaria": "불가리아",
    "Serbia": "세르비아", "Croatia": "크로아티아", "South Korea": "대한민국|한국",
    "North Korea": "북한|조선민주주의인민공화국", "Ghana": "가나", "Tanzania": "탄자니아", "Uganda": "우간다",
    "Kazakhstan": "카자흐스탄", "Uzbekistan": "우즈베키스탄", "Syria": "시리아", "Jordan": "요르단",
    "Qatar": "카타르", "Kuwait": "쿠웨이트", "Myanmar": "미얀마", "Bolivia": "볼리비아", "Ecuador": "에콰도르",
    "Uruguay": "우루과이", "Paraguay": "파라과이", "Estonia": "에스토니아", "Latvia": "라트비아",
    "Lithuania": "리투아니아", "Slovakia": "슬로바키아", "Slovenia": "슬로베니아",
}  # fmt: skip
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


def _split_records(index: int, text: str) -> list[Segment]:
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


def _title_forms(title: str) -> list[str]:
    forms = {title}
    base = re.sub(r"\s*\(.*?\)\s*", " ", title).strip()
    forms.add(base)
    if base.startswith("the "):
        forms.add(base[4:])
    forms.update(COUNTRY_ALIASES.get(title, ()))
    return [f for f in forms if f]


def names_country(title: str, text: str) -> bool:
    """Does normalised ``text`` name the country of a record (its title, an alias or a stem)?"""
    if any(_contains(text, form) for form in _title_forms(title)):
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
    if not _contains(question, capital):
        return False
    rest = f" {question} ".replace(f" {capital} ", " ")
    return not names_country(seg.title, rest.strip())


def _field_asked(name: str, asked: str) -> bool:
    """Does the (normalised) question + answer mention this record field?"""
    for word in FIELD_WORDS.get(name, ()):
        if _contains(asked, word) or (not word.isascii() and word in asked):  # Korean: inside a word
            return True
    return False


# ------------------------------------------------------------------------------------------ names
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
_KO_ENDINGS = sorted(
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
    stem = re.sub(r"[\d.,]+", "", word)
    changed = True
    while changed and stem:
        changed = False
        for ending in _KO_ENDINGS:
            if stem.endswith(ending) and len(stem) > len(ending):
                stem, changed = stem[: -len(ending)], True
                break
    stem = stem.strip("'’\"")
    if len(stem) < 2 or stem in _KO_COMMON or all(c in "만억조천백십" for c in stem):
        return []
    return [NameClaim(stem, tok.start(), stem, "other")]


def _name_in(norm: str, script: str, text: str) -> bool:
    if script == "other":
        return norm in text.replace(" ", "") or norm in text
    return _contains(text, norm)


def _words_in(norm: str, texts: Iterable[str]) -> bool:
    """Every content word of a span in one of the texts (a span the evidence spells apart)."""
    words = [w for w in norm.split() if w not in _CONNECTORS]
    bag: set[str] = set()
    for t in texts:
        bag.update(t.split())
    return bool(words) and all(_word_forms(w) & bag for w in words)


# ------------------------------------------------------------------------------------------ check
def _korean_query_allows(question: str) -> Callable[[str], bool]:
    """For a question in Hangul: may a search query make this (normalised) record title on topic?

    Not when the question names another country of COUNTRY_NAMES_KO ("이라크의 국토 면적은?" searched as
    "area of Saudi Arabia"; "호주의 수도는?" as "capital of Honduras"), nor when the country has a
    Korean name the question does not use ("와칸다의 수도는?" searched as "capital of Japan")."""
    if not any("\uac00" <= c <= "\ud7a3" for c in question):
        return lambda title: True
    compact = question.replace(" ", "")
    named = {
        normalize(title)
        for title, names in COUNTRY_NAMES_KO.items()
        if any(ko.replace(" ", "") in compact for ko in names.split("|"))
    }
    known = {normalize(title) for title in COUNTRY_NAMES_KO}
    return lambda title: title in named or (not named and title not in known)


def _segments(question: str, observations: Sequence[Observation]) -> list[Segment]:
    qn = normalize(question)
    query_allows = _korean_query_allows(question)
    segments: list[Segment] = []
    for obs in observations:
        if is_useless_observation(obs.text):
            continue
        text = _strip_prefix(obs.text)
        if obs.tool == CALCULATOR_NAME:
            segments.append(Segment(obs.index, normalize(text), text, calc=True))
            continue
        query = normalize(obs.tool_input)
        for seg in _split_records(obs.index, text):
            if seg.title is not None:
                by_query = names_country(seg.title, query) and query_allows(seg.title)
                named = names_country(seg.title, qn) or by_query
                seg.on_topic = named and not _capital_conflict(seg, qn)
            segments.append(seg)
    return segments


@dataclass
class _Pool:
    """Evidence numbers: (value, step index or None for the question)."""

    values: list[tuple[float, int | None]] = field(default_factory=list)

    def find(self, claim: NumberClaim) -> tuple[bool, int | None]:
        for v, idx in self.values:
            if claim.matches(v):
                return True, idx
        return False, None


def _number_pool(question: str, answer: str, segments: Sequence[Segment], qnums: Sequence[float]) -> _Pool:
    asked = normalize(question)
    pool = _Pool([(v, None) for v in qnums])
    for seg in segments:
        if seg.calc:
            continue  # calculator results join in step order below
        if seg.title is None:
            pool.values += [(v, seg.index) for v in _values(seg.raw)]
        elif seg.on_topic:
            for name, value in seg.raw_fields.items():
                if _field_asked(name, asked):
                    pool.values += [(v, seg.index) for v in _values(value)]
    return pool


def check(question: str, answer: str | None, observations: Sequence[Observation]) -> Grounding:
    """Ground a final answer in the question and the run's tool observations (see the module doc)."""
    if answer is None or not answer.strip():
        return Grounding(supported=False)
    if is_not_found(answer):
        return Grounding(supported=True, not_found=True)
    qn = normalize(question)
    asked = normalize(question)
    segments = _segments(question, observations)
    qnums = _values(question)
    pool = _number_pool(question, answer, segments, qnums)
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
            if _is_constant(c.value):
                continue
            hit, idx = pool.find(c)
            if not hit:
                ok = False
                break
            if idx is not None:
                used.append(idx)
        if ok:
            # a difference is also stated by its size ("A has 9,471,597 fewer people than B")
            pool.values += [(x, seg.index) for v in _values(seg.raw) for x in {v, abs(v)}]
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

    qnames = _question_names(question)
    for name in name_claims(answer):
        if _from_question(name, question, qn):
            continue
        claimed = True
        idx = _find_name(name, segments, asked, question, answer)
        if idx is not None:
            cite(idx)
            continue
        # "Iran and Nepal" is two names of a list unless the evidence holds it as one
        for part in _list_parts(name):
            if _from_question(part, question, qn):
                continue
            idx = _find_name(part, segments, asked, question, answer)
            if idx is None:
                unsupported.append((part.start, part.span))
            else:
                cite(idx)

    # a record about another country than the one asked is no evidence for an answer without claims
    useful = [s for s in segments if s.on_topic or s.calc or s.title is None]
    if not claimed:
        if not useful:
            unsupported.append((0, answer.strip()))
        elif (restated := _restated_value(question, answer, segments)) is not None:
            evidence.add(restated)  # "The capital of Monaco is Monaco.", "Luxembourg is the capital of Luxembourg."
        elif _echoes(question, answer) and not _yes_no_or_choice(question, answer, qnames):
            unsupported.append((0, answer.strip()))
        else:
            evidence.update(s.index for s in useful)
    spans = [s for _, s in sorted(unsupported)]
    return Grounding(
        supported=not spans,
        unsupported=list(dict.fromkeys(spans)),
        evidence=sorted(evidence),
    )


def _question_names(question: str) -> list[str]:
    """The question's own names, normalised, lists split ("Which of Chad, Mali and Niger ..." has three)."""
    return list(dict.fromkeys(p.norm for c in name_claims(question) if c.script == "latin" for p in _list_parts(c)))


def _from_question(name: NameClaim, question: str, qn: str) -> bool:
    """The answer's name is the question's own, not a part of a longer name of the question.

    "Mexico" in "Mexico City is the capital of which country?", "Bissau" in "the Guinea-Bissau
    capital" and "Saint-Pierre" in "Saint Pierre and Miquelon" are claims: the question names one
    thing, the answer another."""
    if name.script != "latin":
        return _name_in(name.norm, name.script, qn)
    rest = f" {qn} "
    longer_names = {c.norm for c in name_claims(question) if c.script == "latin"}
    for longer in sorted(longer_names, key=len, reverse=True):
        if longer != name.norm and _contains(longer, name.norm):
            rest = rest.replace(f" {longer} ", " | ")
    rest = rest.strip()
    return _contains(rest, name.norm) or _words_in(name.norm, [rest])


def _list_parts(name: NameClaim) -> list[NameClaim]:
    """A span split at the list words inside it (and, or, y, e, &); itself when it has none."""
    parts: list[NameClaim] = []
    offset = 0
    for m in re.finditer(r"\s+(?:and|or|y|e|&)\s+|$", name.span):
        piece = name.span[offset : m.start()]
        if piece.strip():
            parts.append(NameClaim(piece, name.start + offset, normalize(piece), name.script))
        offset = m.end()
    return parts or [name]


def _record_named_by(seg: Segment, question: str) -> bool:
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
            if _contains(qn, part_n):
                return True
    qnums = {round(v) for v in _values(question)}
    return any(round(v) in qnums for f in ("population", "area") for v in _values(seg.raw_fields.get(f, "")))


def _find_name(name: NameClaim, segments: Sequence[Segment], asked: str, question: str, answer: str) -> int | None:
    """The step whose observation supports a name, or None."""
    for seg in segments:
        if seg.title is None or seg.calc:
            if _name_in(name.norm, name.script, seg.text):
                return seg.index
            continue
        if name.norm in _title_forms(seg.title) and (
            seg.on_topic or (_asks_for_country(question) and _record_named_by(seg, question))
        ):
            return seg.index  # a record supports its own title (a reverse lookup)
        if not seg.on_topic:
            continue
        if any(_name_in(name.norm, name.script, seg.fields[f]) for f in _usable_fields(seg, asked, answer)):
            return seg.index
    # a span the records spell apart ("Bosnia and Herzegovina" written over two fields) or split words
    if name.script == "latin" and len(name.norm.split()) > 1:
        texts = {s.index: s.text for s in reversed(segments) if s.title is None and not s.calc}
        for s in segments:
            if s.title is not None and s.on_topic:
                usable = " ".join(s.fields[f] for f in _usable_fields(s, asked, answer))
                texts[s.index] = f"{texts.get(s.index, '')} {s.title} {usable}"
        for index, text in sorted(texts.items()):
            if _words_in(name.norm, [text]):
                return index
        if _words_in(name.norm, texts.values()):
            return min(texts)
    return None


def _usable_fields(seg: Segment, asked: str, answer: str) -> list[str]:
    """The fields of an on-topic record a name of the answer may come from.

    The fields the question asks about; all of them once the answer states an asked one ("Canberra
    is the capital, in Oceania"), none when the question asks about nothing the record holds. "In
    which city is the government of Honduras seated?" -> "... in El Salvador" takes a border for the
    capital it never states."""
    asked_fields = [f for f in seg.fields if _field_asked(f, asked)]
    if not asked_fields:
        return []
    if any(_states_field(seg, f, answer) for f in asked_fields):
        return list(seg.fields)
    return asked_fields


def _states_field(seg: Segment, name: str, answer: str) -> bool:
    """The answer holds this record field's value (a number of it, or one item of its list)."""
    raw = seg.raw_fields.get(name, "")
    if name in ("population", "area"):
        values = _values(raw)
        return any(c.matches(v) for c in parse_numbers(answer) for v in values)
    a = normalize(answer)
    return any(len(n) >= 2 and _contains(a, n) for n in (normalize(part) for part in raw.split(", ")))


_STOP = frozenset(
    """a an the is are was were be of in on at to for and or what which who whom whose how many much
    does do did it its this that there has have had with by from as than per please tell me i you""".split()
)


def _content(text: str) -> set[str]:
    return {w for w in normalize(text).split() if w not in _STOP and not w.isdigit()}


def _echoes(question: str, answer: str) -> bool:
    """The answer's words are all the question's: it restates rather than answers."""
    return _content(answer) <= _content(question)


_YES_NO = re.compile(r"^\s*(?:yes|no|yeah|nope|correct|incorrect|true|false|네|예|아니|맞|틀)", re.IGNORECASE)


_CHOICE_WORDS = ("which", "who", "whichever", "between", "or", "than")


def _yes_no_or_choice(question: str, answer: str, qnames: Sequence[str] = ()) -> bool:
    """A yes/no answer, or a choice among the options the question offers.

    "Which of Chad, Mali and Niger has the largest population?" -> "Niger has the largest population."
    names one of the question's names (not all of them): a choice, not a restatement."""
    if _YES_NO.match(answer):
        return True
    q = normalize(question)
    if _contains(q, "or") or "중" in question or "어느" in question or "또는" in question:
        return True
    if len(qnames) < 2 or not any(_contains(q, w) for w in _CHOICE_WORDS):
        return False
    a = normalize(answer)
    chosen = [n for n in qnames if _contains(a, n)]
    return 0 < len(chosen) < len(qnames)


_COUNTRY_ASKED = ("country", "countries", "nation", "nations", "where", "located", "나라", "국가", "어디")


def _asks_for_country(question: str) -> bool:
    """The question asks which country (a reverse lookup), not about a thing a record merely names."""
    q = normalize(question)
    return any(_contains(q, w) or (not w.isascii() and w in q) for w in _COUNTRY_ASKED)


def _restated_value(question: str, answer: str, segments: Sequence[Segment]) -> int | None:
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
                if name not in ("population", "area") and _field_asked(name, asked) and _contains(a, value):
                    return seg.index
        if _asks_for_country(question) and _record_named_by(seg, question):
            if any(_contains(a, form) for form in _title_forms(seg.title)):
                return seg.index
    return None
