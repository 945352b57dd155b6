"""The document step of the check: is the sentence that holds an answer's value about what was asked?

A number or name of the answer found in a prose observation (a local-search document, not a country
record, not a Calculator result) is supported only when some sentence holding it

1. comes from a document that names the question's entity (its proper-name phrase: case, accents,
   possessives and a leading "the" ignored), and
2. states the asked attribute: a content word of the question outside the entity name appears in the
   sentence, as written, as a word form (``text.word_forms``, a shared stem of five letters:
   employees ~ employs) or through ``SYNONYMS``.

"How much does a croissant cost at Orbit Coffee?" -> "A croissant costs 3 dollars." from Harbor Street
Bakery's document fails (1); "How many visitors does Brookfield Zoo get each year?" -> "1,900" from
"Brookfield Zoo is home to 1,900 animals." fails (2).

A question that writes no name in capitals ("how wide is alder lake") takes its entity from the observations
(``run_entities``: a phrase of the question that a document's title or a name in its text spells).
Nothing is asked of a country record (``records`` reads those field by field), of a question whose entity
neither it nor a document names, of a Korean question, of a claim only a record or the question holds, or of an answer
computed by the Calculator (its inputs are checked as numbers).
A document starts where the search tool wrote "Title: # Title" (``agent.tools.search.format_hits``);
an observation without such marks is one document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from agent.grounding.model import Observation
from agent.grounding.names import name_claims, name_in
from agent.grounding.not_found import is_useless_observation
from agent.grounding.numbers import NumberClaim, evidence_values, is_constant, parse_numbers
from agent.grounding.operations import asks_computation
from agent.grounding.records import split_records
from agent.grounding.text import normalize, same_stem, strip_prefix
from agent.prompt import CALCULATOR_NAME

# Question words that name no attribute: wh-words, auxiliaries, units of time and counting
_QUESTION_WORDS = frozenset(
    """a an the is are was were be been being of in on at to for and or what which who whom whose how many
    much does do did it its this that there has have had with by from as than per please tell me i you
    when where why whats name give find say says said can could would will should get gets got each every
    year years annual annually yearly day days week weeks month months currently current now today total
    number amount exactly approximately about roughly all one his her their they he she we our us
    know any some my your need needs must should may might come comes came""".split()
)

# Question words and the evidence words that state the same attribute. Data, not logic: each entry is
# one a generated document of ``finetune.generators.document_types`` states in other words.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "employees": ("staff", "people", "workforce", "workers", "employs", "employ"),
    "work": ("staff", "employs", "employees", "workforce", "people"),
    "people": ("staff", "employees", "employs", "inhabitants", "residents", "population", "live"),
    "cost": ("price", "priced", "costs", "dollars", "sells", "ticket", "fare", "pay", "pays", "paid", "charge", "fee"),
    "price": ("cost", "costs", "priced", "sells", "dollars", "pay", "pays", "paid", "charge", "fee"),
    "charge": ("cost", "costs", "price", "priced", "pay", "pays", "paid", "fee", "fees"),  # rule G20a
    "expensive": ("cost", "costs", "price", "priced", "dollars"),
    "ceo": ("chief", "executive", "led", "leads", "head", "heads", "runs", "run"),
    "lead": ("ceo", "chief", "executive", "led", "mayor", "head", "heads", "runs"),
    "leads": ("ceo", "chief", "executive", "led", "mayor", "head", "heads", "runs"),
    "mayor": ("led", "leads", "head", "heads", "runs"),
    "headquartered": ("headquarters", "head", "office", "based", "hq"),
    "headquarters": ("headquartered", "head", "office", "based", "hq"),
    "based": ("headquarters", "headquartered", "head", "office"),
    "founded": ("established", "founding", "since", "opened", "started", "set", "dates"),
    "established": ("founded", "since", "opened", "started", "dates"),
    "first": ("founded", "established", "opened", "began", "started", "since"),
    "held": ("takes", "place", "venue", "hosted", "hosts", "located", "month", "runs", "each"),
    "take": ("held", "month", "each", "every", "runs"),
    "place": ("held", "month", "venue", "located", "each", "every"),
    "city": ("held", "headquartered", "headquarters", "located", "based", "town", "office", "venue"),
    "town": ("held", "headquartered", "located", "based", "city", "home", "hometown", "grew", "from", "venue"),
    "head": ("headquartered", "headquarters", "hq", "based"),
    "office": ("headquartered", "headquarters", "hq", "based", "offices"),
    "company": ("works", "employer", "employed", "employs", "employee"),
    "employs": ("works", "employer", "employed", "employee", "staff", "people"),
    "come": ("home", "town", "hometown", "grew", "from", "born"),
    "old": ("founded", "established", "born", "age", "since", "built", "opened"),
    "born": ("birth", "age", "aged"),
    "revenue": ("revenues", "sales", "turnover", "earned", "brought"),
    "weigh": ("weight", "weighs", "kilograms", "kg", "grams"),
    "heavy": ("weight", "weighs", "kilograms", "kg", "grams"),
    "tall": ("height", "cm", "metres", "meters", "centimetres"),
    "height": ("tall", "cm", "metres", "meters", "centimetres"),
    "long": ("length", "kilometres", "km", "metres", "miles", "hours", "minutes", "days", "lasts", "runs"),
    "begin": ("began", "first", "held", "started", "start", "opened", "since"),
    "start": ("began", "begin", "first", "held", "started", "opened", "since"),
    "far": ("length", "kilometres", "km", "distance", "miles"),
    "big": ("area", "covers", "size", "square"),
    "large": ("area", "covers", "size", "square"),
    "area": ("covers", "square", "km"),
    "population": ("people", "inhabitants", "residents", "live", "lives", "home"),
    "live": ("population", "inhabitants", "residents", "people", "home", "lives"),
    "inhabitants": ("population", "residents", "people", "live"),
    "elevation": ("altitude", "sits", "metres", "m", "above"),
    "high": ("elevation", "altitude", "sits", "height", "tall", "metres", "m"),
    "altitude": ("elevation", "sits", "metres", "m"),
    "river": ("runs", "flows"),
    "colour": ("color", "comes"),
    "color": ("colour", "comes"),
    "maker": ("makes", "made", "manufacturer", "produced", "produces", "built", "by"),
    "makes": ("maker", "made", "manufacturer", "produced", "produces", "built"),
    "made": ("maker", "makes", "manufacturer", "produced", "produces", "built"),
    "released": ("release", "launched", "came", "out", "introduced"),
    "warranty": ("guarantee", "guaranteed", "covered"),
    "battery": ("charge", "runs", "lasts", "hours"),
    "last": ("battery", "lasts", "hours", "runs", "charge", "duration", "days"),
    "offices": ("office", "branches", "locations", "sites", "runs"),
    "job": ("works", "work", "role", "position", "title", "employed"),
    "works": ("employed", "employer", "job", "work", "role"),
    "employer": ("employed", "works", "work", "job"),
    "hometown": ("home", "town", "grew", "born", "from", "comes"),
    "stations": ("stops", "station", "stop"),
    "stops": ("stations", "station", "stop"),
    "ticket": ("fare", "costs", "price", "dollars"),
    "fare": ("ticket", "costs", "price", "dollars"),
    "operates": ("operator", "run", "runs", "operated"),
    "runs": ("operator", "operates", "operated", "ceo", "chief", "executive", "led", "head", "mayor"),
    "visitors": ("attended", "attendance", "attendees", "people", "draws", "visits", "visit"),
    "attendance": ("attended", "visitors", "people", "attendees", "came"),
    "attend": ("attended", "attendance", "visitors", "attendees", "came"),
    "venue": ("held", "takes", "place", "hosted", "hosts"),
    "organises": ("organised", "organizer", "organiser", "organized", "organizes", "run", "runs"),
    "organizes": ("organised", "organizer", "organiser", "organized", "organises", "run", "runs"),
    "speed": ("fast", "fastest", "top", "km"),
    "fast": ("speed", "fastest", "top", "km"),
}

# a title may hold a colon ("Corrander Systems: Annual Leave and Absence Policy: # Corrander Systems: ..."; rule G19d)
_DOC_START = re.compile(r"(?:^|(?<=\s))([^\s:#][^#]{0,150}?): # \1(?!\w)")
# a sentence ends at . ! ? (not after a title such as "Mr."), a list item at " - ", a heading at "#"
_SENTENCE_END = re.compile(
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\s+-\s+|\s*#\s+"
)


def entity_forms(question: str) -> list[str]:
    """The question's proper-name phrases, normalised, without a leading "the"."""
    if re.search("[\uac00-\ud7a3]", question):
        return []
    forms = []
    for claim in name_claims(question):
        if claim.script != "latin":
            continue
        norm = re.sub(r"^the ", "", claim.norm)
        if norm and not norm.isdigit():
            forms.append(norm)
            if " of " in f" {norm} ":  # "CEO of Korbel Outfitters": the entity is what follows "of"
                tail = re.sub(r"^the ", "", norm.rsplit(" of ", 1)[-1]) if " of " in norm else ""
                if tail:
                    forms.append(tail)
    return forms


