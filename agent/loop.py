"""The ReAct loop: model step → parse → tool → observation, until a final answer or a limit.

Plain Python on top of langchain-core pieces (a ``BaseChatModel`` and ``BaseTool``s), so any
chat model works: ChatOpenAI against OpenAI/vLLM/Ollama, or qreact's local transformers model.
It replaces the deprecated ``initialize_agent``/``AgentExecutor`` with the same text protocol.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool

from agent.grounding import Grounding, Observation, check, is_not_found, is_useless_observation, read_documents
from agent.parser import ParsedAction, ReActParser, cut_at_stop
from agent.prompt import (
    CALCULATOR_NAME,
    FINAL_ANSWER_LINE,
    FINAL_THOUGHT,
    STOP_SEQUENCES,
    ForcedText,
    forced_texts,
    not_found_answer,
    observation_suffix,
    render_prompt,
)
from agent.trace import RunResult, Step

# Read by backends that can stop themselves (the local model passes it to generate's max_time),
# so a run's wall-clock budget also bounds the model call in flight.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("qreact_deadline", default=None)
# Set around each ReAct step's model call: the text the format forces (agent.prompt.forced_texts), for
# backends that can append it instead of decoding it (llama.cpp with jump_forward on). /v1 sets none.
FORCED_TEXT: contextvars.ContextVar[tuple[ForcedText, ...]] = contextvars.ContextVar("qreact_forced", default=())

# One shared pool: tool calls run here so a slow tool can be abandoned at its timeout.
_TOOL_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="qreact-tool")


@dataclass
class AgentConfig:
    max_steps: int = 6  # model calls per run, format retries included
    max_steps_cap: int = 12  # the most model calls a caller may ask for with run(max_steps=...)
    max_format_errors: int = 2  # malformed steps fed back before the run ends with status "error"
    timeout_s: float = 120.0  # wall-clock budget of one run, seconds
    tool_timeout_s: float = 15.0  # one tool call, seconds
    observation_max_chars: int = 1200  # longer observations are cut (prompt length is latency)
    # an answer the observations do not support: "keep" returns it with status "ungrounded";
    # "not_found" returns the not-found answer instead (status "not_found"; the text stays in the steps)
    ungrounded: Literal["keep", "not_found"] = "keep"
    # the document step of the check (agent.grounding.documents): on by default (rule G, session 6:
    # bench/results/grounding_documents.md)
    grounding_documents: bool = True
    # the attribute step of the check (agent.grounding.attributes: an asked attribute no document holds, a number
    # counted as another thing, a Korean one-syllable field word inside another word): on by default (rule G7,
    # session 8: bench/results/s8-grounding/grounding_attributes.md)
    grounding_attributes: bool = True
    # the document step's every-word reading for every answer (a sentence must state each asked word, not one of
    # them; on by default: rules G13b-G15, session 13, bench/results/s13-grounding/README.md); a second look's answer
    # is always read so
    grounding_every_word: bool = True
    # end the run with status "not_found" after this many searches (tool steps other than the
    # Calculator) that returned nothing useful
    # ("No good search result found.", an error, or a repeat of an earlier call: same tool, same input); 0 = never
    nothing_useful_limit: int = 2
    # "total": such steps anywhere in the run; "consecutive": only in a row (a useful one resets)
    nothing_useful_rule: Literal["total", "consecutive"] = "total"
    # the second look: when the model ends with the not-found answer although a search returned something useful,
    # ask once more with the final thought forced (SECOND_LOOK_PREFIX) and keep that answer only if the grounding
    # check supports it; otherwise the not-found answer stands (Step.second_look records either way)
    second_look: bool = False
    # the count reading (rule G16, agent.grounding.documents.read_count): a "how many X" run that still ends
    # not-found or unsupported (after the second look) is answered with the one count of X that a sentence of a
    # document about the asked entity writes ("Pinecrest Farm: 12 goats."); Grounding.read_from_documents says so;
    # on by default since session 15 (rule G16: bench/results/s15-grounding/README.md)
    read_counts: bool = True
    # the role reading (rule G17b, agent.grounding.documents.read_person): a "who" question (or a terse role question,
    # "X's head brewer?") whose run still ends not-found or unsupported is answered with the one name that the
    # clauses of a document about the asked entity stating every asked word hold ("Corriebrae Planetarium: Emeka
    # Halloran."); off by default: rule G17b missed its bar by one (bench/results/s15-grounding/README.md)
    read_roles: bool = False


# what the second look writes for the model: the final thought, then the answer line it completes
SECOND_LOOK_PREFIX = FINAL_THOUGHT + FINAL_ANSWER_LINE


def _observations(result: RunResult) -> list[Observation]:
    """The run's tool steps as the grounding check reads them."""
    return [
        Observation(s.index, s.tool or "", s.tool_input or "", s.observation or "")
        for s in result.steps
        if s.kind == "tool"
    ]


