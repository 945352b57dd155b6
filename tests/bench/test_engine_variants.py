"""bench.engine_variants: rules E7 and E8 (NOTES.md) as the bench applies them, on made-up runs."""

from __future__ import annotations

from typing import Any

import pytest

from bench.engine_variants import apply_e8, compare, judge, judge_e8, render, summary


def runs(answers: list[str], right: int, latency: float) -> list[dict[str, Any]]:
    return [{"id": f"q{i}", "answer": a, "correct": i < right, "latency_s": latency, "requests": 2, "decoded": 40}
            for i, a in enumerate(answers)]  # fmt: skip


def variant(p1_latency: float, dev_answers: list[str], dev_right: int) -> dict[str, Any]:
    p1, dev = runs(["a"] * 20, 16, p1_latency), runs(dev_answers, dev_right, 2.0)
    return {"p1": p1, "dev": dev, "ask": summary(p1), "dev_summary": summary(dev), "decode_tok_s": 40.0,
            "prefill_tok_s": 400.0, "peak_rss_mb": 560.0, "env": {}, "served": {"model": "m.gguf", "lora": None,
            "size_mb": 292, "threads": 2}}  # fmt: skip


SAME = [f"answer {i}" for i in range(100)]


@pytest.mark.parametrize(
    ("latency", "changed", "right", "passes", "why"),
    [
        (1.30, 0, 80, True, "7 % faster, the same answers"),
        (1.32, 3, 80, True, "5.7 % faster, 97/100 identical, as many right"),
        (1.34, 0, 80, False, "only 4.3 % faster"),
        (1.30, 4, 80, False, "96/100 identical"),
        (1.30, 2, 79, False, "one right answer fewer"),
        (1.30, 2, 81, True, "more right answers"),
    ],
)
def test_rule_e7(latency, changed, right, passes, why):
    default = variant(1.40, SAME, 80)
    other = variant(latency, [f"other {i}" if i < changed else a for i, a in enumerate(SAME)], right)
    for v in (default, other):
        v["p1_vs_default"] = compare(v["p1"], default["p1"])
        v["dev_vs_default"] = compare(v["dev"], default["dev"])
    results = {"variants": {"default": default, "other": other}}
    rule = judge(results, "other", "default")
    assert rule["passes"] is passes, why
    assert other["dev_vs_default"]["identical"] == 100 - changed
    other["rule_e7"] = rule
    results |= {"environment": {}, "environment_after": {}, "started_utc": "15:00:00", "ended_utc": "15:10:00",
                "args": {"n": 20, "dev": 100, "threads": 2, "tag": ""}}  # fmt: skip
    assert ("**passes**" in render(results)) is passes


def test_a_variant_without_the_100_dev_questions_cannot_pass():
    default, other = variant(1.40, SAME[:10], 8), variant(1.00, SAME[:10], 8)
    for v in (default, other):
        v["dev_vs_default"] = compare(v["dev"], default["dev"])
    assert judge({"variants": {"default": default, "other": other}}, "other", "default")["passes"] is False


@pytest.mark.parametrize(
    ("latency", "changed", "right", "p1_right", "bad", "passes", "why"),
    [
        (1.30, 5, 81, 17, 0, True, "7 % faster, 95/100 identical but more right: E8 scores rightness"),
        (1.34, 0, 81, 17, 0, False, "only 4.3 % faster"),
        (1.30, 5, 79, 17, 0, False, "one dev answer fewer right"),
        (1.30, 5, 81, 15, 0, False, "one P1 answer fewer right"),
        (1.30, 5, 81, 16, 1, False, "a dev question newly ends at the step limit"),
    ],
)
def test_rule_e8(latency, changed, right, p1_right, bad, passes, why):
    default = variant(1.40, SAME, 80)
    other = variant(latency, [f"other {i}" if i < changed else a for i, a in enumerate(SAME)], right)
    other["p1"] = runs(["a"] * 20, p1_right, latency)
    other["ask"] = summary(other["p1"])
    for row in other["dev"][:bad]:
        row["status"] = "max_steps"
    for v in (default, other):
        v["p1_vs_default"] = compare(v["p1"], default["p1"])
        v["dev_vs_default"] = compare(v["dev"], default["dev"])
    results = {"variants": {"default": default, "other": other}}
    assert judge_e8(results, "other", "default")["passes"] is passes, why
    assert judge(results, "other", "default")["passes"] is False  # E7 asks for 97 identical: none of these has it
    apply_e8(results)
    assert results["rule_e8_default"] == ("other" if passes else "default")
    results |= {"environment": {}, "environment_after": {}, "started_utc": "15:00:00", "ended_utc": "15:10:00",
                "args": {"n": 20, "dev": 100, "threads": 2, "tag": ""}}  # fmt: skip
    assert f"the default is **{results['rule_e8_default']}**" in render(results)