def run_entities(question: str, observations: Sequence[Observation]) -> list[str]:
    """``entity_forms(question)``; for a question that writes no name ("how wide is alder lake"), the phrases of
    the question that an observation writes as a name: a document's title ("Alder Lake"), a word-prefix of two or
    more of its words ("Kestrel K2" of "Kestrel K2 drone"), or a capitalised span of two or more words in its text
    ("made by Nova Mobile"). The longest phrases win; one inside another is dropped."""
    forms = entity_forms(question)
    if forms or re.search("[\uac00-\ud7a3]", question):
        return forms
    names: set[str] = set()
    for obs in observations:
        if obs.tool == CALCULATOR_NAME or is_useless_observation(obs.text):
            continue
        text = strip_prefix(obs.text)
        for m in _DOC_START.finditer(text):
            words = re.sub(r"^the ", "", normalize(m.group(1))).split()
            names.update(" ".join(words[:k]) for k in range(2, len(words) + 1))
            names.add(" ".join(words))
        names.update(re.sub(r"^the ", "", c.norm) for c in name_claims(text) if c.script == "latin" and " " in c.norm)
    asked = f" {normalize(question)} "
    found: list[str] = []
    for name in sorted((n for n in names if n and f" {n} " in asked), key=len, reverse=True):
        if not any(f" {name} " in f" {longer} " for longer in found):
            found.append(name)
    return found


