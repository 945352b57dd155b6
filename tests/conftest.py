"""Shared fixtures: everything here is offline and builds in seconds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# TestClient's requests carry ``Host: testserver``; the server answers loopback names only by
# default (app.security.HostHeaderMiddleware). Tests of that default pass allowed_hosts themselves.
os.environ.setdefault("QREACT_ALLOWED_HOSTS", "localhost,127.0.0.1,::1,testserver")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a tiny random Gemma-3 model and its tokenizer (built once per session)."""
    from tests.tiny import make_tiny_model_dir

    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for a module's tests (the CI box has 2 shared cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
