"""Fixtures for the generator families: the live tools over a country index built in a temp cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from finetune.generators.base import ToolRunner, default_tools
from finetune.generators.countries import load_countries, split_countries


@pytest.fixture(scope="session")
def gen_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gen-cache")


@pytest.fixture(scope="session")
def run1(gen_cache: Path) -> ToolRunner:
    """Search (1 result per observation) + Calculator, as the live loop formats them."""
    return ToolRunner(default_tools(gen_cache, 1))


@pytest.fixture(scope="session")
def records() -> list[dict[str, Any]]:
    from agent.knowledge import country_records

    return country_records()


@pytest.fixture(scope="session")
def split_records(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The country records of each gold split (seed 0), held-out forms asked over test countries."""
    by_name = {r["name"]: r for r in records}
    splits = split_countries(load_countries(records), 0)
    out = {s: [by_name[c.name] for c in cs] for s, cs in splits.items()}
    out["heldout"] = out["test"]
    return out


def draw_rows(make: Any, n: int, seed: str) -> list[dict[str, Any]]:
    """``n`` rows from ``make(rng)``, skipping rejected draws."""
    import random

    from finetune.generators.base import Rejected

    rng, rows = random.Random(seed), []
    for _ in range(n * 10):
        try:
            rows.append(make(rng))
        except Rejected:
            continue
        if len(rows) == n:
            break
    assert len(rows) == n, f"only {len(rows)} of {n} draws made a row"
    return rows