def attribute_words(question: str, entities: Sequence[str]) -> list[str]:
    """Content words of the question that are not part of its entity names."""
    inside = {w for e in entities for w in e.split()}
    words = []
    for w in normalize(question).split():
        if w in _QUESTION_WORDS or w in inside or w.isdigit() or len(w) < 2:
            continue
        words.append(w)
    return list(dict.fromkeys(words))


def states_attribute(sentence: str, attributes: Sequence[str]) -> bool:
    """Does the normalised sentence state one of the asked attributes (a form or synonym of it)?"""
    words = sentence.split()
    for a in attributes:
        targets = {a, *SYNONYMS.get(a, ())}
        for s in list(targets):
            targets.update(SYNONYMS.get(s, ()))
        if any(same_stem(t, w) for t in targets for w in words):
            return True
        if any(_loose_match(a, w) for w in words):  # rule G16c: the verb forms the every-word reading accepts
            return True
    return False


def titled_documents(text: str) -> list[tuple[str, str | None]]:
    """An observation split into its documents, each with its title: at the search tool's "Title: # Title" marks,
    and at "Title: " where a later part of a document seen in the observation starts (rule G19d); a part before
    any mark has no title."""
    marks = list(_DOC_START.finditer(text))
    starts = {m.start(): m.group(1) for m in marks}
    for title in {m.group(1) for m in marks}:
        for c in re.finditer(rf"(?:^|(?<=\s)){re.escape(title)}: (?!# )", text):
            starts.setdefault(c.start(), title)
    if not starts:
        return [(text, None)]
    first = min(starts)
    bounds = [0, *sorted(starts)] if text[:first].strip() else sorted(starts)
    return [
        (text[s:e], starts.get(s)) for s, e in zip(bounds, [*bounds[1:], len(text)], strict=True) if text[s:e].strip()
    ]


def documents_of(text: str) -> list[str]:
    """An observation split into its documents (``titled_documents`` without the titles)."""
    return [doc for doc, _ in titled_documents(text)]


def sentences_of(document: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(document) if s.strip()]


# "Which company makes ...", "In which city ...", "what year ...": the word names the answer's type, not an attribute
_TYPE_WORD = re.compile(r"\b(?:which|what)\s+(\w+)")
# English irregular verb forms (base, past, participle), which no plural or prefix match reaches: a general
# table, not a list of the eval sets' words
_IRREGULAR_VERBS = """\
    arise arose arisen; be was were been; bear bore born borne; beat beat beaten; become became; begin began
    begun; bend bent; bet bet; bind bound; bite bit bitten; bleed bled; blow blew blown; break broke broken; breed
    bred; bring brought; build built; burn burnt burned; buy bought; catch caught; choose chose chosen; come came;
    cost cost; creep crept; cut cut; deal dealt; dig dug; do did done; draw drew drawn; dream dreamt; drink drank
    drunk; drive drove driven; eat ate eaten; fall fell fallen; feed fed; feel felt; fight fought; find found;
    flee fled; fly flew flown flies flight; forbid forbade forbidden; forget forgot forgotten; freeze froze
    frozen; get got gotten; give gave given; go went gone goes; grind ground; grow grew grown; hang hung; have had
    has; hear heard; hide hid hidden; hit hit; hold held; hurt hurt; keep kept; kneel knelt; know knew known; lay
    laid; lead led; leap leapt; learn learnt; leave left; lend lent; let let; lie lay lain; light lit; lose lost;
    make made; mean meant; meet met; pay paid; put put; quit quit; read read; ride rode ridden; ring rang rung;
    rise rose risen; run ran; say said; see saw seen; seek sought; sell sold; send sent; set set; shake shook
    shaken; shine shone; shoot shot; show showed shown; shrink shrank shrunk; shut shut; sing sang sung; sink sank
    sunk; sit sat; sleep slept; slide slid; speak spoke spoken; speed sped; spend spent; spin spun; split split;
    spread spread; spring sprang sprung; stand stood; steal stole stolen; stick stuck; sting stung; strike struck;
    swear swore sworn; sweep swept; swim swam swum; swing swung; take took taken; teach taught; tear tore torn;
    tell told; think thought; throw threw thrown; understand understood; wake woke woken; wear wore worn; weave
    wove woven; weep wept; win won; wind wound; write wrote written"""
