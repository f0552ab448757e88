"""One error shape for every JSON endpoint: ``{"status": 422, "problems": [{"where": ...,
"what": ...}]}``, every problem of a request at once, each saying where and what to do.
:func:`answers` declares it in the OpenAPI schema for the statuses a route can answer.

:func:`install` maps every error to it in one place: a :class:`WebError` a route raises, a request
FastAPI cannot validate (422), and any :class:`arrears.domain.errors.ArrearsError` a use case
raises, answered with its ``http_status`` (a ``ProblemsFound`` gives one item per problem).

Each ``what`` is in the caller's language (``Accept-Language``: English or Spanish,
:mod:`arrears.web.error_words`), and the answer says which in ``Content-Language``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from arrears.domain.errors import ArrearsError, Unavailable
from arrears.domain.problems import ProblemsFound
from arrears.web import error_words


@dataclass(frozen=True, slots=True)
class Problem:
    where: str  # "header X-Arrears-Signature", "body.status", "query k"
    what: str


class ProblemItem(BaseModel):
    """One problem of a request."""

    where: str
    what: str


class ErrorResponse(BaseModel):
    """Every error answer of the JSON endpoints."""

    status: int
    problems: list[ProblemItem]


#: What each error status means, for the OpenAPI schema.
MEANING = {
    401: "Unauthenticated: the signature header is missing (nothing was read).",
    403: "Refused: the signature is malformed or does not match, or the server has no key to "
    "check it (nothing was changed).",
    404: "Not found: no message or debtor with that reference.",
    413: "The body is longer than web.max_body_bytes (not read further).",
    409: "Conflict: the state changed under the request, or does not allow it; read it again "
    "and retry.",
    422: "The request is not valid: every problem at once.",
    503: "Unavailable: the store or a channel cannot be used now (nothing was changed).",
}


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route answering ``statuses`` in the one error shape."""
    return {s: {"model": ErrorResponse, "description": MEANING[s]} for s in statuses}


class WebError(Exception):
    """A request the server refuses; carries its HTTP status."""

    def __init__(self, status: int, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.where}: {p.what}" for p in problems))
        self.status = status
        self.problems = problems


def problems_of(
    error: ValidationError | RequestValidationError, prefix: str = "", language: str = "en"
) -> list[Problem]:
    found = []
    for e in error.errors():
        where = ".".join(str(part) for part in e["loc"]) or "body"
        found.append(Problem(f"{prefix}{where}", error_words.validation(e, language)))
    return found


def problems_of_error(exc: ArrearsError) -> list[Problem]:
    """The problems of a use case's error: one per located problem of a ``ProblemsFound``,
    otherwise its message, said of the request (of the server when it is unavailable)."""
    if isinstance(exc, ProblemsFound):
        return [Problem(p.where, p.message) for p in exc.problems]
    return [Problem("server" if isinstance(exc, Unavailable) else "request", str(exc))]


def response(
    request: Request,
    status: int,
    problems: list[Problem] | tuple[Problem, ...],
    *,
    said: bool = False,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error shape, each ``what`` in the caller's language (``said``: it is already)."""
    language = error_words.language(request.headers)
    items = [
        {
            "where": p.where,
            "what": p.what if said else error_words.message(p.what, status, language),
        }
        for p in problems
    ]
    return JSONResponse(
        {"status": status, "problems": items},
        status_code=status,
        headers={**(headers or {}), "Content-Language": language},
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> JSONResponse:
        return response(request, exc.status, exc.problems)

    @app.exception_handler(ArrearsError)
    async def use_case_error(request: Request, exc: ArrearsError) -> JSONResponse:
        return response(request, exc.http_status, problems_of_error(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        language = error_words.language(request.headers)
        return response(request, 422, problems_of(exc, language=language), said=True)
