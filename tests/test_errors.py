"""One error hierarchy (``arrears.domain.errors``): every error a user can act on is an
``ArrearsError`` of one kind; the command line prints it as one line and exits 1, the web answers
its HTTP status in the one JSON error shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from arrears.channels.base import MissingSecret
from arrears.channels.templates import TemplateBroken, TemplateMissing
from arrears.cli.app import UserError, main
from arrears.cli.context import NoWorkspace
from arrears.config import ConfigError
from arrears.contact.packs import PackError
from arrears.cycle.compiled import PolicyNotCompiled
from arrears.domain.errors import (
    ArrearsError,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    Unavailable,
)
from arrears.domain.money import MoneyError
from arrears.domain.problems import Problem, ProblemsFound
from arrears.scoring.model import NotEnoughHistory
from arrears.scoring.registry import ModelFileError
from arrears.services.cycle import PolicyProblems, UnknownDebtor
from arrears.store.cycle.write import CycleBusy, RunOutOfOrder, StaleDecisions
from arrears.store.database import StoreError
from arrears.store.ledger.balances import ConcurrentChange
from arrears.store.loading import contact_points
from arrears.store.portfolios import UnknownPortfolio
from arrears.web.errors import install

#: Each error type, the kind it is, and the built-in base code catches it by today.
KINDS: list[tuple[type[Exception], type[ArrearsError], type[Exception]]] = [
    (ProblemsFound, InvalidInput, Exception),
    (MoneyError, InvalidInput, ValueError),
    (ConfigError, InvalidInput, ValueError),
    (NoWorkspace, InvalidInput, ValueError),
    (UserError, InvalidInput, Exception),
    (PolicyProblems, InvalidInput, ValueError),
    (PolicyNotCompiled, InvalidInput, ValueError),
    (PackError, InvalidInput, ValueError),
    (TemplateBroken, InvalidInput, ValueError),
    (NotEnoughHistory, InvalidInput, ValueError),
    (UnknownPortfolio, NotFound, LookupError),
    (UnknownDebtor, NotFound, LookupError),
    (contact_points.NotFound, NotFound, LookupError),
    (TemplateMissing, NotFound, LookupError),
    (ConcurrentChange, Conflict, RuntimeError),
    (CycleBusy, Conflict, RuntimeError),
    (StaleDecisions, Conflict, RuntimeError),
    (RunOutOfOrder, Conflict, RuntimeError),
    (StoreError, Unavailable, RuntimeError),
    (ModelFileError, Unavailable, ValueError),
    (MissingSecret, Unavailable, ValueError),
]


@pytest.mark.parametrize(("error", "kind", "builtin"), KINDS, ids=[k[0].__name__ for k in KINDS])
def test_each_error_is_one_kind_and_keeps_its_builtin_base(
    error: type[Exception], kind: type[ArrearsError], builtin: type[Exception]
) -> None:
    assert issubclass(error, kind)
    assert issubclass(error, builtin)
    others = {InvalidInput, NotFound, Conflict, NotAllowed, Unavailable} - {kind}
    assert not any(issubclass(error, other) for other in others)


def test_the_cli_has_no_hand_kept_list_of_error_types() -> None:
    from arrears.cli import app

    assert not hasattr(app, "_user_error_types")


# --- the command line: one line, exit status 1 ------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    return root


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one ``error:`` line the command printed (on standard error), without the prefix."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return " ".join(err.removeprefix("error: ").split())


def test_not_found_unknown_debtor(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "-w",
                str(ws),
                "promise",
                "add",
                "D9",
                "10",
                "--due",
                "2026-04-01",
                "--on",
                "2026-03-01",
            ]
        )
        == 1
    )
    assert one_error(capsys) == "promise of D9: unknown debtor 'D9'"


def test_conflict_a_cycle_run_back_in_time(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-w", str(ws), "run", "--as-of", "2026-03-01"]) == 0
    capsys.readouterr()
    assert main(["-w", str(ws), "run", "--as-of", "2026-02-01"]) == 1
    assert one_error(capsys).startswith(
        "the cycle of portfolio 'default' has already run for 2026-03-01, after 2026-02-01"
    )


def test_invalid_input_every_problem_one_line_each(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pay = ["payment", "add", "--debtor", "D1", "--id", "P1", "--on", "2026-02-01"]
    assert main(["-w", str(ws), *pay, "--amount", "ten", "--currency", "USD"]) == 1
    assert one_error(capsys) == "--amount: 'ten' is not a number"


def test_unavailable_database(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert main(["-w", str(ws), "aging"]) == 1
    assert one_error(capsys).startswith(
        "cannot open the database postgresql+psycopg://nobody@127.0.0.1:1/none"
    )


def test_unavailable_database_not_migrated(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ws / "arrears.db").unlink()
    assert main(["-w", str(ws), "aging"]) == 1
    assert "run `arrears db upgrade`" in one_error(capsys)


def test_an_error_of_any_kind_is_one_line(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the types the CLI used to list: any ArrearsError a command lets through."""

    def broken(url: str) -> None:
        raise ModelFileError("models/m1 is altered; train again")

    monkeypatch.setattr("arrears.services.uow.open_store", broken)
    assert main(["-w", str(ws), "aging"]) == 1
    assert one_error(capsys) == "models/m1 is altered; train again"


# --- the web: the status and the one error shape --------------------------------------------


def errors_app() -> FastAPI:
    app = FastAPI()
    install(app)
    raised: dict[str, Exception] = {
        "invalid": MoneyError("'ten' is not an amount"),
        "problems": ProblemsFound(
            [
                Problem("invoices.csv", 3, "amount", "'ten' is not a number"),
                Problem("invoices.csv", 4, None, "the row has 5 cells, not 6"),
            ]
        ),
        "missing": UnknownPortfolio("nope"),
        "conflict": ConcurrentChange("the instalment changed; try again"),
        "refused": NotAllowed("a viewer may not record payments"),
        "down": StoreError("cannot open the database"),
    }
    for name, exc in raised.items():
        app.get(f"/{name}")(raising(exc))
    return app


def raising(exc: Exception) -> Callable[[], None]:
    def route() -> None:
        raise exc

    return route


def get(app: FastAPI, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(call())


@pytest.mark.parametrize(
    ("path", "status", "where", "what"),
    [
        ("/invalid", 422, "request", "'ten' is not an amount"),
        (
            "/missing",
            404,
            "request",
            "no portfolio 'nope': create it with `arrears portfolio add nope`",
        ),
        ("/conflict", 409, "request", "the instalment changed; try again"),
        ("/refused", 403, "request", "a viewer may not record payments"),
        ("/down", 503, "server", "cannot open the database"),
    ],
)
def test_the_web_answers_each_kind_with_its_status(
    path: str, status: int, where: str, what: str
) -> None:
    response = get(errors_app(), path)
    assert response.status_code == status
    assert response.json() == {"status": status, "problems": [{"where": where, "what": what}]}


def test_the_web_answers_every_located_problem() -> None:
    response = get(errors_app(), "/problems")
    assert response.status_code == 422
    assert response.json() == {
        "status": 422,
        "problems": [
            {"where": "invoices.csv:3:amount", "what": "'ten' is not a number"},
            {"where": "invoices.csv:4", "what": "the row has 5 cells, not 6"},
        ],
    }