_VERB_GROUPS: dict[str, set[int]] = {}  # a verb form -> the groups (one per verb) it belongs to
for _i, _forms in enumerate(" ".join(_IRREGULAR_VERBS.split()).split("; ")):
    for _form in _forms.split():
        _VERB_GROUPS.setdefault(_form, set()).add(_i)


def _verb_groups(word: str) -> set[int]:
    """The irregular verbs ``word`` is a form of, its third person included ("keeps": keep)."""
    groups = _VERB_GROUPS.get(word, set())
    if not groups and len(word) > 3 and word.endswith("s"):
        groups = _VERB_GROUPS.get(word[:-1], set())
    return groups


def _loose_match(a: str, b: str) -> bool:
    """A shared stem: ``text.same_stem``, a common prefix of all but the last two letters of the shorter word (three at
    least: owns ~ owned, study ~ studied), or two forms of one irregular verb (grow ~ grew, keeps ~ kept)."""
    if same_stem(a, b):
        return True
    n = min(len(a), len(b))
    k = max(3, n - 2)
    if n >= 3 and a[:k] == b[:k]:
        return True
    return bool(_verb_groups(a) & _verb_groups(b))


# degree words of a quantity ("the largest number of cars it can carry"): the sentence states the number, not them
_DEGREE_WORDS = frozenset("largest biggest greatest maximum max most smallest least minimum".split())
# what the every-word reading also accepts for a word: unit abbreviations and a few everyday equivalents
EVERY_WORD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "kilograms": ("kg",), "grams": ("g",), "kilometres": ("km",), "kilometers": ("km",), "metres": ("m",),
    "meters": ("m",), "centimetres": ("cm",), "litres": ("l",), "hours": ("h",), "minutes": ("min",),
    "run": ("held", "runs", "ran"), "holds": ("set", "holder", "held"), "capacity": ("holds", "hold", "holding"),
    # a speed is stated by its unit ("6 metres per second", "25 km/h", "14 knots")
    "fast": ("speed", "second", "hour", "km", "kmh", "mph", "knots", "travel", "travels"),
    "speed": ("fast", "second", "hour", "km", "kmh", "mph", "knots", "travel", "travels"),
}  # fmt: skip


def type_words(question: str) -> set[str]:
    """The words the every-word reading asks of no sentence: the one that names the answer's type ("Which company
    ...": company) and degree words ("the largest number of ...")."""
    return set(_TYPE_WORD.findall(normalize(question))) | _DEGREE_WORDS


def _states(a: str, word: str) -> bool:
    """Does one word state the asked attribute ``a`` (a form, its own synonym — not a synonym's synonym —, a stem, a
    unit or verb form of it)?"""
    targets = {a, *SYNONYMS.get(a, ())}
    return any(same_stem(t, word) for t in targets) or any(
        _loose_match(t, word) for t in (a, *EVERY_WORD_SYNONYMS.get(a, ()))
    )


def states_every_attribute(sentence: str, attributes: Sequence[str], title: str = "") -> bool:
    """Does the normalised sentence state each asked attribute, **each by a word of its own** (a one-to-one
    matching: "About 3,200 people work in it" states *people* but not also *live*, its synonym)? A word of the
    document's title counts as stated (the "lamp" of "Lumen X3 lamp")."""
    words = [*sentence.split(), *title.split()]
    candidates = [{i for i, w in enumerate(words) if _states(a, w)} for a in attributes]
    owner: dict[int, int] = {}  # word index -> the attribute it states

    def place(k: int, seen: set[int]) -> bool:  # Kuhn's augmenting path
        for i in candidates[k] - seen:
            seen.add(i)
            if i not in owner or place(owner[i], seen):
                owner[i] = k
                return True
        return False

    return all(place(k, set()) for k in range(len(attributes)))


