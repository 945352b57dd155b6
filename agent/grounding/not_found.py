"""Recognising "nothing": a final answer that says it found nothing, an observation that holds nothing."""

from __future__ import annotations

import re

from agent.grounding.text import NO_RESULTS, strip_prefix
from agent.prompt import NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO

_NOT_FOUND_EN = re.compile(
    r"\b(?:could\s*n[o']?t|can\s*n[o']?t|can't|cannot|unable\s+to|did\s*n[o']?t|was\s*n[o']?t\s+able\s+to|"
    r"were\s*n[o']?t\s+able\s+to|failed\s+to)\s+(?:find|locate|determine|retrieve|identify|get)\b"
    r"|\bnot\s+(?:be\s+)?found\b"
    r"|\bno\s+(?:relevant\s+|such\s+|reliable\s+|specific\s+)?(?:information|data|results?|answer|records?|mention)\b"
    r"|\b(?:do|does|did)(?:\s+not|n't)\s+(?:know|contain|mention|include|provide|say|"
    r"have\s+(?:any\s+|enough\s+)?(?:information|data|details))\b"
    r"|\bnot\s+(?:available|mentioned|included|provided|listed|known|specified|stated)\b"
    r"|\bunknown\b|\bno\s+good\s+search\s+result",
    re.IGNORECASE,
)
_NOT_FOUND_KO = re.compile(
    r"찾을\s*수\s*(?:없|가\s*없)|찾지\s*못|알\s*수\s*(?:없|가\s*없)|정보(?:가|는)?\s*없|결과(?:가|에)?\s*없|"
    r"모르겠|확인할\s*수\s*없|나와\s*있지\s*않|포함되어\s*있지\s*않|언급되어\s*있지\s*않"
)


def is_not_found(answer: str | None) -> bool:
    """The answer says the information was not found (the fixed form or a looser variant)."""
    if not answer or not answer.strip():
        return False
    text = answer.replace("’", "'").strip()
    if text in (NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO):
        return True
    return bool(_NOT_FOUND_EN.search(text) or _NOT_FOUND_KO.search(text))


def is_useless_observation(text: str | None) -> bool:
    """An observation that holds nothing: empty, "No good search result found." or an error."""
    body = strip_prefix(text or "").strip()
    return not body or body.startswith(NO_RESULTS) or body.startswith("Error:")