def format_observation(text: str, max_chars: int) -> str:
    """Observation text as it enters the prompt: one paragraph, bounded length.

    Newlines are flattened so that tool output can never start a line with ``Action:`` or
    ``Final Answer:``; the gold trajectories go through this same function.
    """
    flat = " ".join(str(text).split())
    if len(flat) > max_chars:
        flat = flat[: max_chars - 3].rstrip() + "..."
    return flat


def invalid_tool_message(name: str, tool_names: Sequence[str]) -> str:
    # LangChain's InvalidTool wording
    return f"{name} is not a valid tool, try one of [{', '.join(tool_names)}]."


StepCallback = Callable[[Step], None]


class ReActAgent:
    """Runs questions through the zero-shot ReAct protocol on one chat model and a set of tools."""

    def __init__(
        self,
        llm: BaseChatModel,
        tools: Sequence[BaseTool],
        config: AgentConfig | None = None,
        *,
        backend: str = "custom",
        model: str = "unknown",
        adapter: Callable[[], str | None] | str | None = None,
    ) -> None:
        self.llm = llm
        self.tools = {t.name: t for t in tools}
        self.config = config or AgentConfig()
        self.parser = ReActParser()
        self.forced = forced_texts(self.tools)
        self.backend = backend
        self.model = model
        self._adapter = adapter

    @property
    def adapter(self) -> str | None:
        return self._adapter() if callable(self._adapter) else self._adapter

    @property
    def tool_specs(self) -> list[tuple[str, str]]:
        return [(t.name, t.description) for t in self.tools.values()]

    def _call_tool(self, name: str, tool_input: str) -> tuple[str, str]:
        """Run a tool with a timeout; returns (observation text, source).

        Tools that can say who answered (search: duckduckgo or local) expose
        ``run_with_source(text) -> (text, source)``; others are plain langchain-core tools.
        """
        tool = self.tools[name]
        call = getattr(tool, "run_with_source", None)
        fn = call if call is not None else (lambda text: (tool.invoke(text), name))
        future = _TOOL_POOL.submit(contextvars.copy_context().run, fn, tool_input)
        try:
            text, source = future.result(timeout=self.config.tool_timeout_s)
        except FutureTimeout:
            return f"Error: {name} timed out after {self.config.tool_timeout_s:g} s.", name
        except Exception as exc:  # a tool failure is an observation, the run goes on
            return f"Error: {name} failed: {exc}", name
        return str(text), str(source)

    def run(self, question: str, max_steps: int | None = None, on_step: StepCallback | None = None) -> RunResult:
        cfg = self.config
        limit = min(max_steps, max(cfg.max_steps_cap, cfg.max_steps)) if max_steps else cfg.max_steps
        started = time.perf_counter()
        deadline = time.monotonic() + cfg.timeout_s
        token = DEADLINE.set(deadline)
        header_prompt = render_prompt(question, self.tool_specs)
        result = RunResult(
            run_id=uuid.uuid4().hex,
            question=question,
            status="max_steps",
            backend=self.backend,
            model=self.model,
            adapter=self.adapter,
            prompt=header_prompt,
        )
        scratchpad = ""
        format_errors = 0
        nothing_useful = 0
        seen: set[str] = set()
        try:
            for index in range(limit):
                if time.monotonic() >= deadline:
                    result.status, result.error = "timeout", f"wall-clock budget of {cfg.timeout_s:g} s spent"
                    break
                step, scratchpad_add = self._step(index, question, scratchpad)
                scratchpad += scratchpad_add
                result.steps.append(step)
                result.usage.add(step.prompt_tokens, step.completion_tokens)
                if on_step is not None:
                    on_step(step)
                if step.kind == "final":
                    result.answer = step.final_answer
                    self._judge(result)
                    if cfg.second_look and result.status == "not_found" and time.monotonic() < deadline:
                        self._second_look(result, question, scratchpad, on_step)
                    if (cfg.read_counts or cfg.read_roles) and result.status in ("not_found", "ungrounded"):
                        self._read_documents(result)
                    break
                if step.kind == "tool" and step.tool != CALCULATOR_NAME:  # searches, not arithmetic
                    # a repeated call (same tool, same input) can only repeat its result
                    call = f"{step.tool}\n{' '.join((step.tool_input or '').lower().split())}"
                    if is_useless_observation(step.observation) or call in seen:
                        nothing_useful += 1
                    elif cfg.nothing_useful_rule == "consecutive":
                        nothing_useful = 0
                    seen.add(call)
                    if cfg.nothing_useful_limit and nothing_useful >= cfg.nothing_useful_limit:
                        result.status, result.answer = "not_found", not_found_answer(question)
                        result.error = f"{nothing_useful} searches returned nothing useful"
                        result.grounding = Grounding(supported=True, not_found=True)
                        break
                if step.kind == "format_error":
                    format_errors += 1
                    if format_errors > cfg.max_format_errors:
                        result.status = "error"
                        result.error = f"{format_errors} malformed steps in a row: {step.format_error}"
                        break
                else:
                    format_errors = 0
                if time.monotonic() >= deadline:
                    result.status, result.error = "timeout", f"wall-clock budget of {cfg.timeout_s:g} s spent"
                    break
            else:
                result.error = f"no final answer after {limit} step{'' if limit == 1 else 's'}"
        except Exception as exc:  # the model (or anything else) failed mid-run: honest status, no crash
            result.status, result.error = "error", f"{type(exc).__name__}: {exc}"
            result._exception = exc
        finally:
            DEADLINE.reset(token)
        if result.grounding is None:  # no final answer: nothing to support
            result.grounding = Grounding(supported=False)
        result.latency_ms = (time.perf_counter() - started) * 1000
        return result

    def _check(self, result: RunResult, answer: str | None, every_word: bool = False) -> Grounding:
        return check(
            result.question,
            answer,
            _observations(result),
            documents=self.config.grounding_documents,
            attributes=self.config.grounding_attributes,
            every_word=every_word or self.config.grounding_every_word,
        )

    def _second_look(self, result: RunResult, question: str, scratchpad: str, on_step: StepCallback | None) -> None:
        """After the model's own not-found answer (``result`` says so): if a search returned something useful, ask
        once more with the final thought forced; an answer the check supports replaces the not-found step."""
        last = result.steps[-1]
        if not is_not_found(last.final_answer or "") or not any(
            s.kind == "tool" and s.tool != CALCULATOR_NAME and not is_useless_observation(s.observation or "")
            for s in result.steps
        ):
            return
        t0 = time.perf_counter()
        prompt = render_prompt(question, self.tool_specs, scratchpad) + SECOND_LOOK_PREFIX
        message = self.llm.invoke([HumanMessage(content=prompt)], stop=STOP_SEQUENCES)
        text = cut_at_stop(str(message.content))
        usage = getattr(message, "usage_metadata", None) or {}
        result.usage.add(int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
        answer = " ".join(text.strip().split("\n", 1)[0].split())  # the answer line the model completed
        # the forced answer overrides the model's own abstention: a document sentence must state every asked word
        g = self._check(result, answer, every_word=True) if answer and not is_not_found(answer) else None
        if g is None or not g.supported or g.not_found:
            last.second_look = answer or None
            return
        ms = (time.perf_counter() - t0) * 1000
        step = Step(
            index=last.index,
            kind="final",
            thought=FINAL_THOUGHT,
            final_answer=answer,
            log=SECOND_LOOK_PREFIX + " " + answer,
            ms=ms,
            llm_ms=ms,
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
            second_look=last.log,
        )
        result.steps[-1] = step
        result.answer, result.grounding, result.status = answer, g, "answered"
        if on_step is not None:
            on_step(step)

    def _read_documents(self, result: RunResult) -> None:
        """Rules G16, G17: the count a "how many" question asks or the person a "who" question asks, read from the
        run's documents, replaces a not-found or unsupported answer when the check supports it (the model's own
        answer stays in its final step)."""
        reading = read_documents(
            result.question, _observations(result), self.config.read_counts, self.config.read_roles
        )
        if reading is None:
            return
        g = self._check(result, reading.answer, every_word=True)
        if g.supported and not g.not_found:
            g.read_from_documents = True
            result.answer, result.grounding, result.status = reading.answer, g, "answered"

    def _judge(self, result: RunResult) -> None:
        """Status and grounding of a run that ended with a final answer."""
        g = self._check(result, result.answer)
        result.grounding = g
        if g.not_found:
            result.status = "not_found"
        elif g.supported:
            result.status = "answered"
        elif self.config.ungrounded == "not_found":
            result.status, result.answer = "not_found", not_found_answer(result.question)
        else:
            result.status = "ungrounded"

    def _step(self, index: int, question: str, scratchpad: str) -> tuple[Step, str]:
        t0 = time.perf_counter()
        prompt = render_prompt(question, self.tool_specs, scratchpad)
        forced = FORCED_TEXT.set(self.forced)
        try:
            message = self.llm.invoke([HumanMessage(content=prompt)], stop=STOP_SEQUENCES)
        finally:
            FORCED_TEXT.reset(forced)
        llm_ms = (time.perf_counter() - t0) * 1000
        text = cut_at_stop(str(message.content))
        usage = getattr(message, "usage_metadata", None) or {}
        step = Step(
            index=index,
            kind="format_error",
            log=text,
            llm_ms=llm_ms,
            prompt_tokens=int(usage.get("input_tokens", 0)),
            completion_tokens=int(usage.get("output_tokens", 0)),
        )
        try:
            parsed = self.parser.parse(text)
        except OutputParserException as exc:
            observation = str(exc).split("\n", 1)[0]
            step.format_error = step.observation = observation
            step.observation_source = "agent"
        else:
            step.thought = parsed.thought
            if isinstance(parsed, ParsedAction):
                step.tool, step.tool_input = parsed.tool, parsed.tool_input
                if parsed.tool not in self.tools:
                    step.format_error = step.observation = invalid_tool_message(parsed.tool, list(self.tools))
                    step.observation_source = "agent"
                else:
                    t1 = time.perf_counter()
                    raw, source = self._call_tool(parsed.tool, parsed.tool_input)
                    step.tool_ms = (time.perf_counter() - t1) * 1000
                    step.kind = "tool"
                    step.observation = format_observation(raw, self.config.observation_max_chars)
                    step.observation_source = source
            else:
                step.kind, step.final_answer = "final", parsed.answer
        step.ms = (time.perf_counter() - t0) * 1000
        if step.kind == "final":
            return step, ""
        return step, text + observation_suffix(str(step.observation))  # LangChain's format_log_to_str