# words that end the counted noun phrase of "how many ...", and words after a number that name no counted thing
_COUNT_STOP = frozenset(
    """do does did is are was were be been can could will would should has have had of in at on for per there to from
    by with that which who this these those it its they he she we you live lives work works""".split()
)
_NOT_COUNTED = frozenset(
    """and or of in at on for per to from by with a an the more fewer less than times percent cent million
    billion thousand hundred dozen about around over under some each every all altogether together total""".split()
)


# "What time does it open?" asks a time of day: "9 am", "10:30", "noon" (rule G16c), not "in 1998"
_TIME_ASKED = re.compile(r"\bwhat time\b", re.I)
_TIME_OF_DAY = re.compile(
    r"\b\d{1,2}(?:[:.]\d{2})?\s*(?:a\.?m\.?|p\.?m\.?|o'clock|h)\b|\b\d{1,2}[:.]\d{2}\b|\b(?:noon|midday|midnight)\b"
    r"|\b(?:at|by|until|till|from|to)\s+\d{1,2}\b(?![,.]?\d)",  # "check-out is at 11"
    re.I,
)


# words before "number of" that make it a count ("the number of orchids", "total number of"), not a phone or bus number
_COUNT_NUMBER_BEFORE = frozenset("the a what whats total overall exact approximate current".split())


def counted_words(question: str) -> list[str]:
    """The words of "how many <words>" — or of "(the / total) number of <words>" (rule G16e) — up to a verb or
    preposition ("How many nesting pairs of ospreys ...": nesting, pairs; "number of orchids in ...": orchids); empty
    for any other question."""
    words = normalize(question).split()
    for i in range(len(words) - 1):
        count = words[i] == "how" and words[i + 1] == "many"
        count = count or (
            words[i] == "number" and words[i + 1] == "of" and (i == 0 or words[i - 1] in _COUNT_NUMBER_BEFORE)
        )
        if count:
            out = []
            for w in words[i + 2 :]:
                if w in _COUNT_STOP:
                    break
                out.append(w)
            return out
    return []


def _counted_after(answer: str, end: int) -> str | None:
    """The word right after a number of the answer when it names a counted thing ("39 floors": floors); None when
    it is a function word, a number word or a verb form ("41 finished")."""
    m = re.match(r"\s+([A-Za-z][A-Za-z-]*)", answer[end:])
    if not m:
        return None
    word = normalize(m.group(1))
    if word in _NOT_COUNTED or len(word) < 3 or word.endswith(("ed", "ing")) or word.isdigit():
        return None
    return word


def _asked_years(values: Sequence[float]) -> list[float]:
    """The years among a question's numbers ("... sell in 2015?")."""
    return [v for v in values if float(v).is_integer() and 1000 <= v <= 2100]


def _holds_year(sentence: str, year: float) -> bool:
    return any(v == year for v in evidence_values(sentence))


