"""The documents family's table: every computation names facts its type has, every fact draws,
states and asks consistently (the generator relies on these without checking)."""

from __future__ import annotations

import random

import pytest

from finetune.generators.document_computations import PAIRS, SINGLES
from finetune.generators.document_names import entity
from finetune.generators.document_types import TYPES, YEARS, value_text


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_every_fact_draws_a_value_it_can_state_and_ask(kind: str) -> None:
    rng = random.Random(kind)
    for name, fact in TYPES[kind].items():
        assert fact.name == name
        assert len(fact.asks) >= 2, f"{kind}.{name}: the last ask form is held out, so train needs another"
        value = fact.draw(rng)
        shown = value_text(rng, fact, value)
        for form in fact.says:
            sentence = form.format(e="Velmora", v=shown)
            assert shown in sentence, (kind, name, form)
        assert all("{e}" in ask for ask in fact.asks)
        if name in YEARS:  # a year is written bare, never "1,987"
            assert "," not in shown


def test_computations_use_numeric_facts_of_their_own_type() -> None:
    rng = random.Random(0)
    for kind, pairs in PAIRS.items():
        for _, x, y, *_ in pairs:
            for field in (x, y):
                assert isinstance(TYPES[kind][field].draw(rng), int | float), (kind, field)
    for kind, singles in SINGLES.items():
        for _, field, *_ in singles:
            assert isinstance(TYPES[kind][field].draw(rng), int | float), (kind, field)


def test_entities_are_drawn_for_every_type() -> None:
    rng = random.Random(1)
    for kind in TYPES:
        names = {entity(rng, kind) for _ in range(20)}
        assert len(names) >= 15 and all(n.strip() for n in names)
