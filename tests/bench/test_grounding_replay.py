"""bench.grounding_replay: recorded traces get today's statuses (the check, the nothing-useful stop)."""

from __future__ import annotations

from bench.grounding_replay import replay

AUSTRALIA = "Australia: capital Canberra; population 23,696,900; area 7,692,024 km2; borders none."


def row(answer: str, *observations: tuple[str, str]) -> dict:
    trace = [{"kind": "tool", "log": f" Look.\nAction: Search\nAction Input: {q}", "observation": o}
             for q, o in observations]  # fmt: skip
    trace.append({"kind": "final", "log": f"I now know the final answer\nFinal Answer: {answer}", "observation": None})
    return {"question": "Who leads Australia?", "final_answer": answer, "correct": True, "status": "answered",
            "trace": trace}  # fmt: skip


def test_replay_judges_the_answer_and_stops_where_the_loop_would() -> None:
    assert replay(row("Australia has no land borders.", ("Australia", AUSTRALIA)))["status"] == "answered"
    bad = replay(row("John Smith leads Australia.", ("Australia", AUSTRALIA)))
    assert (bad["status"], bad["grounding"]["unsupported"]) == ("ungrounded", ["John Smith"])
    empty = ("leader", "No good search result found.")
    stopped = replay(row("John Smith.", empty, empty))
    assert (stopped["status"], stopped["correct"]) == ("not_found", False)