def unstated_claims(
    question: str,
    answer: str,
    observations: Sequence[Observation],
    calc_steps: Sequence[int] = (),
    every_word: bool = False,
) -> list[str]:
    """Reasons, one per claim of the answer held only by sentences that are not about what was asked.

    ``calc_steps``: steps whose Calculator result supports the answer (then nothing is asked). ``every_word``
    (``QREACT_GROUNDING_EVERY_WORD``, on in the loop by default): the sentence must state every asked word, each by
    a word of its own, and the year the question names; a "how many X" answer's number must count X."""
    calc_values = [v for o in observations if o.tool == CALCULATOR_NAME for v in evidence_values(o.text)]
    computed = bool(calc_steps) or any(n.matches(v) for n in parse_numbers(answer) for v in calc_values)
    # rule G19b: a result the Calculator computed for a question that asks no computation is read by its inputs
    if computed and (not every_word or asks_computation(question)):
        return []
    entities = run_entities(question, observations)
    # rule G20b: a question whose entity no title phrase gives is still asked that a document it names holds the claim
    lone = not entities
    if lone and not (every_word and not re.search("[\uac00-\ud7a3]", question)):
        return []
    attributes = attribute_words(question, entities)
    every = [a for a in attributes if a not in type_words(question)] if every_word else []
    qn = normalize(question)
    qvals = evidence_values(question)
    # a year the question asks about ("... sell in 2015?"): the every-word reading asks it of the sentence too
    years = _asked_years(qvals) if every_word else []
    prose: list[tuple[str, str]] = []  # (document, sentence), both normalised
    titles: dict[str, str] = {}  # normalised document -> its normalised title
    for obs in observations:
        if obs.tool == CALCULATOR_NAME or is_useless_observation(obs.text):
            continue
        # country records are read field by field by the other steps: only the prose around them is asked
        text = " ".join(seg.raw for seg in split_records(obs.index, strip_prefix(obs.text)) if seg.title is None)
        for doc, title in titled_documents(text):
            dn = normalize(doc)
            prose += [(dn, s) for s in sentences_of(doc)]
            if title is not None:
                titles[dn] = normalize(title)
    if not prose:
        return []
    reasons: list[str] = []
    if lone:
        return _unnamed_documents(question, answer, prose, titles)
    if every_word and _TIME_ASKED.search(question) and not _TIME_OF_DAY.search(answer):  # rule G16c
        reasons.append(f"{answer.strip()} (asked what time; it gives no time of day)")
    claims: list[tuple[str, list[tuple[str, str]]]] = []
    counted = counted_words(question) if every_word else []
    recounts: dict[str, str] = {}  # a number's span -> the other thing the answer counts with it
    counts_asked = False  # some number of the answer counts the asked thing (rule G15b: the others may list more)
    numbers = parse_numbers(answer)
    if computed:  # rule G19b: the Calculator's inputs are the claims
        numbers = [
            c
            for o in observations
            if o.tool == CALCULATOR_NAME
            for c in parse_numbers(o.tool_input or "")
            if not is_constant(c.value)
        ]
    for num in numbers:
        if any(num.matches(v) for v in qvals):
            continue
        held = [(d, normalize(s)) for d, s in prose if any(num.matches(v) for v in evidence_values(s))]
        claims.append((num.span, held))
        if counted and not computed and (noun := _counted_after(answer, num.start + len(num.span))) is not None:
            if any(_states(x, noun) or _states(noun, x) for x in counted):
                counts_asked = True
            else:
                recounts[num.span] = noun
    for name in name_claims(answer):
        if name.script != "latin" or name.norm in qn.split() or f" {name.norm} " in f" {qn} ":
            continue
        held = [(d, normalize(s)) for d, s in prose if name_in(name.norm, name.script, normalize(s))]
        claims.append((name.span, held))
    for span, held in claims:
        if not held:
            continue  # not prose evidence (a record, or no evidence: the other steps judge it)
        about = [(d, s) for d, s in held if any(f" {e} " in f" {d} " for e in entities)]
        if not about:
            reasons.append(f"{span} (no document about {' / '.join(entities[-1:])} states it)")
        elif attributes and not any(states_attribute(s, attributes) for _, s in about):
            reasons.append(f"{span} (the sentence holding it does not state the asked {' / '.join(attributes)})")
        elif every and not any(states_every_attribute(s, every, titles.get(d, "")) for d, s in about):
            reasons.append(f"{span} (no sentence holding it states every asked word: {' / '.join(every)})")
        elif years and not any(all(_holds_year(s, y) for y in years) for _, s in about):
            asked = " / ".join(f"{y:g}" for y in years)
            reasons.append(f"{span} (no sentence holding it states the asked year {asked})")
        elif span in recounts and not counts_asked:
            reasons.append(f"{span} {recounts[span]} (asked how many {' '.join(counted)})")
    return reasons


def _unnamed_documents(
    question: str, answer: str, prose: Sequence[tuple[str, str]], titles: dict[str, str]
) -> list[str]:
    """Rule G20b: for a question whose entity no title phrase gives ("who owns the pellbridge ice cream parlour"),
    a number or name of the answer held only by documents whose title's first word (a leading "the" aside) the
    question does not write is unsupported: "Sunita Castellow" from Lendrum Street Launderette's document. A
    document without a title mark asks nothing."""
    asked = set(normalize(question).split())
    qvals = evidence_values(question)
    qn = normalize(question)

    def unnamed(doc: str) -> bool:
        words = re.sub(r"^the ", "", titles.get(doc, "")).split()
        return bool(words) and words[0] not in asked

    spans: list[tuple[str, list[str]]] = []
    for num in parse_numbers(answer):
        if not any(num.matches(v) for v in qvals):
            spans.append((num.span, [d for d, s in prose if any(num.matches(v) for v in evidence_values(s))]))
    for name in name_claims(answer):
        if name.script == "latin" and f" {name.norm} " not in f" {qn} ":
            spans.append((name.span, [d for d, s in prose if name_in(name.norm, name.script, normalize(s))]))
    return [
        f"{span} (no document the question names states it)" for span, docs in spans if docs and all(map(unnamed, docs))
    ]


def entity_documents(
    entities: Sequence[str], observations: Sequence[Observation]
) -> Iterator[tuple[int, str, str, str]]:
    """The prose documents of the run's searches that name one of ``entities``: (step, title as written, the document,
    the document without its "Title: # Title" mark)."""
    for obs in observations:
        if obs.tool == CALCULATOR_NAME or is_useless_observation(obs.text):
            continue
        text = " ".join(seg.raw for seg in split_records(obs.index, strip_prefix(obs.text)) if seg.title is None)
        for doc in documents_of(text):
            if any(f" {e} " in f" {normalize(doc)} " for e in entities):
                m = _DOC_START.search(doc)
                yield obs.index, m.group(1).strip() if m else "", doc, doc[m.end() :] if m else doc


