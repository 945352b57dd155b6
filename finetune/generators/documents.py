"""Document reading with random facts: prose documents indexed and searched as ``qreact index`` does.

Each episode writes a small corpus (the entity asked about, same-type distractors that share its
words, a document of another type) as .md/.txt files, indexes it with ``agent.knowledge.index_folder``
and answers through the real local Search (1-3 results) and Calculator. Names, numbers and dates
are drawn at random, so nothing can be memorised: the model has to read the observation.

Questions: copy a fact, compute from one fact or two facts of one document, combine or compare
two entities (two searches), and the not-found kinds — a field the document does not state, or
an entity the corpus does not hold (its search returns only distractors). The ``route`` document
type and the last ask form of every field are held out of train.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.knowledge import index_folder
from agent.prompt import SEARCH_NAME
from agent.tools import CalculatorTool, build_tools
from agent.tools.calculator import evaluate
from finetune.generators.base import (
    TRAIN,
    Draft,
    Ending,
    Rejected,
    ToolRunner,
    build_row,
    find_number,
    forms_for,
    not_found,
    plain,
)
from finetune.generators.document_computations import PAIRS, SINGLES
from finetune.generators.document_names import entity
from finetune.generators.document_near import NEAR
from finetune.generators.document_near_hard import HARD
from finetune.generators.document_types import TYPES, YEARS, Fact, value_text

GENERATOR = "documents"
HELDOUT_TYPES = ("route",)  # never in train


@dataclass
class Doc:
    kind: str
    name: str
    values: dict[str, Any]  # the facts the text states
    text: str
    filename: str


def write_doc(rng: random.Random, kind: str, name: str, omit: set[str], extra: Sequence[Fact] = ()) -> Doc:
    """A document stating every fact of ``kind`` except ``omit`` (and the ``extra`` ones), in a random structure."""
    facts = [f for f in TYPES[kind].values() if f.name not in omit] + list(extra)
    values = {f.name: f.draw(rng) for f in facts}
    rng.shuffle(facts)
    style = rng.choice(["prose", "prose", "pairs", "list"])
    shown = {f.name: value_text(rng, f, values[f.name]) for f in facts}
    if style == "list":
        intro = rng.choice([f"{name} at a glance.", f"Key facts about {name}.", f"{name}: fact sheet."])
        lines = [
            f"- {f.listed}: {shown[f.name].replace('$', '') if f.listed.endswith(')') else shown[f.name]}"
            for f in facts
        ]
        body = intro + "\n" + "\n".join(lines)
    else:
        sentences = [_cap(rng.choice(f.says).format(e=name, v=shown[f.name])) for f in facts]
        if style == "pairs":  # two facts per sentence
            joined = []
            for i in range(0, len(sentences), 2):
                pair = sentences[i : i + 2]
                joined.append(
                    pair[0] if len(pair) == 1 else pair[0].rstrip(".") + ", and " + pair[1][0].lower() + pair[1][1:]
                )
            sentences = joined
        body = " ".join(sentences)
    heading = rng.random() < 0.75
    slug = name.lower().replace(" ", "_")
    text = f"# {name}\n\n{body}\n" if heading else f"{body}\n"
    return Doc(kind, name, {f: values[f] for f in values}, text, f"{slug}.md" if heading else f"{slug}.txt")


class Corpus:
    """A temporary folder of documents, indexed as ``qreact index`` does, with live tools over it."""

    def __init__(self, docs: list[Doc], max_results: int) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="qreact-docs-")
        root = Path(self._dir.name)
        (root / "docs").mkdir()
        for d in docs:
            (root / "docs" / d.filename).write_text(d.text, encoding="utf-8")
        index_folder(root / "docs", root / "index.db")
        tools = build_tools(search="local", index_path=root / "index.db", max_results=max_results)
        self.run = ToolRunner([t for t in tools if t.name == SEARCH_NAME] + [CalculatorTool()])

    def close(self) -> None:
        self._dir.cleanup()


def _query(rng: random.Random, name: str, fact: Fact) -> str:
    short = name.split()[0] if " " in name and rng.random() < 0.35 else name
    return rng.choice([f"{short} {fact.keyword}", f"{fact.keyword} of {short}", f"{short} {fact.keyword}"])


def _find(draft: Draft, doc: Doc, fact: Fact, rng: random.Random, first: bool = True) -> str:
    """Search for ``fact`` of ``doc``; the value as the observation writes it (``Rejected`` if absent)."""
    lead = "I need to find" if first else "Now I need to find"
    obs = draft.act(f"{lead} {fact.label} of {doc.name}.", SEARCH_NAME, _query(rng, doc.name, fact))
    value = doc.values[fact.name]
    if isinstance(value, int | float):
        # the number must be in this document's own result: the one that names the entity
        for part in _results_naming(obs, doc.name):
            text = find_number(part, float(value))
            if text is not None:
                return text
        raise Rejected(f"{value} not in the observation {obs[:100]!r}")
    if not any(str(value).lower() in part.lower() for part in _results_naming(obs, doc.name)):
        raise Rejected(f"{value!r} not in the observation {obs[:100]!r}")
    return str(value)


def _results_naming(observation: str, name: str) -> list[str]:
    """The observation cut at the places where a result names the entity (coarse but conservative)."""
    low, key = observation.lower(), name.lower()
    return [observation[i : i + 420] for i in range(len(low)) if low.startswith(key, i)][:3] or []


def _states_neighbour(observation: str, doc: Doc) -> bool:
    """Whether the target's result shows a neighbouring (``NEAR``) value: what makes the not-found hard."""
    near = {f.name for f in NEAR.get(doc.kind, {}).values()}
    near |= {f.name for fs in HARD.get(doc.kind, {}).values() for f in fs}
    values = [str(v) for k, v in doc.values.items() if k in near]
    return any(v.lower() in part.lower() for part in _results_naming(observation, doc.name) for v in values)


