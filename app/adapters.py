"""The one adapter lifecycle of a serving app: ``AdapterService``.

Every change of the served adapter goes through it, whoever asks: an admin's activation or rollback
(``app/routes/admin.py``), what startup restored (``restore_target``, which ``app.wiring`` loads,
then ``register_startup``), the replica follower
(``sync``/``follow``: activations are recorded in the run store's database and every replica
serves the latest one) and a training job's promotion (``job_activator``). A swap holds every model
slot, so runs in flight finish on the old adapter and no run mixes two. Which folders may be loaded
is ``app.adapter_policy``'s decision; the adapter registry is the run store's (``app.store.registry``), or
the single-host JSON file of ``finetune.promote`` when the store is away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from agent.backends import DEFAULT_ADAPTER_NAME, AdapterHost
from app.adapter_policy import (
    REGISTERED_OUTSIDE,
    ROOTS_CHECKED,
    AdapterPathRefused,
    check_adapter_name,
    redact,
    registered_folder_allowed,
    resolve_activation_path,
    shipped_adapter_dir,
)
from app.limits import Overloaded
from app.settings import Settings
from app.state import AppState, ReplicaState, app_state
from app.store.blobs import folder_sha256
from app.store.registry import open_adapter_registry
from finetune.promote import AdapterRegistry, Registry

logger = logging.getLogger(__name__)
_INIT = threading.Lock()  # first use of the registry / replica record / job manager of an app


# ------------------------------------------------------------------ restore at startup
def _restore_from_store(settings: Settings, shipped: tuple[str, Path] | None) -> tuple[bool, tuple[str, Path] | None]:
    """(found, target) from the run store's activation history (shared by replicas); found=False
    when the store has none yet (a new cache, or one that only has a registry.json)."""
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
        if not registered_folder_allowed(settings, name, registry.get(name) or {}):
            logger.error("the last activated adapter %r is not restored: %s; serving %s", name,
                         REGISTERED_OUTSIDE.format(name=name), shipped[0] if shipped else "the base model")  # fmt: skip
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


def restore_target(settings: Settings, shipped: tuple[str, Path] | None) -> tuple[str, Path] | None:
    """With ``QREACT_ADAPTER=default``, a restart keeps serving the adapter last activated (promoted
    by the eval gate or activated by an admin): the run store's activation history (every replica's),
    else ``cache_dir/adapters/registry.json`` (a single host before the store held it); the shipped
    adapter when there is none or it is gone."""
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
    if not registered_folder_allowed(settings, last, entry):
        logger.error("the last activated adapter %r is not restored: %s", last, REGISTERED_OUTSIDE.format(name=last))
        return shipped
    logger.info("restoring adapter %r (%s), the last one activated in %s", last, folder, registry)
    return last, folder


# ------------------------------------------------------------------ rollback and sync rules
def rollback_choice(
    found: bool, previous: str | None, current: str | None, shipped_exists: bool
) -> tuple[bool, str | None]:
    """Where rollback goes: the previous activation, else the shipped adapter, else the base model.

    (possible, target); not possible only when the base model serves and there is no shipped adapter.
    """
    if found:
        return True, previous
    if current != DEFAULT_ADAPTER_NAME and shipped_exists:
        return True, DEFAULT_ADAPTER_NAME
    if current is not None:
        return True, None
    return False, None


def in_sync(replica: ReplicaState, serving: str | None, desired: dict[str, Any] | None) -> bool:
    """This replica serves the desired activation (the same name, and the same files when known)."""
    if desired is None:
        return True
    name, sha = desired["name"], desired.get("sha256")
    return bool(name == serving and (name is None or sha is None or replica.shas.get(name) == sha))


class AdapterService:
    """Activate (by name or path), roll back, register at startup, follow the cluster, promote."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state: AppState = app_state(app)

    # ------------------------------------------------------------------ what it works on
    @property
    def registry(self) -> Registry:
        """The run store's registry (set at startup), else the single-host JSON file."""
        state = self.state
        with _INIT:
            if state.adapter_registry is None:
                state.adapter_registry = AdapterRegistry(Path(state.settings.cache_dir) / "adapters" / "registry.json")
            return state.adapter_registry

    @property
    def replica(self) -> ReplicaState:
        state = self.state
        with _INIT:
            if state.replica is None:
                state.replica = ReplicaState(id="local")
            return state.replica

    def serving_model(self) -> AdapterHost | None:
        """The live model when it is loaded and hosts adapters."""
        model = self.state.chat_model if self.state.ready else None
        return model if isinstance(model, AdapterHost) else None

    # ------------------------------------------------------------------ startup
    def register_startup(self) -> None:
        """After the model loaded: register what it serves (files into the database), seed an empty
        history, and decide where this replica starts following the cluster's activations.

        ``QREACT_ADAPTER=default`` already restored the latest activation (``app.wiring``), so it
        follows from the start; an explicit adapter or ``none`` is kept until the next activation.
        """
        model, registry, replica = self.state.chat_model, self.registry, self.replica
        if not isinstance(model, AdapterHost):
            return
        for a in model.list_adapters():
            entry = registry.get(a["name"])
            # 'default' is the shipped adapter: an entry of that name with other files is replaced
            stale = a["name"] == DEFAULT_ADAPTER_NAME and entry is not None and entry.get("path") != str(a["path"])
            if entry is None or stale:
                registry.register(a["name"], a["path"], source="startup", **{ROOTS_CHECKED: True})
            replica.shas[a["name"]] = folder_sha256(Path(a["path"]))
        if registry.latest_activation() is None:
            registry.seed_activation(model.active_adapter, "serving at startup")
        latest = registry.latest_activation()
        follows_now = self.state.settings.adapter == "default"
        replica.seen_id = 0 if follows_now or latest is None else int(latest["id"])

    def ensure_registered(self) -> None:
        """``register_startup`` once, for an app whose lifespan did not (embedding)."""
        state = self.state
        if state.ready and not state.startup_registered:
            with _INIT:
                first, state.startup_registered = not state.startup_registered, True
            if first:
                self.register_startup()

    # ------------------------------------------------------------------ one swap
    async def exclusive(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` holding every model slot: runs in flight finish first (on the old adapter) and
        runs that arrive meanwhile wait in the queue, so no run ever mixes two adapters."""
        state = self.state
        limiter, lock = state.model_limiter, state.swap_lock
        if lock is None:
            lock = state.swap_lock = asyncio.Lock()
        held = 0
        async with lock:
            deadline = time.monotonic() + float(state.settings.timeout_s)  # at most one run's budget, seconds
            try:
                while limiter is not None and held < limiter.max_concurrency:
                    try:
                        await limiter.acquire()
                        held += 1
                    except Overloaded as exc:  # queue full: try again until the deadline
                        if time.monotonic() > deadline:
                            raise HTTPException(
                                status_code=503, detail=f"could not swap adapters: {exc}"
                            ) from exc
                        await asyncio.sleep(0.05)
                return await run_in_threadpool(fn, *args)
            finally:
                for _ in range(held if limiter is not None else 0):
                    limiter.release()  # type: ignore[union-attr]

    def prepare(self, model: AdapterHost, name: str | None, path: str | None, sha256: str | None = None) -> str | None:
        """Load the adapter when needed (serving is untouched); a bad one raises 4xx. Returns its name.

        A path must lie inside the adapter roots (``app.adapter_policy``); ``default`` is always the
        shipped adapter. By name, the files come from this host's folder or the database
        (``registry.local_folder``); a name loaded with other files than ``sha256`` (an activation's)
        or the registry's is reloaded. Messages name folders relative to their root, never absolutely.
        """
        settings, registry, replica = self.state.settings, self.registry, self.replica
        loaded = {a["name"] for a in model.list_adapters()}
        folder: Path | None = None
        try:
            if path is not None:
                folder = resolve_activation_path(settings, path)
                name = name or folder.name
                check_adapter_name(settings, name, folder)
                model.load_adapter(folder, name)
                entry = registry.register(name, folder, source="activated", **{ROOTS_CHECKED: True})
                replica.shas[name] = entry.get("sha256")
            elif name == DEFAULT_ADAPTER_NAME:
                if name not in loaded:
                    folder = shipped_adapter_dir(settings)
                    model.load_adapter(folder, name)
                    replica.shas[name] = folder_sha256(folder)
            elif name is not None:
                known_entry = registry.get(name)
                want = sha256 or (known_entry or {}).get("sha256")  # the files the registry holds now
                if known_entry is not None and not registered_folder_allowed(settings, name, known_entry):
                    raise AdapterPathRefused(REGISTERED_OUTSIDE.format(name=name))
                if name not in loaded or (want is not None and replica.shas.get(name) != want):
                    if known_entry is None or not (known_entry.get("path") or known_entry.get("sha256")):
                        known = sorted(loaded | {e["name"] for e in registry.all()})
                        raise HTTPException(
                            status_code=404, detail=f"unknown adapter {name!r}; known: {known or 'none'}"
                        )
                    folder = registry.local_folder(name, Path(settings.cache_dir), want)
                    model.load_adapter(folder, name)
                    replica.shas[name] = want
        except AdapterPathRefused as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        except (ValueError, OSError) as exc:  # AdapterError is a ValueError: missing, corrupt, incompatible
            reason = redact(settings, str(exc), folder)
            raise HTTPException(
                status_code=422, detail=f"adapter refused, the current one keeps serving: {reason}"
            ) from exc
        return name

    async def swap(self, model: AdapterHost, name: str | None) -> None:
        """Serve ``name`` (loaded); on a failure the previous adapter keeps serving (422)."""
        try:
            await self.exclusive(model.activate_adapter, name)
        except ValueError as exc:  # AdapterError: the model restored the previous adapter
            reason = redact(self.state.settings, str(exc))
            raise HTTPException(
                status_code=422, detail=f"adapter refused, the current one keeps serving: {reason}"
            ) from exc

    # ------------------------------------------------------------------ what an admin asks
    async def activate(self, model: AdapterHost, name: str | None, path: str | None, reason: str) -> None:
        """Load, swap and record the activation (the other replicas follow it)."""
        name = await run_in_threadpool(self.prepare, model, name, path)
        await self.swap(model, name)
        new_id = await run_in_threadpool(self.registry.record_activation, name, reason)
        if new_id is not None:
            self.replica.seen_id = max(self.replica.seen_id, new_id)

    async def rollback(self, model: AdapterHost) -> None:
        """Serve the adapter active before the current one, else the shipped one, else the base model."""
        current = model.active_adapter
        found, previous = await run_in_threadpool(self.registry.previous, current)
        shipped = (shipped_adapter_dir(self.state.settings) / "adapter_config.json").is_file()
        found, previous = rollback_choice(found, previous, current, shipped)
        if not found:
            raise HTTPException(status_code=409, detail="the base model serves and there is no shipped adapter")
        await self.activate(model, previous, None, reason=f"rollback from {current or 'none'}")

    def job_activator(self, loop: asyncio.AbstractEventLoop) -> Callable[[Any, str], None]:
        """What a training job calls (from its thread) to serve the adapter it promoted."""

        def activate(model: Any, name: str) -> None:
            asyncio.run_coroutine_threadsafe(self.exclusive(model.activate_adapter, name), loop).result()
            self.replica.shas[name] = (self.registry.get(name) or {}).get("sha256")

        return activate

    # ------------------------------------------------------------------ following the cluster
    async def sync(self) -> str:
        """One pass: serve the cluster's latest activation if this replica does not yet.

        Returns "idle" (not ready, no local model), "in sync", "swapped", "refused" (a bad adapter:
        logged, the current one keeps serving, not retried until the next activation) or "retry"
        (the database or the model slots were busy: tried again next time).
        """
        model = self.serving_model()
        if model is None:
            return "idle"
        registry, replica = self.registry, self.replica
        try:
            latest = await run_in_threadpool(registry.latest_activation)
        except SQLAlchemyError as exc:
            logger.warning("replica %s: cannot read the desired adapter (%s); retrying", replica.id, exc)
            return "retry"
        replica.last_sync_at = time.time()
        if latest is None or int(latest["id"]) <= replica.seen_id:
            return "in sync"
        name, sha, act_id = latest["name"], latest.get("sha256"), int(latest["id"])
        if in_sync(replica, model.active_adapter, latest):
            replica.seen_id, replica.sync_error = act_id, None
            return "in sync"
        try:
            await run_in_threadpool(self.prepare, model, name, None, sha)
            await self.swap(model, name)
        except HTTPException as exc:
            if exc.status_code == 503:  # the model slots stayed busy: try again next time
                logger.warning("replica %s: could not swap to %r yet: %s", replica.id, name, exc.detail)
                return "retry"
            replica.seen_id, replica.sync_error = act_id, str(exc.detail)
            logger.error(
                "replica %s: activation %d (%r by %s) refused, still serving %r: %s",
                replica.id, act_id, name, latest.get("replica"), model.active_adapter, exc.detail,
            )  # fmt: skip
            return "refused"
        except SQLAlchemyError as exc:
            logger.warning("replica %s: cannot fetch adapter %r (%s); retrying", replica.id, name, exc)
            return "retry"
        replica.seen_id, replica.sync_error = act_id, None
        logger.info(
            "replica %s now serves %r (activation %d by %s: %s)",
            replica.id, name, act_id, latest.get("replica"), latest.get("reason"),
        )  # fmt: skip
        return "swapped"

    async def follow(self, interval_s: float) -> None:
        """The lifespan's background task: ``sync`` every ``interval_s`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sync()
            except Exception:  # the follower never dies: it logs and tries again
                logger.exception("adapter sync failed")
