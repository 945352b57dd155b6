"""The Dockerfiles and compose file, checked against the project (no Docker engine runs here).

Parses docker/Dockerfile.{cuda,cpu} and docker/compose.yaml and checks that what they name exists:
the pip extras, the ``qreact serve`` entrypoint and its options, the port, the healthcheck route,
every ``QREACT_*`` setting (names and values), the COPY sources, the vLLM LoRA rank and the
PostgreSQL URL.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILES = ["Dockerfile.cuda", "Dockerfile.cpu"]
PORT = 8000  # the container port every file agrees on
# vLLM accepts only these values for --max-lora-rank (vllm/config/lora.py)
VLLM_LORA_RANKS = {1, 8, 16, 32, 64, 128, 256, 320, 512}


def parse_dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    assert not pending, f"{path.name}: dangling line continuation"
    return instructions


def dockerfile_args(instructions: list[tuple[str, str]]) -> dict[str, str]:
    args = {}
    for word, rest in instructions:
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name.strip()] = value.strip().strip('"')
    return args


def dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            for token in shlex.split(rest):
                name, _, value = token.partition("=")
                env[name] = value
    return env


def settings_env_names() -> set[str]:
    return {f"QREACT_{name.upper()}" for name in Settings.model_fields}


def check_settings_values(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built from exactly these QREACT_* values (raises if a value is invalid)."""
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        if name.startswith("QREACT_"):
            monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def served() -> Callable[[str], int]:
    """GET a path on the real app (no lifespan: no model is loaded) and return the status code."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    client = TestClient(create_app(Settings(_env_file=None)))  # type: ignore[call-arg]
    return lambda path: client.get(path).status_code


def healthcheck_url(command: str) -> str:
    match = re.search(r"https?://[^'\" ]+", command)
    assert match, f"no URL in healthcheck {command!r}"
    return match.group(0)


def flag_values(command: list[str]) -> dict[str, list[str]]:
    """``--flag value`` and ``--flag=value`` into {flag: [values]} (bare flags get "")."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(command):
        token = command[i]
        if token.startswith("--"):
            name, eq, value = token.partition("=")
            if not eq and i + 1 < len(command) and not command[i + 1].startswith("--"):
                value, i = command[i + 1], i + 1
            out.setdefault(name, []).append(value)
        i += 1
    return out


# --- Dockerfiles


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_installs_real_extras_as_non_root(name: str, pyproject: dict) -> None:
    instructions = parse_dockerfile(DOCKER / name)
    args = dockerfile_args(instructions)
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert instructions[0][0] in {"ARG", "FROM"} and any(w == "FROM" for w, _ in instructions)
    match = re.search(r'pip install "?\.\[([^\]]+)\]', runs)
    assert match, f"{name}: no `pip install .[extras]`"
    extras_spec = match.group(1)
    extras = args["EXTRAS"] if extras_spec == "${EXTRAS}" else extras_spec
    declared = set(pyproject["project"]["optional-dependencies"])
    assert {"serve", "finetune"} <= set(extras.split(",")) <= declared
    assert re.search(r"torch==\$\{TORCH_VERSION\}", runs) and args["TORCH_VERSION"]
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in {"root", "0"}, f"{name}: must end as a non-root user"
    assert ("VOLUME", '["/data"]') in instructions
    assert dockerfile_env(instructions)["QREACT_CACHE_DIR"] == "/data"


