"""Settings → the agent: chat model + tools + limits, and the adapter restored at startup, in one place.

The app's lifespan, the CLI, the eval harness and the teacher all call ``build_agent`` so that a
run behaves the same whichever door it came in by. ``agent/`` takes typed configs; this module is
where the service's ``Settings`` become them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI

from agent.backends import DEFAULT_ADAPTER_NAME, AdapterHost, TextGenerator, resolve_adapter
from agent.backends.gguf import DEFAULT_MODEL_NAME, default_gguf_dir, ensure_default_gguf
from agent.backends.llama_server import engine_dir, engine_installed
from agent.backends.llamacpp import LlamaCppChatModel
from agent.backends.local import LocalChatModel
from agent.backends.openai import build_openai_chat
from agent.config import LlamaCppConfig, LocalModelConfig, OpenAIConfig
from agent.loop import AgentConfig, ReActAgent
from agent.tools import build_tools
from app.adapters import restore_target
from app.settings import Settings

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ settings → the agent's configs


def agent_config(settings: Settings) -> AgentConfig:
    """The loop's limits, straight from settings."""
    return AgentConfig(
        max_steps=settings.max_steps,
        max_steps_cap=max(settings.max_steps_cap, settings.max_steps),
        timeout_s=settings.timeout_s,
        tool_timeout_s=settings.tool_timeout_s,
        observation_max_chars=settings.observation_max_chars,
        ungrounded=ungrounded_policy(settings),
        grounding_documents=settings.grounding_documents,
        grounding_attributes=settings.grounding_attributes,
        grounding_every_word=settings.grounding_every_word,
        read_counts=settings.grounding_read_counts,
        read_roles=settings.grounding_read_roles,
        nothing_useful_limit=settings.nothing_useful_limit,
        nothing_useful_rule=settings.nothing_useful_rule,
        second_look=settings.second_look == "on" or (settings.second_look == "auto" and settings.backend == "local"),
    )


def ungrounded_policy(settings: Settings) -> Literal["keep", "not_found"]:
    """What an unsupported answer becomes: QREACT_UNGROUNDED, with 'auto' resolved by backend.

    The local model's unsupported answers are nearly always wrong (of the shipped adapter's 65 ``ungrounded``
    runs on the eval sets, 64 were wrong answers or unanswerable questions: bench/results/ungrounded_default.md),
    so it gets the not-found answer; an OpenAI model often answers right from memory, so its answer is kept
    (status ``ungrounded``, unverified)."""
    if settings.ungrounded != "auto":
        return settings.ungrounded
    return "not_found" if settings.backend == "local" else "keep"


def local_model_config(settings: Settings) -> LocalModelConfig:
    return LocalModelConfig(
        local_model=settings.local_model,
        cache_dir=Path(settings.cache_dir),
        device=settings.device,
        dtype=settings.dtype,
        quantize=settings.quantize,
        threads=settings.threads,
        max_new_tokens=settings.max_new_tokens,
        fast_head=settings.fast_head,
        fast_decode=settings.fast_decode,
    )


def llamacpp_config(settings: Settings) -> LlamaCppConfig:
    """The embedded default model on llama.cpp (its GGUF joined into the cache once)."""
    return LlamaCppConfig(
        model_gguf=ensure_default_gguf(settings.cache_dir),
        config_dir=default_gguf_dir(settings.cache_dir),
        engine_dir=resolved_engine_dir(settings),
        cache_dir=Path(settings.cache_dir),
        model_name=settings.local_model,
        threads=settings.threads or 0,  # unset: one per core left free by other processes, at each server start
        ctx_size=settings.engine_ctx,
        max_new_tokens=settings.max_new_tokens,
        merge_lora=settings.engine_merge,
        lora_type=settings.engine_lora_type,
        speculative=settings.engine_speculative,
        jump_forward=settings.engine_jump_forward,
        head_type=settings.engine_head_type,
        vocab_rank=settings.engine_vocab_rank,
    )


def openai_config(settings: Settings) -> OpenAIConfig:
    return OpenAIConfig(
        model=settings.openai_model,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        timeout_s=settings.openai_timeout_s,
        max_retries=settings.openai_max_retries,
        max_new_tokens=settings.max_new_tokens,
    )


def build_default_tools(settings: Settings) -> list[BaseTool]:
    """Search + Calculator configured from settings."""
    return build_tools(
        search=settings.search,
        index_path=settings.search_index,
        search_timeout_s=settings.search_timeout_s,
        max_results=settings.search_max_results,
        cache_dir=settings.cache_dir,
    )


# ------------------------------------------------------------------ chat models and the agent


def resolved_engine_dir(settings: Settings) -> Path:
    return Path(settings.engine_dir) if settings.engine_dir else engine_dir(settings.cache_dir)


