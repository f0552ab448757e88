"""schemathesis against the app's own OpenAPI document (issue 16, section 6): every operation
of ``/openapi.json`` called with requests generated from its schema (valid ones and, mostly,
invalid ones: where a server error would hide), with a manager's API token, on the tests' small
workspace: zero server errors. A few examples per operation, so it stays fast."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from arrears import config
from arrears.web import create_app
from channels_support import base_workspace, copy_workspace
from test_web_api import add_token

NOW = datetime.now(UTC).replace(microsecond=0)
EXAMPLES = 5


def test_no_operation_answers_a_server_error(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("st")), tmp_path / "ws")
    token = add_token(ws, capsys, "boss", "--role", "manager")
    app = create_app(config.load(ws, env={}), clock=lambda: NOW)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    errors: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    called: dict[str, set[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck),
            )  # fmt: skip
            def call(case: schemathesis.Case) -> None:
                label = case.operation.label
                response = case.call(headers=headers)
                called.setdefault(label, set()).add(response.status_code)
                if response.status_code >= 500:
                    errors.append(f"{label}: {response.status_code} for "
                                  f"{case.as_curl_command()}\n{response.text[:300]}")  # fmt: skip

            try:
                call()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert not errors, "\n\n".join(errors[:10])
    assert len(called) == len(operations)
    assert any(422 in statuses for statuses in called.values())  # invalid ones were sent
    # valid requests get through somewhere, not only refusals
    assert any(s & {200, 201} for label, s in called.items() if label.startswith("GET /api/v1"))