def test_cuda_image_is_cuda_and_cpu_image_takes_the_cpu_wheel() -> None:
    cuda = dockerfile_args(parse_dockerfile(DOCKER / "Dockerfile.cuda"))
    cpu = dockerfile_args(parse_dockerfile(DOCKER / "Dockerfile.cpu"))
    assert cuda["CUDA_IMAGE"].startswith("nvidia/cuda:") and "runtime" in cuda["CUDA_IMAGE"]
    assert "download.pytorch.org/whl/cpu" in cpu["TORCH_INDEX"]
    assert "slim" in cpu["PYTHON_IMAGE"]
    runs = " ".join(rest for word, rest in parse_dockerfile(DOCKER / "Dockerfile.cuda") if word == "RUN")
    assert "import torch, bitsandbytes" in runs  # the build fails early when either is broken


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_copies_only_what_exists(name: str) -> None:
    instructions = parse_dockerfile(DOCKER / name)
    for word, rest in instructions:
        if word == "COPY" and not rest.startswith("--from="):  # --from: another stage's files
            sources = rest.split()[:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"{name}: COPY {source}: not in the repository"
    ignore_file = (DOCKER / f"{name}.dockerignore").read_text()
    ignore = [s.strip() for s in ignore_file.splitlines() if s.strip() and not s.lstrip().startswith("#")]
    assert ignore[0] == "**", "the build context (the repo root) must exclude everything by default"
    copies = [rest for word, rest in instructions if word == "COPY" and not rest.startswith("--from=")]
    for source in (s for rest in copies for s in rest.split()[:-1]):
        assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} is excluded by the .dockerignore"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_entrypoint_is_qreact_serve_on_the_exposed_port(name: str, pyproject: dict) -> None:
    from typer.testing import CliRunner

    from app.cli import app as cli

    instructions = parse_dockerfile(DOCKER / name)
    entry = json.loads(next(rest for word, rest in instructions if word == "ENTRYPOINT"))
    assert entry[:2] == ["qreact", "serve"]
    assert pyproject["project"]["scripts"]["qreact"] == "app.cli:app"
    flags = flag_values(entry[2:])
    assert flags["--host"] == ["0.0.0.0"] and flags["--port"] == [str(PORT)]
    help_text = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200).output
    for flag in flags:
        assert flag in help_text, f"`qreact serve` has no {flag} option"
    assert ("EXPOSE", str(PORT)) in instructions


@pytest.mark.parametrize("name", DOCKERFILES)
def test_healthcheck_hits_a_real_route(name: str, served: Callable[[str], int]) -> None:
    instructions = parse_dockerfile(DOCKER / name)
    check = next(rest for word, rest in instructions if word == "HEALTHCHECK")
    url = healthcheck_url(check)
    assert url == f"http://127.0.0.1:{PORT}/healthz"
    assert served(urlsplit(url).path) == 200


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_env_names_and_values_are_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = dockerfile_env(parse_dockerfile(DOCKER / name))
    unknown = {k for k in env if k.startswith("QREACT_")} - settings_env_names()
    assert not unknown, f"{name}: not settings: {sorted(unknown)}"
    settings = check_settings_values(env, monkeypatch)
    assert settings.cache_dir == Path("/data")
    assert settings.device == ("cuda" if name.endswith("cuda") else "cpu")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_buildkit_parser_agrees(name: str) -> None:
    """BuildKit's own parser (Go, via the `dockerfile` package) accepts the file and reads the same."""
    official = pytest.importorskip("dockerfile", reason="the dockerfile package is not installed (dev extra)")
    commands = official.parse_file(str(DOCKER / name))
    ours = parse_dockerfile(DOCKER / name)
    assert [c.cmd.upper() for c in commands] == [word for word, _ in ours]
    by_cmd = {c.cmd.upper(): c for c in commands}
    assert by_cmd["ENTRYPOINT"].json and list(by_cmd["ENTRYPOINT"].value) == json.loads(
        dict(ours)["ENTRYPOINT"]
    )
    assert (
        by_cmd["HEALTHCHECK"].value[0] == "CMD" and by_cmd["HEALTHCHECK"].json
    )  # exec form: no shell needed


# --- compose


def shipped_adapter_rank() -> int:
    """r of adapters/default, or (before it is trained) of the config it is trained with."""
    adapter_config = ROOT / "adapters" / "default" / "adapter_config.json"
    if adapter_config.exists():
        return int(json.loads(adapter_config.read_text())["r"])
    train_config = yaml.safe_load((ROOT / "finetune" / "configs" / "cpu-default.yaml").read_text())
    return int(train_config["lora_r"])