def _answer(fact: Fact, name: str, value_text: str) -> str:
    return fact.answer.format(e=name, v=value_text)


# ``missing_near`` (the v4 mix): the asked field is absent but the document states a neighbouring one (``NEAR``:
# founder for CEO); weights of the first seven types only (v2, v2b, v3) never draw it. ``missing_near_hard``
# and ``copy_near`` (the v5 mix; ``document_near_hard.HARD``): the buried / close-worded / same-unit
# neighbours with the asked field absent (distractors stating it in the results) or stated beside them.
QUESTION_TYPES = (
    "copy",
    "single",
    "pair",
    "two",
    "compare",
    "missing_field",
    "missing_entity",
    "missing_near",
    "missing_near_hard",
    "copy_near",
)
QUESTION_WEIGHTS = (22, 12, 8, 10, 8, 24, 16)  # the v2 candidate's mix
NOT_FOUND_TYPES = ("missing_field", "missing_entity", "missing_near", "missing_near_hard")
COPY_TYPES = ("copy", "copy_near")


def one(rng: random.Random, split: str, weights: Sequence[float] = QUESTION_WEIGHTS) -> dict[str, Any]:
    """One document trajectory for ``split`` (``heldout``: the held-out type and ask forms); ``weights``
    of ``QUESTION_TYPES``."""
    types = [t for t in TYPES if (t in HELDOUT_TYPES) == (split == "heldout")]
    if split in ("dev", "test"):
        types = [t for t in TYPES if t not in HELDOUT_TYPES]
    kind = rng.choice(types)
    qtype = rng.choices(QUESTION_TYPES[: len(weights)], weights=weights)[0]
    if qtype == "missing_near" and kind not in NEAR:
        qtype = "missing_field"
    if qtype in ("missing_near_hard", "copy_near") and kind not in HARD:
        qtype = "missing_field" if qtype == "missing_near_hard" else "copy"
    if qtype == "single" and kind not in SINGLES or qtype == "pair" and kind not in PAIRS:
        qtype = "copy"
    if qtype in ("two", "compare") and kind == "person":
        qtype = "copy"
    facts = TYPES[kind]
    numeric = [f for f in facts.values() if isinstance(f.draw(random.Random(0)), int | float) and f.name not in YEARS]
    max_results = rng.choice([1, 2, 2, 3, 3]) if qtype != "missing_near_hard" else rng.choice([2, 3, 3])
    target = entity(rng, kind)
    other = entity(rng, kind)
    omit: set[str] = set()
    asked: Fact = rng.choice(list(facts.values()))
    extra: list[Fact] = []
    if qtype == "missing_near":  # asked: a field with a neighbour; the document states the neighbour instead
        asked = facts[rng.choice(sorted(NEAR[kind]))]
        extra = [NEAR[kind][asked.name]]
    if qtype in ("missing_near_hard", "copy_near"):  # one or two of the hard neighbours (+ v4's, sometimes)
        asked = facts[rng.choice(sorted(HARD[kind]))]
        near = list(HARD[kind][asked.name])
        extra = rng.sample(near, rng.randint(1, min(2, len(near))))
        if asked.name in NEAR.get(kind, {}) and rng.random() < 0.4:
            extra.append(NEAR[kind][asked.name])
    if qtype in ("missing_field", "missing_near", "missing_near_hard"):
        omit = {asked.name} | {f for f in facts if f != asked.name and rng.random() < 0.2}
    else:
        omit = {f for f in facts if rng.random() < 0.15}
    docs = [write_doc(rng, kind, target, omit, extra)]
    needed: list[str] = []
    pair = PAIRS.get(kind, [("", "", "", "", "", "")])[0]
    if qtype in ("two", "compare"):
        asked = rng.choice(numeric)
        docs.append(write_doc(rng, kind, other, {f for f in facts if rng.random() < 0.15} - {asked.name}))
        docs[0] = write_doc(rng, kind, target, omit - {asked.name})
        needed = [asked.name]
    elif qtype == "single":
        needed = [rng.choice(SINGLES[kind])[1]]
    elif qtype == "pair":
        pair = rng.choice(PAIRS[kind])
        needed = list(pair[1:3])
    elif qtype in COPY_TYPES:
        needed = [asked.name]
    if needed:
        docs[0] = write_doc(rng, kind, target, omit - set(needed), extra if qtype == "copy_near" else ())
    for _ in range(rng.randint(1, 3)):  # same-type distractors: they share the fact words
        docs.append(write_doc(rng, kind, entity(rng, kind), set()))
    other_kind = rng.choice([t for t in TYPES if t != kind])
    docs.append(write_doc(rng, other_kind, entity(rng, other_kind), set()))
    if qtype == "missing_entity":
        docs = docs[1:]  # the entity asked about is not in the corpus
    corpus = Corpus(docs, max_results)
    try:
        return _trajectory(rng, split, kind, qtype, asked, docs, target, other, corpus, max_results, pair)
    finally:
        corpus.close()