@dataclass(frozen=True)
class DocumentReading:
    """What ``read_count`` or ``read_person`` read: the answer it writes, the count or name as the document writes
    it, the step holding it."""

    answer: str
    text: str
    step: int


# periods a count may be given for ("600 loaves a week"): the question's and the sentence's must agree
_PERIODS = {
    "hour": "hour hours hourly",
    "day": "day days daily",
    "night": "night nights nightly",
    "week": "week weeks weekly",
    "month": "month months monthly",
    "year": "year years yearly annually annual",
}
_PERIOD_OF = {form: period for period, forms in _PERIODS.items() for form in forms.split()}
_HEDGES = frozenset("about around some nearly almost roughly approximately over under up to".split())
_RATE_WORDS = frozenset("average mean ratio".split())  # "how many pupils per teacher", "on average": not a count


def _periods(words: Sequence[str]) -> set[str]:
    return {_PERIOD_OF[w] for w in words if w in _PERIOD_OF}


def _asks_rate(words: Sequence[str]) -> bool:
    """ "per teacher", "each pupil", "on average": the question asks a rate, not a count ("each year" is a period)."""
    return any(
        w in _RATE_WORDS or (w in ("per", "each", "every") and not _periods(words[i + 1 : i + 2]))
        for i, w in enumerate(words)
    )


def _is_year(num: NumberClaim) -> bool:
    return num.value.is_integer() and 1000 <= num.value <= 2100 and "," not in num.span and num.scale == 1


def read_count(question: str, observations: Sequence[Observation]) -> DocumentReading | None:
    """The count a "how many X" question asks, read from the run's documents (rule G16), or None.

    Read only when the documents about the asked entity give **one** value written right before the counted
    words ("How many goats are kept at Pinecrest Farm?": "... keeps 320 sheep, 45 cows and 12 goats ..." -> 12;
    "operating theatres": "12 operating theatres", word for word, not "120 standing passengers" for "passengers")
    in a sentence that

    - states every other asked word by words of its own (``states_every_attribute`` without the count's words:
      "kept" ~ "keeps"; "How many people work in West Quay Tower?" is not read from "480 people live in it");
    - holds the year the question names and the period it names ("a week": not "160 patients a day");
    - counts nothing else with a bare number ("70 stalls in summer and about 40 in winter": which is winter's?).

    Not for rates ("per teacher", "on average"). Two different values: None. The answer names the document it was
    read from and the period the count is given for: "Pinecrest Farm: 12 goats.", "Harbourview Hospital: about
    160 patients a day."."""
    counted = counted_words(question)
    qwords = normalize(question).split()
    if not counted or _asks_rate(qwords):
        return None
    entities = run_entities(question, observations)
    if not entities:
        return None
    every = [a for a in attribute_words(question, entities) if a not in type_words(question) and a not in counted]
    qvals = evidence_values(question)
    years = _asked_years(qvals)
    periods = _periods(qwords)
    found: dict[float, DocumentReading] = {}
    for step, title, doc, _ in entity_documents(entities, observations):
        for sentence in sentences_of(doc):
            sn = normalize(sentence)
            if years and not all(_holds_year(sn, y) for y in years):
                continue
            if not periods <= _periods(sn.split()):
                continue
            numbers = [n for n in parse_numbers(sentence) if not any(n.matches(v) for v in qvals)]
            if any(not _is_year(n) and _counted_after(sentence, n.start + len(n.span)) is None for n in numbers):
                continue  # a bare number beside the counts: the sentence may give the asked one another way
            for num in numbers:
                end = num.start + len(num.span)
                after = sentence[end:].split()[: len(counted)]
                words = [normalize(w) for w in after]
                if len(words) < len(counted) or not all(
                    w == c or _states(c, w) or _states(w, c) for c, w in zip(counted, words, strict=True)
                ):
                    continue
                rest = sentence[: num.start] + " " + " ".join(sentence[end:].split()[len(counted) :])
                if not states_every_attribute(normalize(rest), every, normalize(title)):
                    continue
                tail = sentence[end:].split()[len(counted) : len(counted) + 2]
                if (
                    len(tail) == 2
                    and normalize(tail[0]) in ("a", "an", "per", "each", "every")
                    and _periods([normalize(tail[1])])
                ):
                    after += tail  # "160 patients a day"
                before = sentence[: num.start].split()[-1:]
                hedge = f"{before[0].lower()} " if before and normalize(before[0]) in _HEDGES else ""
                count = f"{hedge}{num.span} {' '.join(after).rstrip('.,;:!?)')}"
                found.setdefault(num.value * num.scale, DocumentReading(f"{title or entities[0]}: {count}.", count,
                                                                      step))  # fmt: skip
    return next(iter(found.values())) if len(found) == 1 else None


