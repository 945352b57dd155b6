"""Prompt text and stop strings (agent/backends/text.py): token healing, the earliest stop string, what
streaming must hold back, and the prompt a list of chat messages becomes."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

from agent.backends.text import find_stop, heal_prompt, messages_to_prompt, stop_holdback
from agent.prompt import STOP, render_prompt

PROMPT = render_prompt("What is the capital of Australia?")


def test_heal_prompt_and_find_stop() -> None:
    assert heal_prompt("Thought: ") == ("Thought:", True)
    assert heal_prompt("Thought:") == ("Thought:", False)
    assert find_stop("a\nObservation: b", [STOP]) == 1
    assert find_stop("abc", [STOP, "x"]) == -1
    assert find_stop("xy\nObservation:", ["y", STOP]) == 1


def test_messages_to_prompt() -> None:
    assert messages_to_prompt([HumanMessage(content=PROMPT)]) == PROMPT
    joined = messages_to_prompt([SystemMessage(content="be brief"), HumanMessage(content="hi")])
    assert joined == "be brief\n\nhi"


def test_stop_holdback_keeps_what_may_start_a_stop_string() -> None:
    assert stop_holdback("Paris\nObs", [STOP]) == len("\nObs")
    assert stop_holdback("Paris\n", [STOP]) == 1
    assert stop_holdback("Paris", [STOP]) == 0
    assert stop_holdback("Paris\nObservation", ["\nObservation:", "ion"]) == len("\nObservation")
    assert stop_holdback("", [STOP]) == 0
