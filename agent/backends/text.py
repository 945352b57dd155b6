"""Prompt text and stop strings for the local engines: what a generation returns, the prompt a list of
chat messages becomes, token healing, and where a stop string ends the text (or might begin, while
streaming). Plain Python: no torch, so any engine (the transformers model, llama.cpp) can share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage


@dataclass
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (stop string or EOS), "length" (max_new_tokens) or "timeout" (DEADLINE)
    cached_tokens: int = 0  # prompt tokens whose keys/values came from the cache (not prefilled)



def messages_to_prompt(messages: Sequence[BaseMessage], tokenizer: Any = None) -> str:
    """One human message → its text as is (the ReAct prompt); several → the chat template if the
    tokenizer has one, else the contents joined by blank lines (base models have no template)."""
    if len(messages) == 1 and isinstance(messages[0], HumanMessage):
        return str(messages[0].content)
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if template:
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        chat = [{"role": roles.get(m.type, m.type), "content": str(m.content)} for m in messages]
        return str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
    return "\n\n".join(str(m.content) for m in messages)


def heal_prompt(prompt: str) -> tuple[str, bool]:
    """Strip one trailing space (token healing); returns the prompt and whether it was stripped."""
    if prompt.endswith(" "):
        return prompt[:-1], True
    return prompt, False


def find_stop(text: str, stops: Sequence[str]) -> int:
    """Index of the earliest stop string in ``text``, or -1."""
    hits = [i for i in (text.find(s) for s in stops if s) if i != -1]
    return min(hits) if hits else -1


def stop_holdback(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters might be the start of a stop string (not safe to stream yet)."""
    keep = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                keep = max(keep, n)
                break
    return keep

