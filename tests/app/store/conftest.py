"""Run-store fixtures: one store per backend (SQLite always, PostgreSQL when QREACT_TEST_PG_URL is set)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.store.runs import RunStore
from tests.app.store.helpers import BACKENDS, fresh_store, store_url_for


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_for(request.param, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[RunStore]:
    s = fresh_store(store_url)
    yield s
    s.close()
