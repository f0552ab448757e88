"""The users of the web application: add one, list them, and log one in (docs/web.md).

A user has a username, a role (:class:`arrears.domain.actor.Role` minus ``system`` and
``debtor``, which are not people who log in) and a password kept only as its argon2 hash. What a
logged-in user does is done by :func:`actor_of` of it: ``user:<name>`` with the user's role,
which the activity log records.

Logging in is rate-limited per user, in the store (so several server processes share the count):
after :data:`MAX_FAILED` consecutive wrong passwords the user cannot log in for
:data:`LOCKOUT`, counted from the last failure, whatever the password; a good password after
that resets the count. An unknown username costs the same hashing time as a known one and gets
the same answer, so answers do not tell which usernames exist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission, Role
from arrears.domain.errors import Conflict, NotAllowed, NotFound
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.schema import user as user_table
from arrears.store.schema import user_queue

#: The roles a person logs in with.
ROLES: tuple[Role, ...] = (Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.AUDITOR)
#: Consecutive wrong passwords before logging in is refused for :data:`LOCKOUT`.
MAX_FAILED = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

_hasher = PasswordHasher()


#: Verified against when the username is unknown, so that it takes as long as a known one.
@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown (the same time either way); made on
    first use, not at import (argon2 costs ~0.1 s, which every command would pay)."""
    return _hasher.hash("not a password of anyone")


class UserAdded(Activity):
    kind: ClassVar[str] = "user.added"


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    created_at: datetime
    created_by: str
    queues: tuple[str, ...] = ()  # the task queues they work, by name


class QueuesSet(Activity):
    kind: ClassVar[str] = "user.queues_set"


#: A queue's name, as a policy's call_task step names it.
QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _queue_problems(queues: Sequence[str]) -> list[Problem]:
    return [
        Problem(
            "queue", None, None,
            f"{q!r} is not a queue: 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
        )
        for q in queues
        if not QUEUE.fullmatch(q)
    ]  # fmt: skip


def _write_queues(conn: Connection, user_id: int, queues: Sequence[str]) -> None:
    conn.execute(delete(user_queue).where(user_queue.c.user_id == user_id))
    if queues:
        conn.execute(
            insert(user_queue), [{"user_id": user_id, "queue": q} for q in sorted(set(queues))]
        )


def _queues_of(conn: Connection) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for user_id, queue in conn.execute(
        select(user_queue.c.user_id, user_queue.c.queue).order_by(user_queue.c.queue)
    ).all():
        found.setdefault(int(user_id), []).append(str(queue))
    return {k: tuple(v) for k, v in found.items()}


class TooManyAttempts(NotAllowed):
    """Logging in as this user is refused for ``retry_after`` seconds (too many wrong
    passwords); the web answers 429."""

    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WrongCredentials(NotAllowed):
    """The username or the password is wrong (which one is not said); the web answers 401."""

    http_status = 401


def actor_of(user: User) -> Actor:
    """Who a logged-in user acts as: ``user:<name>`` with the user's role."""
    return Actor(f"user:{user.username}", user.role)


def _problems(username: str, role: str, password: str) -> list[Problem]:
    found = []
    if not USERNAME.fullmatch(username):
        found.append(
            Problem(
                "username", None, None,
                f"{username!r} is not a username: 1 to 64 lowercase letters, digits, '.', '_' "
                "or '-', starting with a letter or digit",
            )
        )  # fmt: skip
    if role not in ROLES:
        found.append(
            Problem("role", None, None, f"{role!r}: one of {', '.join(r.value for r in ROLES)}")
        )
    if len(password) < MIN_PASSWORD:
        found.append(Problem("password", None, None, f"at least {MIN_PASSWORD} characters"))
    elif len(password) > MAX_PASSWORD:
        found.append(Problem("password", None, None, f"at most {MAX_PASSWORD} characters"))
    return found


