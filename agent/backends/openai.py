"""The OpenAI-compatible backend: langchain-openai's ChatOpenAI, as the seed used it.

Works against OpenAI, vLLM, Ollama and qreact's own ``/v1``: the ReAct prompt goes as one user
message with ``stop=["\\nObservation:"]`` through the Chat Completions API (never the Responses
API, which the compatible servers lack).
"""

from __future__ import annotations

import os
from typing import Any

from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agent.config import OpenAIConfig

# vLLM and Ollama ignore the key but the client refuses to start without one.
DUMMY_KEY = "not-needed"


def resolve_api_key(config: OpenAIConfig) -> SecretStr | None:
    """config.api_key, else $OPENAI_API_KEY, else a dummy key when a base_url is set."""
    key = config.api_key
    if key is not None and key.get_secret_value():
        return key
    env = os.environ.get("OPENAI_API_KEY")
    if env:
        return SecretStr(env)
    if config.base_url:
        return SecretStr(DUMMY_KEY)
    return None


def build_openai_chat(config: OpenAIConfig, **overrides: Any) -> ChatOpenAI:
    """A ChatOpenAI from ``config`` (temperature 0); ``overrides`` (e.g. ``http_client=``) win."""
    key = resolve_api_key(config)
    if key is None:
        raise ValueError(
            "the openai backend needs a key: set QREACT_OPENAI_API_KEY or OPENAI_API_KEY, "
            "or QREACT_OPENAI_BASE_URL for a local server that needs none"
        )
    kwargs: dict[str, Any] = {
        "model": config.model,
        "base_url": config.base_url,
        "api_key": key,
        "timeout": config.timeout_s,
        "max_retries": config.max_retries,
        "temperature": 0.0,
        "use_responses_api": False,
    }
    if config.base_url:
        # langchain-openai sends OpenAI's newer "max_completion_tokens"; compatible servers
        # (Ollama in particular) know the classic "max_tokens", which every one of them accepts
        kwargs["extra_body"] = {"max_tokens": config.max_new_tokens}
    else:
        kwargs["max_tokens"] = config.max_new_tokens
    kwargs.update(overrides)
    return ChatOpenAI(**kwargs)
