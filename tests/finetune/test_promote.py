"""finetune.promote: the promotion rule and the JSON adapter registry."""

from __future__ import annotations

from pathlib import Path

from finetune.promote import AdapterRegistry, decide


def test_decide_and_registry(tmp_path: Path) -> None:
    assert decide({"accuracy": 0.5, "n": 10}, {"accuracy": 0.5}, 0.0).promote  # not worse is enough
    assert not decide({"accuracy": 0.5, "n": 10}, {"accuracy": 0.5}, 0.05).promote
    assert not decide({"accuracy": 1.0, "n": 0}, None, 0.0).promote
    reg = AdapterRegistry(tmp_path / "reg.json")
    for name in ["a", "b", "b", None]:
        reg.record_activation(name)
    reg.register("a", tmp_path, source="t")
    reg.record_scores("a", "dev.jsonl@5", {"accuracy": 0.4})
    again = AdapterRegistry(tmp_path / "reg.json")  # survives a restart
    assert [h["name"] for h in again.history()] == ["a", "b", None]
    assert again.previous(None) == (True, "b") and again.previous("a") == (False, None)
    assert again.get("a")["scores"]["dev.jsonl@5"]["accuracy"] == 0.4