def test_compose_qreact_service(compose: dict, served: Callable[[str], int]) -> None:
    service = compose["services"]["qreact"]
    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile.cuda"}
    assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == (
        DOCKER / "Dockerfile.cuda"
    )
    device = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert service["env_file"][0]["path"] == ".env"
    assert service["restart"] == "unless-stopped"
    assert service["ports"] == [f"{PORT}:{PORT}"]
    assert "qreact-data:/data" in service["volumes"] and "qreact-data" in compose["volumes"]
    url = healthcheck_url(" ".join(service["healthcheck"]["test"]))
    assert urlsplit(url).port == PORT and served(urlsplit(url).path) == 200
    assert service["environment"]["QREACT_DEVICE"] == "cuda"


def test_compose_env_names_and_values_are_settings(compose: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    names = settings_env_names()
    for service_name, service in compose["services"].items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        unknown = {k for k in env if k.startswith("QREACT_")} - names
        assert not unknown, f"{service_name}: not settings: {sorted(unknown)}"
        if any(k.startswith("QREACT_") for k in env):
            check_settings_values(env, monkeypatch)
    text = (DOCKER / "compose.yaml").read_text()
    unknown = set(re.findall(r"\bQREACT_[A-Z0-9_]+", text)) - names
    assert not unknown, f"compose.yaml names unknown settings: {sorted(unknown)}"


def test_env_example_names_and_values_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCKER / ".env.example").read_text()
    mentioned = set(re.findall(r"\bQREACT_[A-Z0-9_]+", text))
    assert mentioned and not (mentioned - settings_env_names()), sorted(mentioned - settings_env_names())
    active = dict(
        line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    settings = check_settings_values(active, monkeypatch)
    assert settings.api_keys == [] and settings.admin_key is None  # to be filled in: compose demands keys


def test_compose_refuses_to_start_serving_services_without_api_keys(compose: dict) -> None:
    # the containers bind 0.0.0.0: `${VAR:?message}` makes compose stop with the message when unset
    for name, service in compose["services"].items():
        command = service.get("entrypoint") or service.get("command")
        if name.startswith("qreact") and command is None:
            assert re.fullmatch(r"\$\{QREACT_API_KEYS:\?[^}]+\}", service["environment"]["QREACT_API_KEYS"]), name


def test_vllm_profile_serves_the_adapter_and_qreact_uses_it(compose: dict) -> None:
    from agent.backends.gguf import default_model_dir, ensure_default_model

    services = compose["services"]
    vllm, client, init = services["vllm"], services["qreact-vllm"], services["model-init"]
    assert vllm["profiles"] == client["profiles"] == init["profiles"] == ["vllm"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    flags = flag_values(vllm["command"])
    assert "--enable-lora" in flags
    module, _, adapter_path = flags["--lora-modules"][0].partition("=")
    assert adapter_path == "/adapters/default" and "../adapters:/adapters:ro" in vllm["volumes"]
    assert Path(vllm["command"][0]) == default_model_dir(
        "/data"
    )  # `vllm serve MODEL`, converted by model-init
    assert "ensure_default_model('/data')" in init["entrypoint"][-1] and callable(ensure_default_model)
    template = flags["--chat-template"][0]
    mount = next(v for v in vllm["volumes"] if v.endswith(f":{template}:ro"))
    assert (DOCKER / mount.split(":")[0]).is_file()
    rank = int(flags["--max-lora-rank"][0])
    assert rank in VLLM_LORA_RANKS
    assert rank >= shipped_adapter_rank(), "vLLM would refuse the shipped adapter"
    env = client["environment"]
    assert env["QREACT_BACKEND"] == "openai"
    assert env["QREACT_OPENAI_BASE_URL"] == f"http://vllm:{flag_values(vllm['command'])['--port'][0]}/v1"
    assert env["QREACT_OPENAI_MODEL"] == module == "qreact"
    assert client["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_postgres_service_matches_the_documented_store_url(compose: dict) -> None:
    from sqlalchemy.engine import make_url

    postgres = compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert postgres["image"].startswith("postgres:")
    line = next(
        line for line in (DOCKER / ".env.example").read_text().splitlines() if "QREACT_STORE_URL=" in line
    )
    url = make_url(line.split("=", 1)[1].strip())
    assert url.drivername == "postgresql+psycopg" and url.host == "postgres" and url.port == 5432
    env = postgres["environment"]
    assert env["POSTGRES_USER"].endswith(f":-{url.username}}}")
    assert env["POSTGRES_PASSWORD"].endswith(f":-{url.password}}}")
    assert env["POSTGRES_DB"].endswith(f":-{url.database}}}")
    for name in ("qreact", "qreact-vllm"):
        dep = compose["services"][name]["depends_on"]["postgres"]
        assert dep == {"condition": "service_healthy", "required": False}


def test_compose_file_follows_the_compose_spec(compose: dict) -> None:
    """The stand-in for `docker compose config` here: the compose-spec parser (Rust, strict)."""
    spec = pytest.importorskip("compose_spec", reason="compose-spec is not installed (dev extra)")
    # PyYAML resolves the `<<` merge keys first, as Compose does; the parser then checks every
    # field's name, type and enum value, durations, and that named volumes are declared.
    parsed = spec.PyCompose.from_json(json.dumps(compose))
    parsed.validate()
    assert set(parsed.service_names()) == {"qreact", "model-init", "vllm", "qreact-vllm", "postgres"}
    broken = json.loads(json.dumps(compose))
    broken["services"]["qreact"]["restart"] = "sometimes"
    with pytest.raises(ValueError, match="sometimes"):
        spec.PyCompose.from_json(json.dumps(broken))


def check_vllm_template(tokenizer: Any, bos_added_by_tokenizer: bool) -> None:
    """docker/vllm/raw_prompt.jinja, rendered as vLLM does (transformers' apply_chat_template, then
    tokenized without special tokens), gives the token ids the local backend feeds the model."""
    from langchain_core.messages import HumanMessage

    from agent.backends.text import heal_prompt, messages_to_prompt
    from agent.prompt import render_prompt

    template = (DOCKER / "vllm" / "raw_prompt.jinja").read_text()

    def render(messages: list[dict[str, str]]) -> str:
        return str(tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False))

    pad = " I should search.\nAction: Search\nAction Input: x\nObservation: y\nThought: "
    for prompt in (render_prompt("What is the capital of Australia?"), render_prompt("Q?", scratchpad=pad)):
        text = render([{"role": "user", "content": prompt}])
        local = heal_prompt(messages_to_prompt([HumanMessage(content=prompt)]))[0]  # what local.py feeds
        assert text == tokenizer.bos_token + local
        vllm_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        local_ids = tokenizer(local)["input_ids"]
        if not bos_added_by_tokenizer:
            local_ids = [tokenizer.bos_token_id, *local_ids]
        assert vllm_ids == local_ids
    two = [{"role": "system", "content": "a"}, {"role": "user", "content": "b "}]
    assert render(two) == tokenizer.bos_token + "a\n\nb"


def test_vllm_chat_template_matches_the_local_backend(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    check_vllm_template(tokenizer, bos_added_by_tokenizer=False)  # the tiny BPE tokenizer adds no BOS


@pytest.mark.slow
def test_vllm_chat_template_matches_the_local_backend_on_gemma() -> None:
    """The same on the real Gemma tokenizer, which adds BOS itself (converted model in the cache)."""
    from transformers import AutoTokenizer

    from agent.backends.gguf import ensure_default_model

    tokenizer = AutoTokenizer.from_pretrained(ensure_default_model(Settings(_env_file=None).cache_dir))  # type: ignore[call-arg]
    assert tokenizer("x")["input_ids"][0] == tokenizer.bos_token_id
    check_vllm_template(tokenizer, bos_added_by_tokenizer=True)


def test_cpu_image_builds_the_llamacpp_engine_and_points_the_service_at_it() -> None:
    instructions = parse_dockerfile(DOCKER / "Dockerfile.cpu")
    runs = [rest for word, rest in instructions if word == "RUN"]
    assert any("build-engine.sh" in rest and "QREACT_ENGINE_DIR=/opt/llama.cpp" in rest for rest in runs)
    assert ("COPY", "--from=engine /opt/llama.cpp /opt/llama.cpp") in instructions
    assert dockerfile_env(instructions)["QREACT_ENGINE_DIR"] == "/opt/llama.cpp"
    assert (ROOT / "scripts" / "build-engine.sh").is_file()
