"""Probes of the ``admin`` server (an admin key, extra adapter roots with probe adapters, a rate limit)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import httpx

from bench.security_probes.harness import (
    Probe,
    detail,
    http_get,
    http_post,
    run,
)


def admin_probes(base: str, key: str, roots: Path, store_url: str) -> list[Probe]:
    auth = {"Authorization": f"Bearer {key}"}
    out: list[Probe] = []

    def activate(**body: str) -> httpx.Response:
        return http_post(base + "/admin/adapters/activate", json=body, headers=auth, timeout=300)

    def any_folder() -> tuple[str, bool]:
        answers = {p: activate(path=p) for p in ("/etc", "/nonexistent/adapter", "/etc/shadow", "../../../etc")}
        same = len({r.text.split('"request_id"')[0] for r in answers.values()}) == 1
        codes = sorted({r.status_code for r in answers.values()})
        first = detail(next(iter(answers.values())))
        return f"{codes}, one message for all: {same}: {first[:70]}", codes == [422] and same

    out.append(
        run(
            Probe(
                "activate took any folder; errors told whether a path exists",
                "activate /etc, /nonexistent/adapter, /etc/shadow, ../../../etc",
                "422, the same message for each",
            ),
            any_folder,
        )
    )

    def reserved_default() -> tuple[str, bool]:
        r = activate(path=str(roots / "good"), name="default")
        return detail(r), r.status_code == 422 and "reserved" in r.text

    out.append(
        run(
            Probe(
                "another folder registered under the name 'default'",
                "activate a folder in the roots as name 'default'",
                "422 (reserved)",
            ),
            reserved_default,
        )
    )

    def layer_replication() -> tuple[str, bool]:
        before = http_get(base + "/readyz").json().get("adapter")
        r = activate(path=str(roots / "layer-replication"))
        after = http_get(base + "/readyz").json().get("adapter")
        ok_next = activate(name="default").status_code
        observed = f"{detail(r)[:80]}; /readyz adapter {before!r} -> {after!r}; next activation {ok_next}"
        return observed, r.status_code == 422 and before == after and ok_next == 200

    out.append(
        run(
            Probe(
                "a layer_replication adapter gave a 500 and a lying /readyz",
                "activate an adapter whose config sets layer_replication",
                "422; /readyz unchanged; later activations work",
            ),
            layer_replication,
        )
    )

    def pre_policy_entry() -> tuple[str, bool]:
        from app.store.registry import open_adapter_registry

        registry = open_adapter_registry(store_url)
        assert registry is not None
        outside = Path(tempfile.mkdtemp(prefix="qreact-probe-outside-")) / "old-evil"
        shutil.copytree(roots / "good", outside)
        registry.register("old-evil", outside, source="activated")  # as the pre-policy main wrote it
        registry.store.close()
        r = activate(name="old-evil")
        return detail(r), r.status_code == 422 and "outside the adapter roots" in r.text

    out.append(
        run(
            Probe(
                "an activated folder was copied into the database and re-applied after restarts",
                "activate by name an entry registered from outside the roots (pre-policy)",
                "422, not served",
            ),
            pre_policy_entry,
        )
    )

    def rollback() -> tuple[str, bool]:
        r = http_post(base + "/admin/adapters/rollback", headers=auth, timeout=300)
        active = r.json().get("active") if r.status_code == 200 else None
        return f"{r.status_code}, now serving {active!r}", r.status_code == 200

    out.append(
        run(
            Probe("'default' could not be rolled back", "POST /admin/adapters/rollback", "200: a target always exists"),
            rollback,
        )
    )

    def overrides() -> tuple[str, bool]:
        finetune = base + "/admin/finetune"
        smuggle = http_post(
            finetune,
            json={"overrides": {"target_modules": ["--output_dir", "/tmp/x", "--store_url", "sqlite:///x"]}},
            headers=auth,
        )
        config = http_post(finetune, json={"config": "/etc/passwd"}, headers=auth)
        files = http_post(finetune, json={"train_files": ["/etc/shadow"]}, headers=auth)
        jobs = http_get(base + "/admin/jobs", headers=auth).json()
        leaked = "root:" in config.text + files.text
        observed = (f"list flags -> {smuggle.status_code}; config /etc/passwd -> {config.status_code}; "
                    f"train_files /etc/shadow -> {files.status_code}; jobs started: {len(jobs)}; "
                    f"file content echoed: {leaked}")  # fmt: skip
        ok = all(r.status_code in (400, 422) for r in (smuggle, config, files)) and not jobs and not leaked
        return observed, ok

    out.append(
        run(
            Probe(
                "list overrides smuggled flags; absolute paths read /etc/shadow and echoed a secret",
                "overrides ['--output_dir', ...]; config /etc/passwd; train_files /etc/shadow",
                "4xx, no job, nothing echoed",
            ),
            overrides,
        )
    )

    def forwarded_for() -> tuple[str, bool]:
        codes = [http_get(base + "/runs", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(30)]
        limited = codes.count(429)
        return f"30 requests with 30 X-Forwarded-For addresses: {limited} x 429", limited >= 5

    out.append(
        run(
            Probe(
                "X-Forwarded-For chose the rate-limit bucket",
                "30 x GET /runs, a new X-Forwarded-For each, limit 20/min",
                "429 once the socket's bucket is empty",
            ),
            forwarded_for,
        )
    )
    return out


def probe_adapters(repo: Path, roots: Path) -> None:
    """In the admin server's extra root: a copy of the shipped adapter, and one with layer_replication."""
    shutil.copytree(repo / "adapters" / "default", roots / "good")
    shutil.copytree(repo / "adapters" / "default", roots / "layer-replication")
    config = roots / "layer-replication" / "adapter_config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["layer_replication"] = [[0, 9], [4, 18]]
    config.write_text(json.dumps(data), encoding="utf-8")
