"""One error shape for every JSON endpoint: ``{"status": 422, "problems": [{"where": ...,
"what": ...}]}``, every problem of a request at once, each saying where and what to do."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class Problem:
    where: str  # "header X-Arrears-Signature", "body.status", "query k"
    what: str


class WebError(Exception):
    """A request the server refuses; carries its HTTP status."""

    def __init__(self, status: int, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.where}: {p.what}" for p in problems))
        self.status = status
        self.problems = problems


def problems_of(error: ValidationError | RequestValidationError, prefix: str = "") -> list[Problem]:
    found = []
    for e in error.errors():
        where = ".".join(str(part) for part in e["loc"]) or "body"
        found.append(Problem(f"{prefix}{where}", str(e["msg"])))
    return found


def _response(status: int, problems: list[Problem] | tuple[Problem, ...]) -> JSONResponse:
    return JSONResponse(
        {"status": status, "problems": [{"where": p.where, "what": p.what} for p in problems]},
        status_code=status,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> JSONResponse:
        return _response(exc.status, exc.problems)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _response(422, problems_of(exc))
