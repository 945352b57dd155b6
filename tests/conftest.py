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


@pytest.fixture(scope="session")
def llamacpp_dir() -> Path:
    """The built llama.cpp engine (``make engine``); CI builds it first, so there a missing one fails."""
    from agent.backends.llama_server import engine_dir, engine_installed
    from agent.config import default_cache_dir

    folder = Path(os.environ.get("QREACT_ENGINE_DIR") or engine_dir(default_cache_dir()))
    if not engine_installed(folder):
        if os.environ.get("CI"):
            pytest.fail(f"llama.cpp is not built in {folder}: .ci/run runs `make engine` before the tests")
        pytest.skip(f"llama.cpp is not built in {folder} (make engine)")
    return folder


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model_dir: Path, llamacpp_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as a GGUF (converted by the engine's own converter), for the llama.cpp engine."""
    from tests.tiny import make_tiny_gguf

    return make_tiny_gguf(tiny_model_dir, llamacpp_dir, tmp_path_factory.mktemp("tiny-gguf") / "tiny.gguf")
