"""Task queues: which collectors work which queue, and the daily run's assignment of each
queue's open tasks to them (issue 15, the worklist as collectors need it).

A policy's ``call_task`` step names its ``queue``; a collector belongs to queues
(``arrears user add NAME --role collector --queue Q``, ``arrears user queues NAME Q...``,
:func:`arrears.services.users.set_queues`). Each ``arrears run`` gives the open tasks of a queue
that nobody assigned to its collectors, the best task first to the least loaded collector (open
tasks assigned to them, then name): the same store and day always give the same assignment. A
task assigned (or unassigned) by a person is never reassigned; ``arrears worklist --mine`` shows
one's own.
"""

from __future__ import annotations

from datetime import date, datetime

from arrears.domain.actor import Actor, Permission
from arrears.domain.errors import NotFound
from arrears.domain.problems import ProblemsFound
from arrears.services.uow import SqlUnitOfWork
from arrears.store.cycle.collection import assign_queues


def assign_queue_tasks(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, on: date, at: datetime
) -> int:
    """Assign every queue's waiting open tasks of ``portfolio`` to the queue's collectors as of
    ``on``, one ``task.assigned`` each naming ``actor``; the number assigned."""
    actor.require(Permission.WORK, "assign the queues' tasks")
    with uow:
        try:
            return assign_queues(uow.conn, portfolio=portfolio, on=on, actor=actor.name, at=at)
        except ProblemsFound as exc:  # an unknown portfolio
            raise NotFound(str(exc)) from exc
