"""Build the ReAct agent from settings: chat model + tools + limits, in one place.

The app's lifespan, the CLI and the eval harness all call ``build_agent`` so that a run
behaves the same whichever door it came in by.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from agent.loop import AgentConfig, ReActAgent
from app.settings import Settings

logger = logging.getLogger(__name__)


def agent_config(settings: Settings) -> AgentConfig:
    """The loop's limits, straight from settings."""
    return AgentConfig(
        max_steps=settings.max_steps,
        max_steps_cap=max(settings.max_steps_cap, settings.max_steps),
        timeout_s=settings.timeout_s,
        tool_timeout_s=settings.tool_timeout_s,
        observation_max_chars=settings.observation_max_chars,
    )


def build_default_tools(settings: Settings) -> list[BaseTool]:
    """Search + Calculator configured from settings."""
    from agent.tools import build_tools

    return build_tools(
        search=settings.search,
        index_path=settings.search_index,
        search_timeout_s=settings.search_timeout_s,
        max_results=settings.search_max_results,
        cache_dir=settings.cache_dir,
    )


def describe_chat_model(chat_model: BaseChatModel, settings: Settings) -> tuple[str, str]:
    """(backend, model) names as they appear in every run's trace."""
    if hasattr(chat_model, "generate_text"):  # qreact's LocalChatModel
        return "local", str(getattr(chat_model, "model_name", None) or settings.local_model)
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:  # pragma: no cover - langchain-openai is a core dependency
        ChatOpenAI = None  # type: ignore[assignment,misc]  # noqa: N806
    if ChatOpenAI is not None and isinstance(chat_model, ChatOpenAI):
        return "openai", str(chat_model.model_name)
    # anything else (a scripted fake in tests, a user's own chat model)
    name = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None)
    return chat_model._llm_type, str(name or type(chat_model).__name__)


def build_agent(
    settings: Settings,
    chat_model: BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
) -> ReActAgent:
    """A ReActAgent on ``chat_model`` (default: from settings) and ``tools`` (Search, Calculator)."""
    if chat_model is None:
        from agent.backends import build_chat_model

        chat_model = build_chat_model(settings)
    if tools is None:
        tools = build_default_tools(settings)
    backend, model = describe_chat_model(chat_model, settings)
    llm = chat_model

    def active_adapter() -> str | None:
        # read live, so an adapter hot-swapped through /admin shows in the next run's trace
        return getattr(llm, "active_adapter", None)

    logger.info("agent ready: backend=%s model=%s tools=%s", backend, model, [t.name for t in tools])
    return ReActAgent(
        llm, tools, agent_config(settings), backend=backend, model=model, adapter=active_adapter
    )
