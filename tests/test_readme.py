"""The README documents every setting, and the two commands it promises exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        var = f"QREACT_{name.upper()}"
        row = re.search(rf"^\| `{var}` \| `([^`]*)` \|", readme, re.M)
        assert row, f"{var} is missing from the README settings table"
        default = field.default if field.default_factory is None else None
        if isinstance(default, bool | int | float | str):
            assert row.group(1) == str(default), f"{var}: README says {row.group(1)!r}, code {default!r}"


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# Every setting that opens, closes or bounds something; docs/security.md must describe each one.
SECURITY_SETTINGS = (
    "host", "api_keys", "admin_key", "allow_open_access", "allowed_hosts", "forwarded_allow_ips",
    "cors_origins", "adapter_roots", "data_roots", "openai_api_key", "store_url", "max_body_bytes",
    "max_question_chars", "max_steps", "max_steps_cap", "timeout_s", "tool_timeout_s", "search_timeout_s",
    "observation_max_chars", "max_new_tokens", "rate_limit_per_minute", "header_timeout_s", "body_timeout_s",
    "max_connections", "max_prompt_tokens", "max_concurrency", "max_queue", "openai_timeout_s", "openai_max_retries",
)  # fmt: skip


def test_security_doc_describes_every_security_setting_with_its_default() -> None:
    doc = (ROOT / "docs" / "security.md").read_text()
    for name in SECURITY_SETTINGS:
        field = Settings.model_fields[name]
        var = f"QREACT_{name.upper()}"
        rows = [line for line in doc.splitlines() if line.startswith("|") and f"`{var}`" in line]
        assert rows, f"{var} is not in a table of docs/security.md"
        default = field.default if field.default_factory is None else None
        if isinstance(default, bool):
            assert any(str(default).lower() in row.lower() for row in rows), var
        elif isinstance(default, int | float):
            assert any(f"{default:g}" in row for row in rows), f"{var}: default {default:g} not in {rows}"
