"""The zero-shot ReAct prompt, word for word as LangChain's ZERO_SHOT_REACT_DESCRIPTION.

Runs from OpenAI, runs from the local model and the fine-tuning data all share this one text
format, so a trajectory recorded anywhere can train or be replayed anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# langchain_classic/agents/mrkl/prompt.py, unchanged
PREFIX = "Answer the following questions as best you can. You have access to the following tools:"
FORMAT_INSTRUCTIONS = """Use the following format:

Question: the input question you must answer
Thought: you should always think about what to do
Action: the action to take, should be one of [{tool_names}]
Action Input: the input to the action
Observation: the result of the action
... (this Thought/Action/Action Input/Observation can repeat N times)
Thought: I now know the final answer
Final Answer: the final answer to the original input question"""
SUFFIX = """Begin!

Question: {input}
Thought:{agent_scratchpad}"""

# Generation ends here on every backend: the tool, not the model, writes observations.
STOP = "\nObservation:"
STOP_SEQUENCES: list[str] = [STOP]

# The two tools of the product; descriptions are the seed's ("Useful for web search.") and
# LangChain's llm-math tool's. Changing them changes the prompt the adapter was trained on.
SEARCH_NAME = "Search"
SEARCH_DESCRIPTION = "Useful for web search."
CALCULATOR_NAME = "Calculator"
CALCULATOR_DESCRIPTION = "Useful for when you need to answer questions about math."
DEFAULT_TOOLS: list[tuple[str, str]] = [
    (SEARCH_NAME, SEARCH_DESCRIPTION),
    (CALCULATOR_NAME, CALCULATOR_DESCRIPTION),
]


# The final thought of every answered run (LangChain's format instructions, word for word).
FINAL_THOUGHT = "I now know the final answer"

# The one "not found" form: the final answer when the observations do not hold what was asked.
# Training data (finetune) writes exactly these strings; the grounding check and run statuses
# (agent.grounding) recognise them, plus the looser variants a model or a user may write.
NOT_FOUND_THOUGHT = "The search results do not contain the answer"
NOT_FOUND_ANSWER = "I could not find the answer in the search results."
NOT_FOUND_ANSWER_KO = "검색 결과에서 답을 찾을 수 없습니다."


@dataclass(frozen=True)
class ForcedText:
    """Text the format makes certain: once a step's text ends with ``after``, ``text`` comes next.

    A backend that can continue a prompt appends ``text`` and goes on from there instead of decoding
    it token by token (jump-forward: 4 tokens of ~23 ms each on the 2-core CPU become one short
    prefill). ``then_stop`` ends the step at the first of these strings written after ``text`` (the
    tool's input is one line: the parser reads no further, so the model need not write
    ``\nObservation:``).
    """

    after: str
    text: str
    then_stop: tuple[str, ...] = ()


ACTION_INPUT_LINE = "\nAction Input:"
FINAL_ANSWER_LINE = "\nFinal Answer:"


def forced_texts(tool_names: Iterable[str]) -> tuple[ForcedText, ...]:
    """What the format forces in a step: ``Action Input:`` after a tool's name (the input then ends at the
    end of its line), ``Final Answer:`` after the final thought."""
    after_tool = tuple(ForcedText(f"\nAction: {name}", ACTION_INPUT_LINE, ("\n",)) for name in tool_names)
    return (*after_tool, ForcedText(FINAL_THOUGHT, FINAL_ANSWER_LINE))


def not_found_answer(question: str = "") -> str:
    """The not-found final answer, in Korean when the question is written in Hangul."""
    hangul = sum(1 for ch in question if "\uac00" <= ch <= "\ud7a3")
    return NOT_FOUND_ANSWER_KO if hangul >= 2 else NOT_FOUND_ANSWER


def render_header(tools: Sequence[tuple[str, str]] = DEFAULT_TOOLS) -> str:
    """Everything before the question: prefix, tool list and format instructions."""
    tool_strings = "\n".join(f"{name}: {description}" for name, description in tools)
    tool_names = ", ".join(name for name, _ in tools)
    return "\n\n".join([PREFIX, tool_strings, FORMAT_INSTRUCTIONS.format(tool_names=tool_names)]) + "\n\n"


def render_prompt(question: str, tools: Sequence[tuple[str, str]] = DEFAULT_TOOLS, scratchpad: str = "") -> str:
    """The full prompt for one step: header + question + the scratchpad so far."""
    return render_header(tools) + SUFFIX.format(input=question, agent_scratchpad=scratchpad)


def step_log(thought: str, action: str, action_input: str, first: bool) -> str:
    """The text the model writes for one tool step.

    The first step follows ``Thought:`` (so it starts with a space); later steps follow the
    scratchpad's ``Thought: `` (LangChain ends it with a space), so they do not.
    """
    lead = " " if first else ""
    return f"{lead}{thought.strip()}\nAction: {action}\nAction Input: {action_input}"


def final_log(thought: str, answer: str, first: bool) -> str:
    """The text the model writes for the final step."""
    lead = " " if first else ""
    return f"{lead}{thought.strip()}\nFinal Answer: {answer}"


def observation_suffix(observation: str) -> str:
    """What the loop appends after a step's log: LangChain's ``format_log_to_str``
    (``observation_prefix="Observation: "``, ``llm_prefix="Thought: "``)."""
    return f"{STOP} {observation}\nThought: "


def build_scratchpad(steps: Iterable[tuple[str, str]]) -> str:
    """Scratchpad from (model log, observation) pairs, exactly as LangChain formats it.

    The text reads ``Thought: I should ...\\nAction: ...\\nAction Input: ...\\nObservation: ...\\nThought: ``.
    Local backends strip the trailing space before tokenizing and let the model write it back
    as part of its first word (token healing), which is how the training data tokenizes it.
    """
    return "".join(log + observation_suffix(obs) for log, obs in steps)
