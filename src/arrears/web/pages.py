"""The collectors' pages (docs/web.md): log in and out, the worklist, the account page and its
promise form. Server-rendered (Jinja2, ``templates/``), every asset served by the app itself
(``static/``), in English and Spanish.

Every page needs a logged-in user (else a redirect to ``/login``); what the user does is done as
``user:<name>`` with the user's role (:func:`arrears.services.users.actor_of`), so the activity
log names them, and the role decides (an auditor's promise is refused: 403). Every POST carries
the session's CSRF token (:mod:`arrears.web.session`), else 403 and nothing is done. Bad input
is the one error shape (``where``, ``what``, every problem at once) shown on the form (422).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from arrears import config
from arrears.domain.actor import Actor, Role
from arrears.domain.errors import ArrearsError, NotAllowed, NotFound
from arrears.domain.money import from_minor
from arrears.domain.problems import ProblemsFound
from arrears.services import users
from arrears.services.casework import accounts, collection
from arrears.web import i18n
from arrears.web.app import Site
from arrears.web.session import Session, check_csrf, fresh

router = APIRouter(include_in_schema=False)
MAX_FORM = 16 * 1024

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("arrears.web", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)

#: Headers of every page: never cached, never framed, forms and assets only from here.
HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
}


class PageError(Exception):
    """A page answering ``status`` with ``message`` (a key of :data:`i18n.TEXT` or a text)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginNeeded(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


@dataclass(frozen=True, slots=True)
class Visit:
    """One request to a page: the site, its session, its language and (logged in) its user."""

    site: Site
    request: Request
    session: Session
    language: str
    user: users.User | None = None

    @property
    def actor(self) -> Actor:
        assert self.user is not None
        return users.actor_of(self.user)

    def text(self, key: str, **values: object) -> str:
        words = i18n.TEXT[self.language]
        return words[key].format(**values) if key in words else key

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = _templates.get_template(template).render(
            t=i18n.TEXT[self.language],
            lang=self.language,
            user=self.user,
            csrf=self.session.csrf,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=HEADERS)
        self.keep(response)
        return response

    def keep(self, response: Response) -> None:
        """Write the session cookie when the session is new."""
        if self.session.new and self.site.sessions is not None:
            self.site.sessions.write(response, self.session)


def _visit(request: Request, *, login: bool = True) -> Visit:
    s: Site = request.app.state.site
    locale = s.workspace.get("locale") if s.workspace is not None else "en_US"
    language = i18n.choose(request.headers.get("accept-language", ""), locale)
    if s.sessions is None:  # no channels.secret: no sessions at all
        visit = Visit(s, request, fresh(), language)
        if login:
            raise PageError(503, "no_secret")
        return visit
    session = s.sessions.read(request)
    visit = Visit(s, request, session, language)
    if not login:
        return visit
    found = users.find_user(s.uow(), session.user) if session.user else None
    if found is None:
        target = quote(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        raise LoginNeeded(target)
    return Visit(s, request, session, language, found)


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded body of a form, at most :data:`MAX_FORM` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise PageError(413, "too_large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


async def _checked_form(visit: Visit) -> dict[str, str]:
    form = await _form(visit.request)
    if not check_csrf(visit.session, form):
        raise PageError(403, "csrf")
    return form


def _today(s: Site) -> date:
    """The workspace's day at the site's clock (the one rule the CLI uses too)."""
    if s.workspace is not None:
        return s.workspace.today(s.clock())
    return config.today_in("UTC", s.clock())


def _safe_next(target: str) -> str:
    """A local path to go to after logging in (never another site: no ``//host``, no
    backslash, no control character or space a browser would drop to make one)."""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and len(target) <= 2000
        and all(" " < ch < "\x7f" and ch != "\\" for ch in target)
    ):
        return target
    return "/worklist"


# Logging in and out ----------------------------------------------------------------------------


class Attempts:
    """Failed logins per client address in this process, over a sliding window: beyond
    ``limit`` the address gets 429 without a password being checked, whatever the username
    (the per-user limit of :func:`arrears.services.users.authenticate` does not see a guess
    spread over many usernames)."""

    def __init__(self, limit: int = 30, window: float = 15 * 60) -> None:
        self.limit, self.window = limit, window
        self._failed: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        found = self._failed.setdefault(address, deque())
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def blocked_for(self, address: str) -> int:
        """Seconds before ``address`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            found = self._recent(address, now)
            if len(found) < self.limit:
                return 0
            return max(1, math.ceil(found[0] + self.window - now))

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(address, now).append(now)
            if len(self._failed) > 100_000:  # a flood of addresses: forget the quiet ones
                for key in [k for k, v in self._failed.items() if v[-1] <= now - self.window]:
                    del self._failed[key]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/worklist", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/worklist") -> HTMLResponse:
    visit = _visit(request, login=False)
    if visit.site.sessions is None:
        return visit.render("error.html", 503, message=visit.text("no_secret"))
    return visit.render("login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    visit = _visit(request, login=False)
    if visit.site.sessions is None:
        return visit.render("error.html", 503, message=visit.text("no_secret"))
    form = await _checked_form(visit)
    username, target = form.get("username", ""), _safe_next(form.get("next", "/worklist"))
    attempts: Attempts = request.app.state.login_attempts
    wait = attempts.blocked_for(_address(request))
    if wait:
        return _too_many(visit, wait, target, username)
    try:
        user = await run_in_threadpool(
            users.authenticate,
            visit.site.uow(),
            username=username,
            password=form.get("password", ""),
            at=visit.site.clock(),
        )
    except users.TooManyAttempts as exc:
        return _too_many(visit, exc.retry_after, target, username)
    except users.WrongCredentials:
        attempts.failed(_address(request))
        return visit.render(
            "login.html", 401, next=target, username=username, error=visit.text("wrong")
        )
    done = RedirectResponse(target, status_code=303)
    visit.site.sessions.write(done, fresh(user.username))  # a new session, a new token
    return done


def _too_many(visit: Visit, wait: int, target: str, username: str) -> HTMLResponse:
    response = visit.render(
        "login.html", 429, next=target, username=username,
        error=visit.text("too_many", minutes=(wait + 59) // 60),
    )  # fmt: skip
    response.headers["Retry-After"] = str(wait)
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    visit = _visit(request, login=False)
    await _checked_form(visit)
    response = RedirectResponse("/login", status_code=303)
    if visit.site.sessions is not None:
        visit.site.sessions.write(response, fresh())
    return response


# The worklist ----------------------------------------------------------------------------------


@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request) -> HTMLResponse:
    visit = _visit(request)
    s, user = visit.site, visit.user
    assert user is not None
    mine = user.username if user.role is Role.COLLECTOR else None
    frame = _call(
        visit, collection.worklist, s.uow(), visit.actor, portfolio=s.portfolio, collector=mine
    )
    today = _today(s)
    days = _call(
        visit, accounts.days_past_due, s.uow(), visit.actor, portfolio=s.portfolio,
        debtors=sorted(set(frame["debtor"].to_list())), as_of=today,
    )  # fmt: skip
    rows = []
    for task in frame.iter_rows(named=True):
        currency = task["currency"]
        reason = [visit.text("call_step", step=task["step_id"] or "-", stage=task["stage"] or "-")]
        if (task["flags"] or "").strip():
            reason.append(visit.text("flags", flags=", ".join(task["flags"].split())))
        if task["not_before"]:
            reason.append(visit.text("not_before", time=task["not_before"][:16]))
        rows.append(
            {
                "priority": round(task["score"]),
                "debtor": task["debtor"],
                "name": task["name"],
                "stage": task["stage"] or "",
                "days": days.get((task["debtor"], currency)) if currency else None,
                "overdue": ""
                if task["overdue_minor"] is None or currency is None
                else i18n.amount(
                    from_minor(int(task["overdue_minor"]), currency), currency, visit.language
                ),
                "reason": "; ".join(reason),
            }
        )
    return visit.render("worklist.html", rows=rows, today=today)


# Changing one's password ----------------------------------------------------------------------


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, changed: str = "") -> HTMLResponse:
    visit = _visit(request)
    done = visit.text("password_changed") if changed else None
    return visit.render("password.html", done=done, problems=[])


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    """The logged-in user changes their password (the current one first)."""
    visit = _visit(request)
    form = await _checked_form(visit)
    assert visit.user is not None
    new = form.get("new", "")
    if new != form.get("again", ""):
        problems = [{"where": "again", "what": visit.text("password_mismatch")}]
        return visit.render("password.html", 422, done=None, problems=problems)
    try:
        await run_in_threadpool(
            users.change_password, visit.site.uow(), visit.actor,
            username=visit.user.username, current=form.get("current", ""), new=new,
            at=visit.site.clock(),
        )  # fmt: skip
    except users.TooManyAttempts as exc:
        return _too_many_password(visit, exc.retry_after)
    except users.WrongCredentials:
        problems = [{"where": "current", "what": visit.text("wrong")}]
        return visit.render("password.html", 401, done=None, problems=problems)
    except ProblemsFound as exc:
        problems = [{"where": "new", "what": p.message} for p in exc.problems]
        return visit.render("password.html", 422, done=None, problems=problems)
    return RedirectResponse("/password?changed=1", status_code=303)


def _too_many_password(visit: Visit, wait: int) -> HTMLResponse:
    problems = [{"where": "current", "what": visit.text("too_many", minutes=(wait + 59) // 60)}]
    response = visit.render("password.html", 429, done=None, problems=problems)
    response.headers["Retry-After"] = str(wait)
    return response


def _call(visit: Visit, use_case: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a use case (of the services) for a page: its refusals become error pages."""
    try:
        return use_case(*args, **kwargs)
    except NotAllowed as exc:
        raise PageError(403, "forbidden") from exc
    except NotFound as exc:
        raise PageError(404, str(exc)) from exc
    except ArrearsError as exc:
        raise PageError(exc.http_status, str(exc)) from exc


# Wiring ----------------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """The pages, their static files and their error pages on ``app``."""
    app.state.login_attempts = Attempts()
    app.mount("/static", StaticFiles(packages=[("arrears.web", "static")]), name="static")
    app.include_router(router)
    from arrears.web import account, debtor_page  # noqa: PLC0415 (they import this module)

    app.include_router(account.router)
    app.include_router(debtor_page.router)
    app.state.debtor_limiter = debtor_page.Limiter()

    @app.exception_handler(LoginNeeded)
    async def login_needed(request: Request, exc: LoginNeeded) -> Response:
        target = "/login?" + urlencode({"next": _safe_next(exc.target)})
        return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        visit = _visit(request, login=False)
        with contextlib.suppress(LoginNeeded, PageError):
            visit = _visit(request)
        return visit.render("error.html", exc.status, message=visit.text(exc.message))


__all__ = ["install"]