def _trajectory(
    rng: random.Random,
    split: str,
    kind: str,
    qtype: str,
    asked: Fact,
    docs: list[Doc],
    target: str,
    other: str,
    corpus: Corpus,
    max_results: int,
    pair: tuple[str, str, str, str, str, str],
) -> dict[str, Any]:
    draft = Draft(corpus.run)
    by_name = {d.name: d for d in docs}
    facts = TYPES[kind]
    meta = {"doc_type": kind, "max_results": max_results, "question_type": qtype}
    template = f"{kind}:{qtype}"
    if qtype in (*COPY_TYPES, *NOT_FOUND_TYPES):
        form_i, form = _ask(rng, asked, split)
        question = form.format(e=target)
        template += f":{asked.name}:{form_i}"
        if qtype in COPY_TYPES:
            value_text = _find(draft, by_name[target], asked, rng)
            ending = Ending(
                _answer(asked, target, value_text),
                _gold(by_name[target].values[asked.name]),
                _tol(asked, by_name[target]),
            )
        else:
            obs = draft.act(f"I need to find {asked.label} of {target}.", SEARCH_NAME, _query(rng, target, asked))
            if qtype == "missing_entity" and target.lower() in obs.lower():
                raise Rejected("the missing entity is named in the observation")
            if qtype in ("missing_near", "missing_near_hard") and not _states_neighbour(obs, by_name[target]):
                raise Rejected("the neighbouring fact is not in the observation")
            if rng.random() < 0.3:  # a second, different search before giving up (<= 2 searches)
                draft.act(
                    f"The result does not give {asked.label} of {target}. I will search again.",
                    SEARCH_NAME,
                    f"{target} {asked.keyword}"
                    if draft.steps[0]["tool_input"] != f"{target} {asked.keyword}"
                    else target,
                )
            ending = not_found(question)
        return build_row(
            question=question,
            draft=draft,
            ending=ending,
            kind=f"doc_{qtype}",
            generator=GENERATOR,
            template=template,
            split=split,
            meta=meta,
        )
    if qtype == "single":
        name, field, q, expr, ans = rng.choice([s for s in SINGLES[kind] if s[1] in by_name[target].values])
        k = rng.randint(2, 9)
        question = q.format(e=target, k=k)
        x = _find(draft, by_name[target], facts[field], rng)
        expression = expr.format(x=_bare(x), k=k)
        result = draft.calculate(f"Now I need to calculate {expression}.", expression)
        gold = _calc_gold(expression)
        ending = Ending(ans.format(e=target, r=result, k=k), gold, 1e-6)
        return build_row(
            question=question,
            draft=draft,
            ending=ending,
            kind="doc_single",
            generator=GENERATOR,
            template=f"{template}:{name}",
            split=split,
            meta=meta,
        )
    if qtype == "pair":
        name, f1, f2, q, expr, ans = pair
        question = q.format(e=target)
        x = _find(draft, by_name[target], facts[f1], rng)
        y = _find(draft, by_name[target], facts[f2], rng, first=False)
        expression = f"round({expr.format(x=_bare(x), y=_bare(y))}, 2)"
        result = draft.calculate(f"Now I need to divide {facts[f1].label} by {facts[f2].label}.", expression)
        ending = Ending(ans.format(e=target, r=result), _calc_gold(expression), 0.01)
        return build_row(
            question=question,
            draft=draft,
            ending=ending,
            kind="doc_pair",
            generator=GENERATOR,
            template=f"{template}:{name}",
            split=split,
            meta=meta,
        )
    # two entities: both searched, then combined (Calculator) or compared
    a, b = by_name[target], by_name[other]
    x = _find(draft, a, asked, rng)
    y = _find(draft, b, asked, rng, first=False)
    the = "the " if kind in ("product", "event", "route") else ""
    if qtype == "two":
        op = rng.choice(["sum", "difference"])
        if op == "sum":
            question = rng.choice(
                ["What is the total {k} of {a} and {b} together?", "Add up the {k} of {a} and {b}."]
            ).format(k=asked.label.removeprefix("the "), a=the + target, b=the + other)
            expression = f"{_bare(x)} + {_bare(y)}"
        else:
            question = rng.choice(
                ["What is the difference in {k} between {a} and {b}?", "How far apart are {a} and {b} in {k}?"]
            ).format(k=asked.label.removeprefix("the "), a=the + target, b=the + other)
            expression = f"abs({_bare(x)} - {_bare(y)})"
        result = draft.calculate(f"Now I need to calculate {expression}.", expression)
        ending = Ending(f"The answer is {result}.", _calc_gold(expression), 1e-6)
        template += f":{asked.name}:{op}"
    else:
        bigger = target if a.values[asked.name] > b.values[asked.name] else other
        if a.values[asked.name] == b.values[asked.name]:
            raise Rejected("a tie")
        label = asked.label.removeprefix("the ")
        question = rng.choice(
            ["Which has the higher {k}: {a} or {b}?", "Between {a} and {b}, which one has the higher {k}?"]
        ).format(k=label, a=the + target, b=the + other)
        ending = Ending(f"{(the + bigger)[0].upper() + (the + bigger)[1:]} has the higher {label}.", bigger)
        template += f":{asked.name}"
    return build_row(
        question=question,
        draft=draft,
        ending=ending,
        kind=f"doc_{qtype}",
        generator=GENERATOR,
        template=template,
        split=split,
        meta=meta,
    )


def _ask(rng: random.Random, fact: Fact, split: str) -> tuple[int, str]:
    forms = forms_for(fact.asks, split if split in (TRAIN, "heldout") else TRAIN, 1)
    if split in ("dev", "test"):
        forms = list(fact.asks[:-1])
    form = rng.choice(forms)
    return fact.asks.index(form), form


def _bare(text: str) -> str:
    return plain(text)


def _calc_gold(expression: str) -> float:
    return float(evaluate(expression))


def _gold(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) else str(value)


def _tol(fact: Fact, doc: Doc) -> float | None:
    return 1e-6 if isinstance(doc.values[fact.name], int | float) else None


def _cap(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]