def add_user(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    username: str,
    role: str,
    password: str,
    at: datetime,
    queues: Sequence[str] = (),
) -> User:
    """Add a user who logs in with ``password`` (stored as its argon2 hash only) and works the
    task ``queues``; every problem of the request at once; :class:`Conflict` when the username
    is taken."""
    actor.require(Permission.ADMINISTER, "add users")
    username = username.strip()
    queues = tuple(sorted({q.strip() for q in queues}))
    problems = _problems(username, role, password) + _queue_problems(queues)
    if problems:
        raise ProblemsFound(problems)
    hashed = _hasher.hash(password)
    with uow:
        conn = uow.conn
        taken = conn.execute(
            select(user_table.c.id).where(user_table.c.username == username)
        ).first()
        if taken is not None:
            raise Conflict(f"user {username!r} exists already")
        new = conn.execute(
            insert(user_table).values(
                username=username,
                role=role,
                password_hash=hashed,
                failed_logins=0,
                created_by=actor.name,
                created_at=at,
            )
        ).inserted_primary_key
        assert new is not None
        _write_queues(conn, int(new[0]), queues)
        record(
            conn,
            [
                Entry(
                    UserAdded(
                        occurred_at=at,
                        actor=actor.name,
                        portfolio="",
                        debtor=None,
                        subject_kind="user",
                        subject_id=username,
                        payload={"role": role, "queues": list(queues)},
                        idempotency_key=f"user:{username}:added",
                    ),
                    portfolio_id=None,
                )
            ],
        )
    return User(username, Role(role), at, actor.name, queues)


def list_users(uow: SqlUnitOfWork, actor: Actor) -> list[User]:
    """Every user, by username."""
    actor.require(Permission.ADMINISTER, "list users")
    with uow:
        rows = uow.conn.execute(select(user_table).order_by(user_table.c.username)).all()
        queues = _queues_of(uow.conn)
    return [_user(row._mapping, queues.get(int(row._mapping["id"]), ())) for row in rows]


def set_queues(
    uow: SqlUnitOfWork, actor: Actor, *, username: str, queues: Sequence[str], at: datetime
) -> User:
    """``username`` works exactly the task ``queues`` from now on (none: no queue); the run
    gives them their queues' waiting tasks, and takes back the ones it gave them from queues
    they left. :class:`NotFound` for an unknown username."""
    actor.require(Permission.ADMINISTER, "set a user's queues")
    username = username.strip()
    wanted = tuple(sorted({q.strip() for q in queues}))
    problems = _queue_problems(wanted)
    if problems:
        raise ProblemsFound(problems)
    with uow:
        conn = uow.conn
        row = conn.execute(select(user_table).where(user_table.c.username == username)).first()
        if row is None:
            raise NotFound(printable(f"no user {username!r}"))
        user_id = int(row._mapping["id"])
        before = _queues_of(conn).get(user_id, ())
        if before != wanted:
            _write_queues(conn, user_id, wanted)
            _log(
                conn,
                QueuesSet(
                    occurred_at=at, actor=actor.name, portfolio="", debtor=None,
                    subject_kind="user", subject_id=username,
                    payload={"from": list(before), "to": list(wanted)},
                ),
            )  # fmt: skip
    return _user(row._mapping, wanted)


def find_user(uow: SqlUnitOfWork, username: str) -> User | None:
    """The user named ``username``, or ``None``: what a session's user is now (a removed user or
    a changed role takes effect on the next request)."""
    with uow:
        row = uow.conn.execute(select(user_table).where(user_table.c.username == username)).first()
    return None if row is None else _user(row._mapping)


