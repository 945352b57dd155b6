"""Where adapters may come from over HTTP: registry names, or folders inside the adapter roots.

An admin activates an adapter by a name the registry knows, or by a folder inside one of the
*adapter roots*: the repository's ``adapters/``, the cache's ``adapters/`` (training jobs write
there), the folder of the configured ``QREACT_ADAPTER``, and ``QREACT_ADAPTER_ROOTS``. Anything
else is refused with one message, whatever is on disk, so a refusal tells nothing about the file
system. The name ``default`` means the shipped adapter only; ``none`` means the base model.

The adapter service (app/routes/admin.py today) calls ``resolve_activation_path`` and
``check_adapter_name``; ``display_path`` writes a folder as its caller may see it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.backends import DEFAULT_ADAPTER_NAME, REPO_ROOT, default_adapter_dir
from app.settings import Settings

RESERVED_NAMES = frozenset({DEFAULT_ADAPTER_NAME, "none"})
OUTSIDE_ROOTS = (
    "adapter path refused: activate a registered adapter by name, or give a folder inside the adapter "
    "roots (the repository's adapters/, the cache's adapters/, QREACT_ADAPTER_ROOTS)"
)


class AdapterPathRefused(ValueError):
    """A path outside the adapter roots, or a reserved name for another folder (HTTP 422)."""


def _configured_folder(settings: Settings) -> Path | None:
    """``QREACT_ADAPTER`` when it names a folder (the operator's choice), resolved."""
    value = settings.adapter
    if value is None or value == DEFAULT_ADAPTER_NAME:
        return None
    return Path(value).expanduser().resolve()


def shipped_adapter_dir(settings: Settings) -> Path:
    """The folder the name ``default`` stands for: a configured folder named ``default`` (the Docker
    images set ``/app/adapters/default``), else the repository's ``adapters/default``."""
    configured = _configured_folder(settings)
    if configured is not None and configured.name == DEFAULT_ADAPTER_NAME:
        return configured
    return default_adapter_dir().resolve()


def adapter_roots(settings: Settings) -> list[Path]:
    """Folders an activation path must lie in, resolved (symlinks followed), without duplicates."""
    roots = [REPO_ROOT / "adapters", Path(settings.cache_dir) / "adapters"]
    configured = _configured_folder(settings)
    if configured is not None:
        roots.append(configured.parent)
    roots += list(settings.adapter_roots)
    return unique_resolved(roots)


def unique_resolved(roots: Iterable[str | Path]) -> list[Path]:
    """``roots`` expanded and resolved (symlinks followed), first occurrence kept, in order."""
    out: list[Path] = []
    for root in roots:
        resolved = Path(root).expanduser().resolve()
        if resolved not in out:
            out.append(resolved)
    return out


def _inside(folder: Path, root: Path) -> bool:
    return folder != root and folder.is_relative_to(root)


def resolve_activation_path(settings: Settings, path: str) -> Path:
    """The adapter folder ``path`` names, inside an adapter root; else ``AdapterPathRefused``.

    A relative path is read against each root in turn (``job-3f9a1c2b7d4e``) and against the
    repository (``adapters/default``). Symlinks are followed before the check, so a link inside a
    root that points outside it is refused. Whether the folder exists is not checked here: that is
    for adapter validation, whose message is written with ``display_path``.
    """
    roots = adapter_roots(settings)
    given = Path(path).expanduser()
    bases = [given] if given.is_absolute() else [*(root / given for root in roots), REPO_ROOT / given]
    for candidate in bases:
        folder = candidate.resolve()
        if any(_inside(folder, root) for root in roots) and (given.is_absolute() or folder.is_dir()):
            return folder
    raise AdapterPathRefused(OUTSIDE_ROOTS)


def check_adapter_name(settings: Settings, name: str, folder: Path) -> None:
    """Refuse a reserved name for a folder it does not stand for."""
    if name.lower() == "none":
        raise AdapterPathRefused("'none' is the base model; it cannot name an adapter folder")
    if name == DEFAULT_ADAPTER_NAME and folder != shipped_adapter_dir(settings):
        raise AdapterPathRefused("the name 'default' is reserved for the shipped adapter; choose another name")


ROOTS_CHECKED = "roots_checked"  # a registry entry's info flag: registered through this policy


def registered_folder_allowed(settings: Settings, name: str, entry: dict[str, Any]) -> bool:
    """Whether a registry entry may be served by name. Entries registered under the roots policy
    carry ``roots_checked`` (an admin's activation by path, a job's output, the startup adapter:
    checked on the replica that registered them, whose roots may differ from this one's). Older
    entries (an activation by any path, copied into the database) are re-checked against this
    host's roots, at startup, on restore and when followed or activated by name. ``default`` is
    always the shipped adapter, never an entry's folder, so it is always allowed."""
    if name == DEFAULT_ADAPTER_NAME or entry.get(ROOTS_CHECKED) is True:
        return True
    path = entry.get("path")
    if not path:
        return False
    folder = Path(path).expanduser().resolve()
    return any(_inside(folder, root) for root in adapter_roots(settings))


REGISTERED_OUTSIDE = (
    "adapter {name!r} was registered from a folder outside the adapter roots (before they were "
    "enforced) and is not served; activate a folder inside the adapter roots instead"
)


def display_path(settings: Settings, folder: Path) -> str:
    """``folder`` relative to its adapter root (``adapters/job-1``), for messages an API caller reads."""
    for root in adapter_roots(settings):
        if _inside(folder, root):
            return f"{root.name}/{folder.relative_to(root)}"
    return folder.name


def redact(settings: Settings, message: str, folder: Path | None = None) -> str:
    """A validation message with the absolute folder (and the roots) written as ``display_path``."""
    out = message if folder is None else message.replace(str(folder), display_path(settings, folder))
    for root in adapter_roots(settings):
        out = out.replace(str(root), root.name)
    return out
