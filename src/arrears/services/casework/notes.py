"""A collector's note on an account (docs/web.md): a line of text in the activity log,
``note.added`` naming who wrote it. Notes are never edited or removed: a correction is another
note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from arrears.domain.activity import Activity
from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import NotFound
from arrears.domain.problems import Problem, ProblemsFound, printable
from arrears.services.casework import accounts
from arrears.services.uow import SqlUnitOfWork
from arrears.store.activity_log import Entry, record
from arrears.store.portfolios import portfolio_id

MAX_NOTE = 2000


class NoteAdded(Activity):
    kind: ClassVar[str] = "note.added"


@dataclass(frozen=True, slots=True)
class Noted:
    debtor: str
    text: str


def add_note(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, debtor: str, text: str, at: datetime
) -> Noted:
    """Add ``text`` to ``debtor``'s account as a ``note.added`` record naming ``actor``."""
    actor.require(Permission.WORK, "add a note")
    said = text.strip()
    problems = []
    if not said:
        problems.append(Problem(f"note on {debtor}", None, "text", "write the note"))
    elif len(said) > MAX_NOTE:
        problems.append(
            Problem(f"note on {debtor}", None, "text", f"at most {MAX_NOTE} characters")
        )
    if problems:
        raise ProblemsFound(problems)
    with uow:
        pid = portfolio_id(uow.conn, portfolio)
        owner = accounts.debtor_row_id(uow.conn, portfolio, debtor)
        if owner is None:
            raise NotFound(printable(f"unknown debtor {debtor!r}"))
        record(
            uow.conn,
            [
                Entry(
                    NoteAdded(
                        occurred_at=at,
                        actor=actor.name,
                        portfolio=portfolio,
                        debtor=debtor,
                        subject_kind="debtor",
                        subject_id=debtor,
                        payload={"note": said},
                    ),
                    pid,
                    owner,
                )
            ],
        )
    return Noted(debtor, said)
