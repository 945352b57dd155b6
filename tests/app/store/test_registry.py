"""app.store.registry and app.store.blobs: the adapter registry (files, scores, history), adapter blobs,
replicas seeding and activating once, the old JSON registry imported once."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.store.blobs import AdapterBlobError, pack_adapter, unpack_adapter
from app.store.runs import RunStore
from app.store.schema import adapter_blobs
from tests.app.store.helpers import fake_adapter, fresh_store


def test_adapter_registry_files_scores_history(store: RunStore, tmp_path: Path) -> None:
    reg = store.adapter_registry("host-a:1")
    a = reg.register("a", fake_adapter(tmp_path / "a"), source="job 1")
    b = reg.register("b", fake_adapter(tmp_path / "b"), source="copy")  # same files: stored once
    assert a["sha256"] == b["sha256"] and len(a["sha256"]) == 64 and a["replica"] == "host-a:1"
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(adapter_blobs)).scalar_one() == 1
    reg.record_scores("a", "dev.jsonl@20", {"accuracy": 0.5, "n": 20})
    reg.record_scores("ghost", "dev.jsonl@20", {"accuracy": 0.1, "n": 20})  # scored, never registered
    assert reg.get("a")["scores"]["dev.jsonl@20"]["accuracy"] == 0.5 and reg.get("ghost")["sha256"] is None
    again = reg.register("a", tmp_path / "a", source="job 1", note="kept")  # re-registering keeps scores
    assert again["scores"]["dev.jsonl@20"]["n"] == 20 and again["note"] == "kept"

    assert reg.seed_activation(None, "serving at startup") == 1
    assert reg.seed_activation("a", "serving at startup") is None  # only into an empty history
    ids = [reg.record_activation(n, "t") for n in ["a", "a", "b", None]]
    assert ids[0] is not None and ids[1] is None and ids[2] > ids[0]  # type: ignore[operator]
    assert [h["name"] for h in reg.history()] == [None, "a", "b", None]
    assert reg.latest_activation()["name"] is None and reg.history()[1]["sha256"] == a["sha256"]
    assert reg.previous(None) == (True, "b") and reg.previous("zzz") == (False, None)
    assert {e["name"] for e in reg.all()} == {"a", "b", "ghost"}


def test_local_folder_unpacks_checks_and_refuses(store: RunStore, tmp_path: Path) -> None:
    reg = store.adapter_registry("host-a:1")
    src = fake_adapter(tmp_path / "src" / "job-1", weights=bytes(range(256)) * 40)
    sha = reg.register("job-1", src)["sha256"]
    assert reg.local_folder("job-1", tmp_path / "cache") == src  # the registering folder, when here
    shutil.rmtree(src)  # another host: the files come from the database
    got = reg.local_folder("job-1", tmp_path / "cache")
    assert got == tmp_path / "cache" / "adapters" / f"job-1-{sha[:8]}"
    assert sorted(p.name for p in got.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert (got / "adapter_model.safetensors").read_bytes() == bytes(range(256)) * 40
    assert reg.local_folder("job-1", tmp_path / "cache") == got  # unpacked once
    with pytest.raises(LookupError):
        reg.local_folder("nobody", tmp_path / "cache")

    with store.engine.begin() as conn:  # truncated in the database
        data = conn.execute(select(adapter_blobs.c.data)).scalar_one()
        conn.execute(update(adapter_blobs).values(data=data[:100]))
    with pytest.raises(AdapterBlobError, match="corrupt: sha256"):
        reg.local_folder("job-1", tmp_path / "other-cache")
    assert not (tmp_path / "other-cache" / "adapters" / f"job-1-{sha[:8]}").exists()


def test_pack_is_deterministic_and_unpack_takes_only_adapter_files(tmp_path: Path) -> None:
    folder = fake_adapter(tmp_path / "a")
    blob, sha = pack_adapter(folder)
    (folder / "README.md").write_text("changed")  # not an adapter file: same blob
    assert pack_adapter(folder) == (blob, sha)
    out = unpack_adapter(blob, sha, tmp_path / "out")
    assert (out / "adapter_model.safetensors").read_bytes() == b"w" * 1000

    buf = io.BytesIO()  # a blob with a path-escaping member and no adapter files
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    evil = buf.getvalue()
    with pytest.raises(AdapterBlobError, match="unreadable"):
        unpack_adapter(evil, hashlib.sha256(evil).hexdigest(), tmp_path / "evil-out")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "evil-out").exists()


def test_replicas_seed_and_activate_once(store_url: str, tmp_path: Path) -> None:
    """Replicas starting together register a name and seed the history once; the same activation
    from several is one row."""
    stores = [fresh_store(store_url)] + [RunStore(store_url) for _ in range(3)]
    regs = [s.adapter_registry(f"r{i}") for i, s in enumerate(stores)]
    regs[0].register("a", fake_adapter(tmp_path / "a"))
    barrier = threading.Barrier(len(regs))

    def seed_then_activate(reg: Any) -> None:
        barrier.wait()
        reg.register("b", tmp_path / "a", source=reg.replica)  # the same new name from every replica
        barrier.wait()
        reg.seed_activation(None, "serving at startup")
        barrier.wait()
        reg.record_activation("a", "promoted")

    threads = [threading.Thread(target=seed_then_activate, args=(r,)) for r in regs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [h["name"] for h in regs[1].history()] == [None, "a"]
    assert regs[2].get("b")["source"] in {"r0", "r1", "r2", "r3"} and len(regs[3].all()) == 2
    for s in stores:
        s.close()


def test_registry_json_is_imported_once(store: RunStore, tmp_path: Path) -> None:
    folder = fake_adapter(tmp_path / "job-1")
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({
        "adapters": {
            "job-1": {"name": "job-1", "path": str(folder), "source": "job 1",
                      "scores": {"dev.jsonl@20": {"accuracy": 0.7, "n": 20}}},
            "gone": {"name": "gone", "path": str(tmp_path / "gone"), "source": "manual", "scores": {}},
        },
        "history": [{"name": None, "at": 1.0, "reason": "serving at startup"},
                    {"name": "job-1", "at": 2.0, "reason": "promoted"}],
    }))  # fmt: skip
    reg = store.adapter_registry("r")
    assert reg.import_json(path) == 4
    assert reg.get("job-1")["scores"]["dev.jsonl@20"]["accuracy"] == 0.7 and reg.get("job-1")["sha256"]
    assert reg.get("gone")["sha256"] is None  # its folder is gone: known by name only
    assert [(h["name"], h["at"]) for h in reg.history()] == [(None, 1.0), ("job-1", 2.0)]
    assert reg.import_json(path) == 0  # once
    assert len(reg.history()) == 2
