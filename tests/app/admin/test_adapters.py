"""/admin/adapters: the admin key, hot swap (tiny model + tiny peft adapters), the adapter-path policy,
atomic activation, rollback, and the swap waiting for runs in flight."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent.backends.adapter_check import adapter_config_problems
from agent.backends.local import LocalChatModel
from app.adapter_policy import OUTSIDE_ROOTS
from app.adapters import AdapterService, rollback_choice
from app.limits import ModelLimiter
from app.settings import Settings
from app.state import AppState
from tests.app.admin.helpers import AUTH, ask_adapter


def test_admin_key_required(client: TestClient) -> None:
    assert client.get("/admin/adapters").status_code == 401
    assert client.get("/admin/adapters", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/admin/finetune", json={}).status_code == 401
    ok = client.get("/admin/adapters", headers=AUTH)
    assert ok.status_code == 200 and ok.json()["active"] is None


def test_hot_swap_refuses_bad_adapters_and_rolls_back(client: TestClient, adapters: dict[str, Path]) -> None:
    r = client.post("/admin/adapters/activate", json={"path": str(adapters["ad1"])}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["active"] == "ad1" and ask_adapter(client) == "ad1"

    bad = client.post("/admin/adapters/activate", json={"path": str(adapters["broken"])}, headers=AUTH)
    assert bad.status_code == 422 and "unreadable or truncated" in bad.json()["detail"]
    missing = client.post(
        "/admin/adapters/activate", json={"path": str(adapters["ad1"].parent / "gone")}, headers=AUTH
    )
    assert missing.status_code == 422 and "does not exist" in missing.json()["detail"]
    assert str(adapters["ad1"].parent) not in missing.json()["detail"]  # named relative to its root
    other = client.post("/admin/adapters/activate", json={"path": str(adapters["other"])}, headers=AUTH)
    assert other.status_code == 422 and "another model" in other.json()["detail"]
    assert client.post("/admin/adapters/activate", json={"name": "nobody"}, headers=AUTH).status_code == 404
    assert client.post("/admin/adapters/activate", json={}, headers=AUTH).status_code == 422
    assert ask_adapter(client) == "ad1"  # the previous adapter still answers

    r = client.post(
        "/admin/adapters/activate", json={"path": str(adapters["ad2"]), "name": "second"}, headers=AUTH
    )
    assert r.json()["active"] == "second" and ask_adapter(client) == "second"
    listing = client.get("/admin/adapters", headers=AUTH).json()
    assert {a["name"]: a["active"] for a in listing["adapters"]} == {"ad1": False, "second": True}
    assert client.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"
    assert ask_adapter(client) == "ad1"
    assert (
        client.post("/admin/adapters/activate", json={"name": "none"}, headers=AUTH).json()["active"] is None
    )
    assert ask_adapter(client) is None
    assert client.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"
    history = [h["name"] for h in client.get("/admin/adapters", headers=AUTH).json()["history"]]
    assert history == [None, "ad1", "second", "ad1", None, "ad1"]


def _activate(client: TestClient, **body: str) -> tuple[int, str]:
    r = client.post("/admin/adapters/activate", json=body, headers=AUTH)
    return r.status_code, r.json().get("detail") if r.status_code != 200 else r.json()["active"]


def test_activation_by_path_only_inside_the_adapter_roots(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")
    root = adapters["ad1"].parent
    outside = tmp_path / "elsewhere" / "ad9"
    shutil.copytree(adapters["ad1"], outside)  # a valid adapter, outside every root
    link = root / f"link-{tmp_path.name}"
    link.symlink_to(outside)  # inside a root by name, outside by target
    try:
        probes = [str(outside), "/nonexistent/adapter", "/etc", "/etc/shadow", "../../../../etc", str(link),
                  f"{root}/../{tmp_path.name}", "~/.ssh", str(root)]  # fmt: skip
        for path in probes:  # every refusal reads the same: nothing about what exists
            assert _activate(client, path=path) == (422, OUTSIDE_ROOTS), path
    finally:
        link.unlink()
    assert _activate(client, path=adapters["ad2"].name) == (200, "ad2")  # relative to a root
    assert ask_adapter(client) == "ad2"
    names = {a["name"] for a in client.get("/admin/adapters", headers=AUTH).json()["adapters"]}
    assert "ad9" not in names and not any(n.startswith("link-") for n in names)


def test_a_pre_policy_registry_entry_outside_the_roots_is_not_served_by_name(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    """Before the roots policy an activation took any folder and copied it into the database; such
    an entry is refused by name (admin, rollback, the follower), whatever its files, saying so."""
    outside = tmp_path / "elsewhere" / "old-evil"
    shutil.copytree(adapters["ad1"], outside)
    registry = client.app.state.adapter_registry
    registry.register("old-evil", outside, source="activated")  # as main before fec11e9 wrote it
    code, detail = _activate(client, name="old-evil")
    assert code == 422 and "outside the adapter roots" in detail and str(tmp_path) not in detail
    assert ask_adapter(client) is None  # the base model still serves
    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")  # a folder inside a root: fine


def test_the_name_default_is_reserved_for_the_shipped_adapter(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    code, detail = _activate(client, path=str(adapters["ad1"]), name="default")
    assert code == 422 and "reserved for the shipped adapter" in detail
    impostor = adapters["ad1"].parent / f"x-{tmp_path.name}" / "default"  # a folder named default
    shutil.copytree(adapters["ad1"], impostor)
    try:
        code, detail = _activate(client, path=str(impostor))
        assert code == 422 and "reserved" in detail
    finally:
        shutil.rmtree(impostor.parent)
    assert _activate(client, path=str(adapters["ad1"]), name="none")[0] == 422
    registry = client.get("/admin/adapters", headers=AUTH).json()
    assert "default" not in {a["name"] for a in registry["adapters"]} and registry["active"] is None


@pytest.mark.parametrize(
    "change,refused",
    [
        ({}, None),
        ({"layer_replication": [[0, 2], [1, 2]]}, "layer_replication"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ({"trainable_token_indices": [1, 2]}, "trainable_token_indices"),
        ({"bias": "all"}, "bias"),
        ({"use_dora": True}, None),  # DoRA adds beside the base layers too
        ({"some_future_option": 1}, "some_future_option"),
        ({"layer_replication": None, "modules_to_save": [], "bias": "none"}, None),
    ],
)
def test_adapter_config_whitelist(change: dict, refused: str | None) -> None:
    shipped = json.loads((Path(__file__).parents[3] / "adapters" / "default" / "adapter_config.json").read_text())
    problems = adapter_config_problems(shipped | change)
    assert (problems == []) if refused is None else (len(problems) == 1 and problems[0].startswith(refused))


def test_structure_changing_adapter_is_refused_and_the_current_one_keeps_serving(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")
    bad = adapters["ad1"].parent / f"replicated-{tmp_path.name}"
    shutil.copytree(adapters["ad1"], bad)
    config = json.loads((bad / "adapter_config.json").read_text())
    (bad / "adapter_config.json").write_text(json.dumps(config | {"layer_replication": [[0, 2], [1, 2]]}))
    try:
        code, detail = _activate(client, path=str(bad))
    finally:
        shutil.rmtree(bad)
    assert code == 422 and "layer_replication" in detail and str(bad.parent) not in detail
    assert client.get("/readyz").json()["adapter"] == "ad1" == ask_adapter(client)
    assert _activate(client, path=str(adapters["ad2"])) == (200, "ad2")  # later activations still work
    assert client.get("/readyz").json()["adapter"] == "ad2" == ask_adapter(client)


def test_a_failed_activation_is_atomic(
    client: TestClient, adapters: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")
    real = LocalChatModel._apply_active

    def failing(self: LocalChatModel) -> None:
        if self._active == "ad2":
            raise RuntimeError("boom while swapping")
        real(self)

    monkeypatch.setattr(LocalChatModel, "_apply_active", failing)
    code, detail = _activate(client, path=str(adapters["ad2"]))
    assert code == 422 and "still serving ad1" in detail
    assert client.get("/readyz").json()["adapter"] == "ad1" == ask_adapter(client)
    assert client.get("/admin/adapters", headers=AUTH).json()["history"][-1]["name"] == "ad1"


@pytest.mark.parametrize(
    "found,previous,current,shipped,expected",
    [
        (True, "ad1", "ad2", True, (True, "ad1")),
        (True, None, "ad2", True, (True, None)),
        (False, None, "ad2", True, (True, "default")),  # no history: the shipped adapter
        (False, None, "ad2", False, (True, None)),  # ... or the base model
        (False, None, "default", True, (True, None)),
        (False, None, None, True, (True, "default")),
        (False, None, None, False, (False, None)),  # the base model and nothing shipped: 409
    ],
)
def test_rollback_always_has_a_target(
    found: bool, previous: str | None, current: str | None, shipped: bool, expected: tuple
) -> None:
    assert rollback_choice(found, previous, current, shipped) == expected


def test_swap_waits_for_runs_in_flight(tmp_path: Path) -> None:
    """AdapterService.exclusive holds every model slot: a run in flight ends first, a new run waits for the swap."""


    events: list[str] = []
    app = FastAPI()
    app.state = AppState(Settings(cache_dir=tmp_path))
    app.state.model_limiter = limiter = ModelLimiter(max_concurrency=2, max_queue=4)

    async def run(name: str, hold_s: float) -> None:
        async with limiter.slot():
            events.append(f"{name} start")
            await asyncio.sleep(hold_s)
            events.append(f"{name} end")

    async def scenario() -> None:
        first = asyncio.create_task(run("old-run", 0.2))
        await asyncio.sleep(0.05)  # the run is in flight
        swap = asyncio.create_task(AdapterService(app).exclusive(lambda: events.append("swap")))
        await asyncio.sleep(0.05)
        late = asyncio.create_task(run("new-run", 0.0))  # arrives during the swap's wait
        await asyncio.gather(first, swap, late)

    asyncio.run(scenario())
    assert events == ["old-run start", "old-run end", "swap", "new-run start", "new-run end"]
    assert limiter.active == 0


