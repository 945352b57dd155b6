"""finetune.mix keeps every multi-step trajectory and samples the rest reproducibly."""

from __future__ import annotations

from finetune.mix import mix


def _row(kind: str, steps: int, i: int) -> dict:
    return {"id": f"{kind}-{i}", "kind": kind, "steps": [{}] * steps}


def test_mix_keeps_all_multi_step_and_samples_the_rest() -> None:
    rows = [_row("density", 3, i) for i in range(10)] + [_row("capital", 1, i) for i in range(20)]
    rows += [_row("arithmetic", 1, i) for i in range(20)]
    out = mix(rows, single=5, arithmetic=3, seed=0)
    assert sum(r["kind"] == "density" for r in out) == 10
    assert sum(r["kind"] == "capital" for r in out) == 5 and sum(r["kind"] == "arithmetic" for r in out) == 3
    assert [r["id"] for r in out] == [r["id"] for r in mix(rows, single=5, arithmetic=3, seed=0)]
    assert [r["id"] for r in out] != [r["id"] for r in mix(rows, single=5, arithmetic=3, seed=1)]