ENGINE_HOWTO = "`make engine` builds it once (~10-15 min on 2 cores; bash scripts/build-engine.sh)"


def choose_engine(settings: Settings) -> str:
    """'llamacpp' or 'torch' for the local model, as ``settings.engine`` says (logged)."""
    if settings.engine == "torch":
        return "torch"
    folder = resolved_engine_dir(settings)
    installed = engine_installed(folder)
    unsuited = None
    if settings.local_model != DEFAULT_MODEL_NAME:
        unsuited = f"it serves the embedded {DEFAULT_MODEL_NAME} only (QREACT_LOCAL_MODEL={settings.local_model})"
    elif settings.device == "cuda" or (settings.device == "auto" and Path("/proc/driver/nvidia").exists()):
        unsuited = "a GPU is there: the torch path runs on it"
    if settings.engine == "llamacpp":
        if not installed:
            raise RuntimeError(f"QREACT_ENGINE=llamacpp but llama.cpp is not built in {folder}: {ENGINE_HOWTO}")
        if unsuited:
            raise RuntimeError(f"QREACT_ENGINE=llamacpp cannot serve this model: {unsuited}")
        return "llamacpp"
    if unsuited:
        logger.info("local model on torch: the llama.cpp engine is not used because %s", unsuited)
        return "torch"
    if not installed:
        logger.warning("local model on torch: the llama.cpp engine (faster, leaner) is not built; %s", ENGINE_HOWTO)
        return "torch"
    logger.info("local model on llama.cpp (%s)", folder)
    return "llamacpp"


def build_local_chat_model(settings: Settings) -> LocalChatModel | LlamaCppChatModel:
    """The local model from settings (llama.cpp or torch, ``choose_engine``), with the configured adapter
    loaded and active: a ``LlamaCppChatModel`` or a ``LocalChatModel``."""
    model: LocalChatModel | LlamaCppChatModel
    if choose_engine(settings) == "llamacpp":
        model = LlamaCppChatModel.from_config(llamacpp_config(settings), start=False)  # one server: the adapter's
    else:
        model = LocalChatModel.from_config(local_model_config(settings))
    shipped = resolved = resolve_adapter(settings.adapter)
    if settings.adapter == DEFAULT_ADAPTER_NAME:
        resolved = restore_target(settings, shipped)
    if resolved is not None:
        name, folder = resolved
        try:
            model.load_adapter(folder, name)
        except ValueError:  # AdapterError: a restored adapter that no longer loads; the shipped one does
            if resolved == shipped or shipped is None:
                raise
            logger.exception("the restored adapter %r does not load: serving the shipped one", name)
            name, folder = shipped
            model.load_adapter(folder, name)
        model.activate_adapter(name)
    if isinstance(model, LlamaCppChatModel):
        model.start()
    return model


def build_chat_model(settings: Settings) -> BaseChatModel:
    """settings.backend 'local' → LocalChatModel; 'openai' → ChatOpenAI."""
    if settings.backend == "openai":
        return build_openai_chat(openai_config(settings))
    if settings.backend == "local":
        return build_local_chat_model(settings)
    raise ValueError(f"unknown backend {settings.backend!r}")


def describe_chat_model(chat_model: BaseChatModel, settings: Settings) -> tuple[str, str]:
    """(backend, model) names as they appear in every run's trace."""
    if isinstance(chat_model, TextGenerator):  # qreact's LocalChatModel (or a stand-in for it)
        return "local", str(getattr(chat_model, "model_name", None) or settings.local_model)
    if isinstance(chat_model, ChatOpenAI):
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
        chat_model = build_chat_model(settings)
    if tools is None:
        tools = build_default_tools(settings)
    backend, model = describe_chat_model(chat_model, settings)
    llm = chat_model

    def active_adapter() -> str | None:
        # read live, so an adapter hot-swapped through /admin shows in the next run's trace
        return llm.active_adapter if isinstance(llm, AdapterHost) else None

    logger.info("agent ready: backend=%s model=%s tools=%s", backend, model, [t.name for t in tools])
    return ReActAgent(llm, tools, agent_config(settings), backend=backend, model=model, adapter=active_adapter)


def agent_maker(
    settings: Settings,
    *,
    chat_models: dict[str, BaseChatModel] | None = None,
    tools: Sequence[BaseTool] | None = None,
) -> Callable[[str], ReActAgent]:
    """``backend -> agent`` for the eval harness (``finetune.evaluate``): no adapter active, one tool set
    shared by every target; ``chat_models`` stand in for the real backends (tests, one loaded model)."""
    shared = list(tools) if tools is not None else build_default_tools(settings)

    def make(backend: str) -> ReActAgent:
        s = settings.model_copy(update={"backend": backend, "adapter": None})
        model = (chat_models or {}).get(backend)
        return build_agent(s, chat_model=model if model is not None else build_chat_model(s), tools=shared)

    return make