def authenticate(uow: SqlUnitOfWork, *, username: str, password: str, at: datetime) -> User:
    """The user whose username and password these are; :class:`WrongCredentials` otherwise, and
    :class:`TooManyAttempts` after :data:`MAX_FAILED` consecutive failures (for
    :data:`LOCKOUT` after the last one, whatever the password).

    Not an actor's use case: it is what makes a person an actor."""
    username = username.strip()
    wrong = WrongCredentials("wrong username or password")
    if not username or len(username) > 64 or len(password) > MAX_PASSWORD:
        _verify(_dummy_hash(), password[:MAX_PASSWORD])
        raise wrong
    with uow:
        conn = uow.conn
        row = conn.execute(select(user_table).where(user_table.c.username == username)).first()
        if row is None:
            _verify(_dummy_hash(), password)
            raise wrong
        found = row._mapping
        last = found["last_failed_at"]
        if last is not None and last.tzinfo is None:  # SQLite gives naive UTC back
            last = last.replace(tzinfo=at.tzinfo)
        if found["failed_logins"] >= MAX_FAILED and last is not None and at < last + LOCKOUT:
            wait = max(1, math.ceil((last + LOCKOUT - at).total_seconds()))
            raise TooManyAttempts(
                printable(
                    f"too many wrong passwords for {username!r}: try again in "
                    f"{(wait + 59) // 60} minutes"
                ),
                retry_after=wait,
            )
        where = user_table.c.id == found["id"]
        if not _verify(found["password_hash"], password):
            conn.execute(
                update(user_table)
                .where(where)
                .values(failed_logins=user_table.c.failed_logins + 1, last_failed_at=at)
            )
        else:
            if found["failed_logins"]:
                conn.execute(
                    update(user_table).where(where).values(failed_logins=0, last_failed_at=None)
                )
            return _user(found)
    raise wrong  # after the failure is committed


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _user(m: RowMapping, queues: tuple[str, ...] = ()) -> User:
    return User(str(m["username"]), Role(m["role"]), m["created_at"], str(m["created_by"]), queues)


class UserRemoved(Activity):
    kind: ClassVar[str] = "user.removed"


class PasswordChanged(Activity):
    kind: ClassVar[str] = "user.password_changed"


def _log(conn: Connection, activity: Activity) -> None:
    record(conn, [Entry(activity, portfolio_id=None)])


def remove_user(uow: SqlUnitOfWork, actor: Actor, *, username: str, at: datetime) -> User:
    """Remove a user: their session stops working at once (the user is read on every request)
    and they cannot log in; what they did stays in the activity log under their name.
    :class:`NotFound` for an unknown username."""
    actor.require(Permission.ADMINISTER, "remove users")
    username = username.strip()
    with uow:
        conn = uow.conn
        row = conn.execute(select(user_table).where(user_table.c.username == username)).first()
        if row is None:
            raise NotFound(printable(f"no user {username!r}"))
        removed = _user(row._mapping)
        conn.execute(delete(user_queue).where(user_queue.c.user_id == row._mapping["id"]))
        conn.execute(delete(user_table).where(user_table.c.id == row._mapping["id"]))
        _log(
            conn,
            UserRemoved(
                occurred_at=at, actor=actor.name, portfolio="", debtor=None, subject_kind="user",
                subject_id=username, payload={"role": removed.role.value},
            ),
        )  # fmt: skip
    return removed


def change_password(
    uow: SqlUnitOfWork, actor: Actor, *, username: str, current: str, new: str, at: datetime
) -> None:
    """``username`` changes their own password: the current one must match (a wrong one counts
    as a failed login, :class:`WrongCredentials`), the new one must be usable
    (:class:`ProblemsFound`). Only the user themself (``user:<name>``) may."""
    if actor.name != f"user:{username}":
        raise NotAllowed(f"{actor.name} may not change the password of {username!r}")
    problems = [p for p in _problems(username, actor.role.value, new) if p.source == "password"]
    if current == new:
        problems.append(Problem("password", None, None, "the new password is the current one"))
    if problems:
        raise ProblemsFound(problems)
    authenticate(uow, username=username, password=current, at=at)
    hashed = _hasher.hash(new)
    with uow:
        uow.conn.execute(
            update(user_table).where(user_table.c.username == username).values(password_hash=hashed)
        )
        _log(
            uow.conn,
            PasswordChanged(
                occurred_at=at, actor=actor.name, portfolio="", debtor=None, subject_kind="user",
                subject_id=username,
            ),
        )  # fmt: skip
