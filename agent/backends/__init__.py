"""Chat-model backends: the local transformers model or an OpenAI-compatible server.

``app.wiring.build_chat_model(settings)`` picks one; importing this package does not import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.backends.adapter_check import AdapterError
from agent.backends.text import GenerationResult

logger = logging.getLogger(__name__)

# The shipped adapter: adapters/default/ in the repository (next to the agent package).
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADAPTER_NAME = "default"
_warned_missing_default = False

__all__ = [
    "AdapterError",
    "AdapterHost",
    "GenerationResult",
    "TextGenerator",
    "default_adapter_dir",
    "resolve_adapter",
]


@runtime_checkable
class AdapterHost(Protocol):
    """A chat model that hosts LoRA adapters and swaps them live (``LocalChatModel``)."""

    @property
    def active_adapter(self) -> str | None: ...

    def load_adapter(self, path: str | Path, name: str) -> Any: ...

    def activate_adapter(self, name: str | None) -> Any: ...

    def list_adapters(self) -> list[dict[str, Any]]: ...


@runtime_checkable
class TextGenerator(Protocol):
    """A model that writes raw text for a prompt (``LocalChatModel``): what ``/v1`` serves."""

    def generate_text(
        self,
        prompt: str,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> GenerationResult: ...

    def stream_text(self, prompt: str, on_finish: Any = None, **kwargs: Any) -> Iterator[str]: ...


def default_adapter_dir() -> Path:
    return REPO_ROOT / "adapters" / DEFAULT_ADAPTER_NAME


def resolve_adapter(adapter: str | None) -> tuple[str, Path] | None:
    """settings.adapter → (name, folder) or None.

    None/'none' → None; 'default' → ``adapters/default/`` if present (else None, logged once);
    anything else is a folder path (name = folder name) and must exist.
    """
    global _warned_missing_default
    if adapter is None or adapter.strip().lower() in {"", "none", "off"}:
        return None
    if adapter == DEFAULT_ADAPTER_NAME:
        folder = default_adapter_dir()
        if (folder / "adapter_config.json").is_file():
            return DEFAULT_ADAPTER_NAME, folder
        if not _warned_missing_default:
            logger.warning("no shipped adapter at %s: serving the base model", folder)
            _warned_missing_default = True
        return None
    folder = Path(adapter).expanduser()
    if not folder.is_dir():
        raise AdapterError(f"adapter folder {folder} does not exist (QREACT_ADAPTER)")
    return folder.resolve().name, folder

