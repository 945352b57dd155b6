"""Parse one ReAct step of model text, the way LangChain's ReActSingleInputOutputParser does.

Built on langchain-core's ``BaseOutputParser`` so it composes with any runnable; a malformed
step raises ``OutputParserException`` whose message is fed back to the model as the observation
(LangChain's own wording, so OpenAI models recognise it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseOutputParser

from agent.prompt import STOP

FINAL_ANSWER_ACTION = "Final Answer:"
MISSING_ACTION_AFTER_THOUGHT = "Invalid Format: Missing 'Action:' after 'Thought:'"
MISSING_ACTION_INPUT_AFTER_ACTION = "Invalid Format: Missing 'Action Input:' after 'Action:'"
FINAL_ANSWER_AND_ACTION = "Parsing LLM output produced both a final answer and a parse-able action"

_ACTION_RE = re.compile(r"Action\s*\d*\s*:[\s]*(.*?)[\s]*Action\s*\d*\s*Input\s*\d*\s*:[\s]*(.*)", re.DOTALL)


@dataclass(frozen=True)
class ParsedAction:
    thought: str
    tool: str
    tool_input: str
    log: str


@dataclass(frozen=True)
class ParsedFinish:
    thought: str
    answer: str
    log: str


def cut_at_stop(text: str, stops: list[str] | None = None) -> str:
    """Cut text at the first stop sequence (defence in depth: backends already stop there)."""
    for stop in stops or [STOP]:
        i = text.find(stop)
        if i != -1:
            text = text[:i]
    return text


def _thought(text: str, end: int) -> str:
    thought = text[:end].strip()
    if thought.startswith("Thought:"):
        thought = thought[len("Thought:") :].strip()
    return thought


class ReActParser(BaseOutputParser[ParsedAction | ParsedFinish]):
    """``Thought ... Action: X / Action Input: Y`` → ParsedAction; ``Final Answer: Z`` → ParsedFinish."""

    def parse(self, text: str) -> ParsedAction | ParsedFinish:
        text = cut_at_stop(text)
        includes_answer = FINAL_ANSWER_ACTION in text
        match = _ACTION_RE.search(text)
        if match and not (includes_answer and text.find(FINAL_ANSWER_ACTION) < match.start()):
            if includes_answer:
                raise OutputParserException(f"{FINAL_ANSWER_AND_ACTION}: {text}", llm_output=text)
            tool = match.group(1).strip().strip("`*").strip()
            # One line of input: a small model that rambles after it does not get its ramble run.
            tool_input = match.group(2).strip().split("\n", 1)[0].strip().strip('"').strip("`").strip()
            return ParsedAction(_thought(text, match.start()), tool, tool_input, text)
        if includes_answer:
            i = text.find(FINAL_ANSWER_ACTION)
            answer = text[i + len(FINAL_ANSWER_ACTION) :].strip()
            return ParsedFinish(_thought(text, i), answer, text)
        if not re.search(r"Action\s*\d*\s*:[\s]*(.*?)", text, re.DOTALL):
            raise OutputParserException(MISSING_ACTION_AFTER_THOUGHT, llm_output=text)
        raise OutputParserException(MISSING_ACTION_INPUT_AFTER_ACTION, llm_output=text)

    @property
    def _type(self) -> str:
        return "qreact-react"
