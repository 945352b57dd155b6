"""The LangChain face both local engines share: a chat model over one raw-text decoding loop.

A subclass writes ``_run(prompt, max_new_tokens, stop, temperature)`` — yield safe text pieces, then one
``GenerationResult``; ``_decode_args`` normalises its arguments (token healing, stop strings, limit,
deadline) — and gets ``invoke``/``stream`` (with usage metadata), ``generate_text`` and
``stream_text`` (the ``TextGenerator`` protocol that ``/v1`` serves). ``LocalChatModel`` (torch) and
``LlamaCppChatModel`` (llama.cpp) are the two subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from agent.backends.text import GenerationResult, heal_prompt, messages_to_prompt
from agent.loop import DEADLINE


class DecodeArgs(NamedTuple):
    """What every ``_run`` starts from, normalised once for both engines."""

    prompt: str  # the text prompt after token healing
    healed: bool  # a trailing space was stripped: the first piece's leading space is dropped
    stops: list[str]  # the non-empty stop strings
    limit: int  # new tokens at most
    deadline: float | None  # time.monotonic() by which the run must end (agent.loop.DEADLINE); None: no limit


def _usage(result: GenerationResult) -> UsageMetadata:
    total = result.prompt_tokens + result.completion_tokens
    return {"input_tokens": result.prompt_tokens, "output_tokens": result.completion_tokens, "total_tokens": total}


class TextChatModel(BaseChatModel):
    """A chat model whose generation is ``_run`` over a plain-text prompt (see the module docstring)."""

    model_name: str = "local"
    max_new_tokens: int = 160  # per call unless the caller says otherwise
    temperature: float = 0.0  # 0 = greedy

    _active: str | None = PrivateAttr(default=None)  # the active adapter's name

    def _run(
        self,
        prompt: str,
        max_new_tokens: int | None,
        stop: Sequence[str] | None,
        temperature: float,
    ) -> Iterator[str | GenerationResult]:
        """The decoding loop: yields safe text pieces (never a stop string), then one GenerationResult."""
        raise NotImplementedError

    def _decode_args(self, prompt: str, max_new_tokens: int | None, stop: Sequence[str] | None) -> DecodeArgs:
        text_prompt, healed = heal_prompt(prompt)
        stops = [s for s in (stop or []) if s]
        return DecodeArgs(text_prompt, healed, stops, int(max_new_tokens or self.max_new_tokens), DEADLINE.get())

    def _prompt(self, messages: list[BaseMessage]) -> str:
        """The text prompt for ``messages`` (``LocalChatModel`` passes its tokenizer's chat template)."""
        return messages_to_prompt(messages)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "adapter": self._active}

    def _call_options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_new_tokens": int(kwargs.get("max_new_tokens") or kwargs.get("max_tokens") or self.max_new_tokens),
            "stop": list(stop or []),
            "temperature": float(kwargs.get("temperature", self.temperature)),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = self.generate_text(self._prompt(messages), **self._call_options(stop, kwargs))
        message = AIMessage(
            content=result.text,
            usage_metadata=_usage(result) | {"input_token_details": {"cache_read": result.cached_tokens}},
            response_metadata=self._response_metadata(result),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        done: list[GenerationResult] = []
        options = self._call_options(stop, kwargs)
        for piece in self.stream_text(self._prompt(messages), on_finish=done.append, **options):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        if done:
            result = done[0]
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    usage_metadata=_usage(result),
                    response_metadata=self._response_metadata(result),
                )
            )

    def _response_metadata(self, result: GenerationResult) -> dict[str, Any]:
        return {
            "finish_reason": result.finish_reason,
            "model_name": self.model_name,
            "adapter": self._active,
            "cached_tokens": result.cached_tokens,
        }

    def generate_text(
        self,
        prompt: str,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> GenerationResult:
        """Complete ``prompt``; the text stops before any stop string (never contains one)."""
        result: GenerationResult | None = None
        for item in self._run(prompt, max_new_tokens, stop, temperature):
            if isinstance(item, GenerationResult):
                result = item
        assert result is not None
        return result

    def stream_text(
        self,
        prompt: str,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        on_finish: Callable[[GenerationResult], None] | None = None,
    ) -> Iterator[str]:
        """Like ``generate_text`` but yields text pieces as they are decided (stop strings held back)."""
        for item in self._run(prompt, max_new_tokens, stop, temperature):
            if isinstance(item, GenerationResult):
                if on_finish is not None:
                    on_finish(item)
            elif item:
                yield item
