"""The Swagger examples of /ask's statuses are true: the loop, the real local search and the check
give each example's status, answer, observations and grounding when the model writes its steps."""

from __future__ import annotations

import pytest

from app.schemas.ask import ASK_STATUS_EXAMPLES
from tests.app.conftest import make_settings, running_app
from tests.model import ScriptedChatModel


@pytest.mark.parametrize("status", sorted(ASK_STATUS_EXAMPLES))
def test_each_status_example_is_what_the_service_returns(tmp_path, status: str) -> None:
    example = ASK_STATUS_EXAMPLES[status]["value"]
    script = [step["log"] for step in example["steps"]]
    # the ungrounded example shows the kept answer: QREACT_UNGROUNDED=keep (the default on openai)
    settings = make_settings(tmp_path, ungrounded="keep")
    with running_app(settings, ScriptedChatModel(script=script)) as client:
        response = client.post("/ask", json={"question": example["question"]})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["answer"], body["error"]) == (status, example["answer"], example["error"])
    assert body["grounding"] == example["grounding"]
    got = [(s["kind"], s["tool_input"], s["observation"]) for s in body["steps"]]
    want = [(s["kind"], s.get("tool_input"), s.get("observation")) for s in example["steps"]]
    assert got == want
