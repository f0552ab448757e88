"""API tokens of machine clients (docs/web.md, "The REST API"): add one, list them, revoke one,
and find who a presented token is.

A token is ``arr_`` and 43 URL-safe characters (32 random bytes); only its SHA-256 is stored
(a random secret of that length needs no slow hash: nothing can be guessed from the digest), so
the token is shown once, when it is added. A client sends it as ``Authorization: Bearer
<token>`` and acts as ``token:<name>`` with the token's role (:func:`authenticate_token`), which
the activity log records; an unknown, expired or revoked token is :class:`WrongToken` (401).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import RowMapping, insert, select, update

from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.errors import Conflict, NotAllowed, NotFound
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.uow import SqlUnitOfWork
from arrears.services.users import ROLES
from arrears.store.activity_log import Entry, record
from arrears.store.schema import api_token

PREFIX = "arr_"
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class TokenAdded(Activity):
    kind: ClassVar[str] = "token.added"


class TokenRevoked(Activity):
    kind: ClassVar[str] = "token.revoked"


class WrongToken(NotAllowed):
    """No valid token was presented (missing, unknown, expired or revoked); the web answers
    401 and does not say which."""

    http_status = 401


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    role: Role
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, at: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``at``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and at >= self.expires_at:
            return "expired"
        return "active"


def actor_of(token: Token) -> Actor:
    """Who a token's client acts as: ``token:<name>`` with the token's role."""
    return Actor(f"token:{token.name}", token.role)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def problems(name: str, role: str, expires_at: datetime | None, at: datetime) -> list[Problem]:
    """Every problem of a request to add a token (none: it can be added)."""
    name = name.strip()
    found = []
    if not NAME.fullmatch(name):
        found.append(
            Problem(
                "name", None, None,
                f"{name!r} is not a token name: 1 to 64 lowercase letters, digits, '.', '_' or "
                "'-', starting with a letter or digit",
            )
        )  # fmt: skip
    if role not in ROLES:
        found.append(
            Problem("role", None, None, f"{role!r}: one of {', '.join(r.value for r in ROLES)}")
        )
    if expires_at is not None and expires_at <= at:
        found.append(
            Problem("until", None, None, f"{expires_at:%Y-%m-%d %H:%M} UTC has passed already")
        )
    return [Problem(p.source, None, None, printable(p.message)) for p in found]


def add_token(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    name: str,
    role: str,
    at: datetime,
    expires_at: datetime | None = None,
) -> tuple[Token, str]:
    """Add a token named ``name`` with ``role``, valid until ``expires_at`` (``None``: until
    revoked); the token itself is returned here and never again (only its SHA-256 is kept).
    Every problem at once; :class:`Conflict` when the name is taken."""
    actor.require(Permission.ADMINISTER, "add API tokens")
    name = name.strip()
    found = problems(name, role, expires_at, at)
    if found:
        raise ProblemsFound(found)
    secret = PREFIX + secrets.token_urlsafe(32)
    with uow:
        conn = uow.conn
        taken = conn.execute(select(api_token.c.id).where(api_token.c.name == name)).first()
        if taken is not None:
            raise Conflict(f"token {name!r} exists already (revoke it, or choose another name)")
        conn.execute(
            insert(api_token).values(
                name=name,
                role=role,
                token_hash=digest(secret),
                expires_at=expires_at,
                created_by=actor.name,
                created_at=at,
            )
        )
        payload: dict[str, str | None] = {
            "role": role,
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        }
        record(conn, [_entry(TokenAdded, actor, name, payload, at, "added")])
    return Token(name, Role(role), at, actor.name, expires_at, None), secret


def list_tokens(uow: SqlUnitOfWork, actor: Actor) -> list[Token]:
    """Every token (revoked ones too), by name; never the tokens themselves."""
    actor.require(Permission.ADMINISTER, "list API tokens")
    with uow:
        rows = uow.conn.execute(select(api_token).order_by(api_token.c.name)).all()
    return [_token(row._mapping) for row in rows]


def revoke_token(uow: SqlUnitOfWork, actor: Actor, *, name: str, at: datetime) -> bool:
    """Revoke the token named ``name`` (refused from the next request on); ``False`` when it
    was revoked before (nothing changed); :class:`NotFound` for an unknown name."""
    actor.require(Permission.ADMINISTER, "revoke API tokens")
    name = name.strip()
    with uow:
        conn = uow.conn
        row = conn.execute(select(api_token).where(api_token.c.name == name)).first()
        if row is None:
            raise NotFound(printable(f"no token {name!r} (arrears token list shows them)"))
        if row._mapping["revoked_at"] is not None:
            return False
        conn.execute(update(api_token).where(api_token.c.name == name).values(revoked_at=at))
        record(conn, [_entry(TokenRevoked, actor, name, {}, at, "revoked")])
    return True


def authenticate_token(uow: SqlUnitOfWork, secret: str, *, at: datetime) -> Actor:
    """Who presents ``secret``: ``token:<name>`` with its role; :class:`WrongToken` for a token
    that is unknown, expired or revoked (which one is not said).

    Not an actor's use case: it is what makes a client an actor."""
    wrong = WrongToken("no valid API token: send Authorization: Bearer <token>")
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise wrong
    with uow:
        row = uow.conn.execute(
            select(api_token).where(api_token.c.token_hash == digest(secret))
        ).first()
    if row is None:
        raise wrong
    token = _token(row._mapping)
    if token.state(at) != "active":
        raise wrong
    return actor_of(token)


def _entry(
    kind: type[Activity],
    actor: Actor,
    name: str,
    payload: dict[str, str | None],
    at: datetime,
    what: str,
) -> Entry:
    return Entry(
        kind(
            occurred_at=at,
            actor=actor.name,
            portfolio="",
            debtor=None,
            subject_kind="api_token",
            subject_id=name,
            payload=payload,
            idempotency_key=f"token:{name}:{what}",
        ),
        portfolio_id=None,
    )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive UTC back."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _token(m: RowMapping) -> Token:
    created = _aware(m["created_at"])
    assert created is not None
    return Token(
        str(m["name"]),
        Role(m["role"]),
        created,
        str(m["created_by"]),
        _aware(m["expires_at"]),
        _aware(m["revoked_at"]),
    )
