"""ReActParser: LangChain's ReActSingleInputOutputParser behaviour on the texts models really write."""

from __future__ import annotations

import pytest
from langchain_core.exceptions import OutputParserException

from agent.parser import (
    FINAL_ANSWER_AND_ACTION,
    MISSING_ACTION_AFTER_THOUGHT,
    MISSING_ACTION_INPUT_AFTER_ACTION,
    ParsedAction,
    ParsedFinish,
    ReActParser,
    cut_at_stop,
)

parser = ReActParser()


def test_action():
    parsed = parser.parse(" I need to compute it.\nAction: Calculator\nAction Input: 37 * 12 + 5")
    assert parsed == ParsedAction(
        "I need to compute it.",
        "Calculator",
        "37 * 12 + 5",
        " I need to compute it.\nAction: Calculator\nAction Input: 37 * 12 + 5",
    )


def test_final_answer():
    parsed = parser.parse("I now know the final answer\nFinal Answer: Canberra")
    assert isinstance(parsed, ParsedFinish)
    assert (parsed.thought, parsed.answer) == ("I now know the final answer", "Canberra")


def test_thought_prefix_is_dropped():
    parsed = parser.parse("Thought: look it up\nAction: Search\nAction Input: capital of Australia")
    assert parsed.thought == "look it up"


@pytest.mark.parametrize(
    ("text", "tool", "tool_input"),
    [
        ('x\nAction: `Search`\nAction Input: "capital of France"', "Search", "capital of France"),
        ("x\nAction: **Calculator**\nAction Input: `2 + 2`", "Calculator", "2 + 2"),
        ("x\nAction 1: Search\nAction 1 Input: Peru", "Search", "Peru"),
        ("x\nAction:Search\nAction Input:Peru\nand then I will ramble on", "Search", "Peru"),
    ],
)
def test_action_variants(text, tool, tool_input):
    parsed = parser.parse(text)
    assert isinstance(parsed, ParsedAction)
    assert (parsed.tool, parsed.tool_input) == (tool, tool_input)


def test_answer_before_action_is_a_final_answer():
    parsed = parser.parse("x\nFinal Answer: 4\nAction: Search\nAction Input: y")
    assert isinstance(parsed, ParsedFinish) and parsed.answer.startswith("4")


def test_action_then_final_answer_is_an_error():
    with pytest.raises(OutputParserException, match=FINAL_ANSWER_AND_ACTION):
        parser.parse("x\nAction: Search\nAction Input: y\nFinal Answer: 4")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I am thinking about it", MISSING_ACTION_AFTER_THOUGHT),
        ("", MISSING_ACTION_AFTER_THOUGHT),
        ("I will search\nAction: Search", MISSING_ACTION_INPUT_AFTER_ACTION),
    ],
)
def test_malformed(text, message):
    with pytest.raises(OutputParserException) as info:
        parser.parse(text)
    assert str(info.value).startswith(message)


def test_text_after_the_stop_sequence_is_ignored():
    text = "x\nAction: Calculator\nAction Input: 2 + 2\nObservation: 5\nFinal Answer: 5"
    parsed = parser.parse(text)
    assert isinstance(parsed, ParsedAction) and parsed.tool_input == "2 + 2"
    assert cut_at_stop(text) == "x\nAction: Calculator\nAction Input: 2 + 2"
    assert cut_at_stop("a STOP b", ["STOP"]) == "a "
