"""Chat-model backends: the local transformers model or an OpenAI-compatible server.

``build_chat_model(settings)`` is the one entry point; heavy imports happen inside it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from agent.backends.local import LocalChatModel

logger = logging.getLogger(__name__)

# The shipped adapter: adapters/default/ in the repository (next to the agent package).
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADAPTER_NAME = "default"
_warned_missing_default = False

__all__ = ["AdapterError", "GenerationResult", "LocalChatModel", "build_chat_model", "resolve_adapter"]


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
        from agent.backends.local import AdapterError

        raise AdapterError(f"adapter folder {folder} does not exist (QREACT_ADAPTER)")
    return folder.resolve().name, folder


def _restore_from_store(settings: Any, shipped: tuple[str, Path] | None) -> tuple[bool, tuple[str, Path] | None]:
    """(found, target) from the run store's activation history (shared by replicas); found=False
    when the store has none yet (a new cache, or one that only has a registry.json)."""
    try:
        from app.store import open_adapter_registry
    except ImportError:  # the serving extras are absent (a bare library install)
        return False, None
    try:
        registry = open_adapter_registry(settings.resolved_store_url)
    except Exception:  # the database is away: fall back to the file and the shipped adapter
        logger.exception("could not read the adapter history from the run store")
        return False, None
    if registry is None:
        return False, None
    try:
        last = registry.latest_activation()
        if last is None:
            return False, None
        name = last["name"]
        if name is None:
            logger.info("restoring the last activation in the run store: the base model")
            return True, None
        if name == DEFAULT_ADAPTER_NAME:
            return True, shipped
        try:
            folder = registry.local_folder(name, Path(settings.cache_dir), last["sha256"])
        except (LookupError, ValueError, OSError) as exc:
            logger.error("the last activated adapter %r cannot be restored (%s): serving %s", name, exc,
                         shipped[0] if shipped else "the base model")  # fmt: skip
            return True, shipped
        logger.info("restoring adapter %r (%s), the last one activated in the run store", name, folder)
        return True, (name, folder)
    except Exception:
        logger.exception("could not read the adapter history from the run store")
        return False, None
    finally:
        registry.store.close()


def _restore_promoted(settings: Any, shipped: tuple[str, Path] | None) -> tuple[str, Path] | None:
    """With ``QREACT_ADAPTER=default``, a restart keeps serving the adapter last activated (promoted
    by the eval gate or activated by an admin): the run store's activation history (every replica's),
    else ``cache_dir/adapters/registry.json`` (a single host before the store held it); the shipped
    adapter when there is none or it is gone."""
    import json

    found, target = _restore_from_store(settings, shipped)
    if found:
        return target
    registry = Path(settings.cache_dir) / "adapters" / "registry.json"
    try:
        data = json.loads(registry.read_text(encoding="utf-8"))
        last = data["history"][-1]["name"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return shipped
    if last is None:
        logger.info("restoring the last activation recorded in %s: the base model", registry)
        return None
    entry = data.get("adapters", {}).get(last) or {}
    folder = Path(entry.get("path") or "")
    if last == DEFAULT_ADAPTER_NAME or not (folder / "adapter_config.json").is_file():
        return shipped
    logger.info("restoring adapter %r (%s), the last one activated in %s", last, folder, registry)
    return last, folder


def build_local_chat_model(settings: Any) -> LocalChatModel:
    """The local model from settings, with the configured adapter loaded and active."""
    from agent.backends.local import LocalChatModel

    model = LocalChatModel.from_settings(settings)
    shipped = resolved = resolve_adapter(settings.adapter)
    if settings.adapter == DEFAULT_ADAPTER_NAME:
        resolved = _restore_promoted(settings, shipped)
    if resolved is not None:
        name, folder = resolved
        try:
            model.load_adapter(folder, name)
        except ValueError:  # AdapterError: a restored adapter that no longer loads; the shipped one does
            if resolved == shipped or shipped is None:
                raise
            logger.exception("the restored adapter %r does not load: serving the shipped one", name)
            name, folder = shipped
            model.load_adapter(folder, name)
        model.activate_adapter(name)
    return model


def build_chat_model(settings: Any) -> BaseChatModel:
    """settings.backend 'local' → LocalChatModel; 'openai' → ChatOpenAI."""
    if settings.backend == "openai":
        from agent.backends.openai import build_openai_chat

        return build_openai_chat(settings)
    if settings.backend == "local":
        return build_local_chat_model(settings)
    raise ValueError(f"unknown backend {settings.backend!r}")


def __getattr__(name: str) -> Any:
    # lazy re-exports: importing agent.backends must not import torch
    if name in {"AdapterError", "GenerationResult", "LocalChatModel"}:
        from agent.backends import local

        return getattr(local, name)
    raise AttributeError(name)
