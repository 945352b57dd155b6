"""API keys and the admin key (app/auth.py): the key ring's constant-time check, the bind refusal
for a public address without keys; through HTTP in test_security.py."""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

import pytest

from app import auth
from app.auth import KeyRing
from app.settings import Settings

KEY = "user-key-0123456789"


def test_serve_refuses_a_public_address_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from app.cli import app as cli
    from app.settings import get_settings

    monkeypatch.delenv("QREACT_API_KEYS", raising=False)
    monkeypatch.delenv("QREACT_ALLOW_OPEN_ACCESS", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    get_settings.cache_clear()
    assert result.exit_code == 2
    assert "refusing to serve on 0.0.0.0 without API keys" in result.output


@pytest.mark.parametrize(
    "host,keys,opt_in,refused",
    [
        ("127.0.0.1", [], False, False),
        ("localhost", [], False, False),
        ("::1", [], False, False),
        ("127.0.0.2", [], False, False),
        ("0.0.0.0", [], False, True),
        ("::", [], False, True),
        ("192.168.1.5", [], False, True),
        ("myhost.lan", [], False, True),  # a name may resolve anywhere
        ("0.0.0.0", [KEY], False, False),
        ("0.0.0.0", [], True, False),
    ],
)
def test_bind_refusal_table(host: str, keys: list[str], opt_in: bool, refused: bool) -> None:
    settings = Settings(_env_file=None, api_keys=keys, allow_open_access=opt_in)  # type: ignore[call-arg]
    reason = auth.bind_refusal(settings, host)
    assert (reason is not None) is refused
    if reason:
        assert "QREACT_API_KEYS" in reason and "QREACT_ALLOW_OPEN_ACCESS" in reason


def test_open_access_on_a_public_address_warns_at_every_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, cache_dir=tmp_path, host="0.0.0.0", allow_open_access=True)  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="app.auth"):
        auth.check_bind(settings, settings.host)
    assert any("WITHOUT API keys" in r.getMessage() for r in caplog.records)
    closed = settings.model_copy(update={"allow_open_access": False})
    with pytest.raises(RuntimeError, match="refusing to serve on 0.0.0.0"):
        auth.check_bind(closed, closed.host)


def test_keys_are_compared_in_constant_time_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    ring = KeyRing(["k1-aaaa", "k2-bbbb", "k3-cccc"], "adm-dddd")
    assert ring.role("k1-aaaa") == "user"  # a match on the first key still compares all of them
    assert len(calls) == 4
    assert ring.role("adm-dddd") == "admin"
    assert ring.role("nope") is None
    assert ring.role(None) is None