# role nouns a terse question asks a person for ("Kettleburn Brewery's head brewer?", "grauhorn hut warden")
_ROLE_WORDS = frozenset(
    """owner owners founder founders manager director directors warden chair chairman chairwoman chairperson president
    captain coach conductor curator principal head chef brewer editor treasurer secretary instructor keeper leader
    ceo executive mayor architect designer author composer pilot skipper host presenter organiser organizer patron
    trainer teacher headteacher headmaster headmistress landlord proprietor caretaker custodian steward
    administrator supervisor superintendent dean""".split()
)
_TITLES = frozenset("dr mr mrs ms prof sir dame".split())
_CLAUSE_END = re.compile(r";|,\s+and\s+|\s+but\s+")


def _states_strictly(a: str, word: str) -> bool:
    """``word`` is a form of the asked word ``a`` itself, no synonym: directs ~ director, owns ~ owned, leads ~ led."""
    return same_stem(a, word) or _loose_match(a, word)


def read_person(question: str, observations: Sequence[Observation]) -> DocumentReading | None:
    """The person (or body) a "who" question — or a terse role question ("X's head brewer?") — asks for, read from
    the run's documents (rule G17b), or None.

    Read only from a clause (a sentence split at ";", ", and", " but ") of a document about the asked entity that
    states every asked word by a form of that word itself, no synonym ("Who directs the Corriebrae Planetarium?":
    "its director is Dr. Emeka Halloran"), and holds exactly one name within 4 words of such a word, besides the
    entity's own ("It is owned by Brightfall Leisure" for "who owns ..."; "now led by her grandson, Erik Halvorsen" for
    "who leads ..."); every such clause must give the same name. A role the documents do not name ("Who founded it?"
    where only its director is named) reads nothing. The answer names the document: "Corriebrae Planetarium: Emeka
    Halloran."."""
    qwords = normalize(question).split()
    first_wh = next((w for w in qwords if w in ("who", "what", "which", "where", "when", "how", "why", "whose")), None)
    entities = run_entities(question, observations)
    if not entities:
        return None
    attributes = attribute_words(question, entities)
    if first_wh != "who" and not (first_wh is None and _ROLE_WORDS & set(attributes)):
        return None
    every = [a for a in attributes if a not in type_words(question)]
    if not every:
        return None
    qn = f" {normalize(question)} "
    inside = {w for e in entities for w in e.split()}
    found: dict[str, DocumentReading] = {}
    for step, title, _, body in entity_documents(entities, observations):
        own = inside | set(normalize(title).split())
        for sentence in sentences_of(body):
            for clause in _CLAUSE_END.split(sentence):
                tokens = [(t.start(), normalize(t.group(0))) for t in re.finditer(r"\S+", clause)]
                stated = [
                    {i for i, (_, w) in enumerate(tokens) if w and _states_strictly(a, w)} for a in every
                ]  # fmt: skip
                if not all(stated):
                    continue
                near = set().union(*stated)
                names = []
                for claim in name_claims(clause):
                    if claim.script != "latin" or claim.norm in _TITLES or f" {claim.norm} " in qn:
                        continue
                    if set(claim.norm.split()) <= own or any(f" {e} " in f" {claim.norm} " for e in entities):
                        continue  # the entity's own name, or a phrase holding it
                    if clause[: claim.start].strip() == "" and " " not in claim.norm:
                        continue  # one capitalised word starting the clause: a sentence start, not a name
                    first = max(i for i, (at, _) in enumerate(tokens) if at <= claim.start)
                    last = first + len(claim.span.split()) - 1
                    if any(first - 5 <= i <= last + 5 for i in near):
                        names.append(claim)
                if len(names) != 1:
                    continue
                name = names[0]
                found.setdefault(name.norm, DocumentReading(f"{title or entities[0]}: {name.span}.", name.span,
                                                         step))  # fmt: skip
    return next(iter(found.values())) if len(found) == 1 else None


def read_documents(
    question: str, observations: Sequence[Observation], counts: bool = True, roles: bool = False
) -> DocumentReading | None:
    """The count reading (``counts``, rule G16), else the role reading (``roles``, rule G17b): what the loop and its
    replay ask of a run that ends not-found or unsupported."""
    reading = read_count(question, observations) if counts else None
    if reading is None and roles:
        reading = read_person(question, observations)
    return reading
