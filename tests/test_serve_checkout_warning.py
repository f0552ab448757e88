"""``arrears serve`` warns on stderr when the workspace pays through the fake provider
(``[checkout] provider = "fake"``: payments recorded without money). The server is started for
real by the command on a port already taken, so uvicorn stops right after the warnings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.cli.app import app, main
from arrears.cli.web import checkout_warnings


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("serve-warn") / "ws"
    assert main(["init", str(where)]) == 0
    return where


def _serve_on_a_taken_port(ws: Path, provider: str) -> tuple[str, str]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["-w", str(ws), "serve", "--port", str(port)],
            env={"ARREARS_CHECKOUT_PROVIDER": provider, "COLUMNS": "120"},
        )
    assert result.exit_code != 0  # the port is taken: uvicorn stops
    return result.stdout, result.stderr


def test_serve_warns_on_stderr_with_the_fake_provider(ws: Path) -> None:
    out, err = _serve_on_a_taken_port(ws, "fake")
    assert 'provider = "fake"' in err
    assert "without any money moving" in err
    assert "fake" not in out
    assert "serving default on http://127.0.0.1" in out
    assert err.splitlines()[:4] == checkout_warnings("fake")  # the same lines serve prints


def test_serve_says_nothing_of_checkout_otherwise(ws: Path) -> None:
    for provider in ("", "hosted"):
        _out, err = _serve_on_a_taken_port(ws, provider)
        assert "fake" not in err and "money" not in err
    assert checkout_warnings("hosted") == [] and checkout_warnings("") == []
    assert checkout_warnings(" Fake ") == checkout_warnings("fake") != []
