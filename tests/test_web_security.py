"""Hostile requests against a real ``arrears serve`` process: missing, malformed and non-ASCII
signatures refused before the body is read, bodies beyond ``web.max_body_bytes`` refused with 413
while streaming (announced, chunked or understated; the server's peak memory measured from
``/proc``), and the error answers the OpenAPI schema declares, in the app's one error shape."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from select import select as readable

import httpx
import pytest

from channels_support import base_workspace, copy_workspace
from serve_support import Server, serve

SECRET = "a-test-secret-of-some-length"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    ws = copy_workspace(
        base_workspace(tmp_path_factory.mktemp("sec")), tmp_path_factory.mktemp("s") / "ws"
    )
    yield from serve(ws, {"ARREARS_CHANNELS_SECRET": SECRET, "ARREARS_TWILIO_AUTH_TOKEN": "tok"})


# -- item 12: unsigned and oversized bodies ---------------------------------------------------

MIB = 1 << 20
STATUS_PATH = "/callbacks/webhook/status"


def _post_stream(
    base: str, path: str, headers: dict[str, str], total: int, *, chunked: bool
) -> tuple[int, int]:
    """POST ``total`` bytes in 1 MiB pieces on a raw socket, stopping as soon as the server
    answers; returns (HTTP status, bytes of body sent before the answer)."""
    host, port = base.removeprefix("http://").split(":")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += "Transfer-Encoding: chunked\r\n" if chunked else ""
    piece = b"x" * MIB
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall((head + "\r\n").encode())
        try:
            while sent < total and not readable([sock], [], [], 0)[0]:
                frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
                sock.sendall(frame)
                sent += len(piece)
            if chunked and sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            assert data, "the server closed the connection without an answer"
            answer += data
    return int(answer.split(b" ")[1]), sent


def test_a_missing_signature_is_refused_before_the_body_is_read(secured: Server) -> None:
    started = time.monotonic()
    length = {"Content-Length": str(50 * MIB)}
    status, sent = _post_stream(secured.base, STATUS_PATH, length, 50 * MIB, chunked=False)
    assert status == 401 and sent < 25 * MIB
    status, sent = _post_stream(secured.base, STATUS_PATH, {}, 50 * MIB, chunked=True)
    assert status == 401 and sent < 25 * MIB
    # Twilio's endpoints too
    for path in ("/callbacks/twilio/status", "/inbound/twilio", "/inbound/webhook"):
        status, sent = _post_stream(secured.base, path, {}, 50 * MIB, chunked=True)
        assert status == 401 and sent < 25 * MIB, path
    assert time.monotonic() - started < 20


def test_a_malformed_signature_is_refused_before_the_body_is_read(secured: Server) -> None:
    for bad in ("x", "sha256=abc", "g" * 64, "0" * 65):
        headers = {"X-Arrears-Signature": bad}
        status, sent = _post_stream(secured.base, STATUS_PATH, headers, 50 * MIB, chunked=True)
        assert status == 403 and sent < 25 * MIB, bad


def test_bodies_beyond_the_limit_are_413_while_streaming(secured: Server) -> None:
    """A well-formed (wrong) signature needs the body to be checked: it is read up to the
    limit only, whether the length is announced, absent (chunked) or understated."""
    wrong = {"X-Arrears-Signature": "0" * 64}
    peak = secured.peak_kib()
    announced = {**wrong, "Content-Length": str(50 * MIB)}
    status, sent = _post_stream(secured.base, STATUS_PATH, announced, 50 * MIB, chunked=False)
    assert status == 413 and sent < 25 * MIB
    for _ in range(2):
        status, sent = _post_stream(secured.base, STATUS_PATH, wrong, 50 * MIB, chunked=True)
        assert status == 413 and sent < 50 * MIB
    # an understated length: the server reads what was announced, checks it, and stops there
    understated = {**wrong, "Content-Length": "100"}
    status, sent = _post_stream(secured.base, STATUS_PATH, understated, 50 * MIB, chunked=False)
    assert status == 403 and sent < 25 * MIB
    assert secured.peak_kib() - peak < 20 * 1024, "the server's memory grew with the body"
    # the answer is the app's one error shape
    big = b"{" + b" " * (2 * MIB) + b"}"
    answer = httpx.post(secured.base + STATUS_PATH, content=big, headers=wrong)
    assert answer.status_code == 413
    assert answer.json()["status"] == 413 and answer.json()["problems"][0]["where"] == "body"


def test_a_signed_body_within_the_limit_still_reaches_the_check(secured: Server) -> None:
    body = json.dumps({"id": "nope", "status": "delivered"}).encode()
    from arrears.channels.http import callback_signature

    answer = httpx.post(
        secured.base + STATUS_PATH,
        content=body,
        headers={"X-Arrears-Signature": callback_signature(SECRET, body)},
    )
    assert answer.status_code == 404 and answer.json()["problems"][0]["where"] == "id"


def test_signatures_with_any_text_are_refused_not_errors(secured: Server) -> None:
    for path in (
        "/opt-out?d=D1&c=email&s=\u00e9\u00e9",
        "/t/open?k=k&s=\u00e9",
        "/t/click?k=k&u=https://x.test/&s=\u00e9",
    ):
        assert httpx.get(secured.base + path).status_code == 403, path
    headers = {b"X-Twilio-Signature": "\u00e9".encode("latin-1") * 28}
    answer = httpx.post(secured.base + "/inbound/twilio", content=b"From=x", headers=headers)
    assert answer.status_code == 403


# -- item 17: the OpenAPI schema declares the error answers -----------------------------------


def test_openapi_declares_every_error_answer_in_the_one_shape(secured: Server) -> None:
    schema = httpx.get(secured.base + "/openapi.json").json()
    shape = schema["components"]["schemas"]["ErrorResponse"]
    assert set(shape["required"]) == {"status", "problems"}
    problem = schema["components"]["schemas"]["ProblemItem"]
    assert set(problem["required"]) == {"where", "what"}
    ref = {"$ref": "#/components/schemas/ErrorResponse"}
    expected = {
        ("post", "/callbacks/webhook/status"): {"401", "403", "404", "413", "422"},
        ("post", "/callbacks/twilio/status"): {"401", "403", "404", "413", "422"},
        ("post", "/inbound/webhook"): {"401", "403", "413", "422"},
        ("post", "/inbound/twilio"): {"401", "403", "413", "422"},
        ("get", "/t/open"): {"403", "422"},
        ("get", "/t/click"): {"403", "422"},
    }
    for (method, path), codes in expected.items():
        responses = schema["paths"][path][method]["responses"]
        for code in codes:
            assert responses[code]["content"]["application/json"]["schema"] == ref, (path, code)
    for method in ("get", "post"):
        responses = schema["paths"]["/opt-out"][method]["responses"]
        assert {"403", "404"} <= set(responses)
        assert "text/html" in responses["403"]["content"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    # and an answer has that shape
    answer = httpx.post(secured.base + STATUS_PATH, content=b"{}")
    assert answer.status_code == 401
    assert set(answer.json()) == {"status", "problems"}


def test_serve_refuses_a_body_limit_that_is_not_a_number(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from arrears.cli.app import main

    ws = copy_workspace(base_workspace(tmp_path_factory.mktemp("sec")), tmp_path / "ws")
    monkeypatch.setenv("ARREARS_WEB_MAX_BODY_BYTES", "1 MB")
    assert main(["-w", str(ws), "serve", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "web.max_body_bytes = '1 MB'" in err and "Traceback" not in err
