"""The embedded Gemma default: cache layout, convert-once logic; the real model under ``-m slow``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from agent.backends import gguf
from agent.backends.gguf import DEFAULT_MODEL_NAME, default_model_dir, ensure_default_model, is_converted


def _fake_converted(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")


def test_layout(tmp_path: Path) -> None:
    assert default_model_dir(tmp_path) == tmp_path / "models" / "gemma-3-270m"
    assert DEFAULT_MODEL_NAME == "gemma-3-270m"


def test_existing_folder_is_used_without_converting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_converted(default_model_dir(tmp_path))
    monkeypatch.setattr(gguf, "_convert", lambda target: pytest.fail("converted again"))
    assert ensure_default_model(tmp_path) == default_model_dir(tmp_path)


def test_partial_folder_is_converted_and_only_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = default_model_dir(tmp_path)
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # an interrupted copy: no weights
    assert not is_converted(target)
    calls: list[Path] = []

    def fake_convert(folder: Path) -> None:
        calls.append(folder)
        for name in ("model.safetensors", "tokenizer.json"):
            (folder / name).write_text("{}")

    monkeypatch.setattr(gguf, "_convert", fake_convert)
    threads = [threading.Thread(target=ensure_default_model, args=(tmp_path,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [target]  # the lock and the re-check: one conversion for four callers
    assert is_converted(target)


def test_gemma_terms_are_shipped() -> None:
    path = gguf.gemma_terms_path()
    assert path is not None and "Gemma" in path.read_text(errors="replace")


@pytest.mark.slow
def test_real_gemma_generates_and_stops() -> None:
    """Converts on first use (~1 min), then loads the real Gemma 3 270M and runs a ReAct step."""
    from agent.backends.local import LocalChatModel
    from agent.prompt import STOP, render_prompt
    from app.settings import Settings

    folder = ensure_default_model(Settings().cache_dir)
    assert is_converted(folder)
    model = LocalChatModel.from_pretrained(str(folder), device="cpu", threads=2)
    assert model.tokenizer.chat_template is None  # the base model: the ReAct prompt goes in raw
    prompt = render_prompt("What is the capital of Australia?")
    first = model.generate_text(prompt, max_new_tokens=24, stop=[STOP])
    assert first.completion_tokens > 0 and STOP not in first.text
    assert first.prompt_tokens > 150
    second = model.generate_text(prompt + first.text + "\nObservation: Canberra\nThought: ", max_new_tokens=8)
    assert second.cached_tokens >= first.prompt_tokens  # the first step's keys/values were reused
