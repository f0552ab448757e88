"""Who does something: every use case takes an :class:`Actor`, checks its role, and names it in
the activity record it writes.

Roles (the web issue's): ``admin`` and ``manager`` may approve (write-offs, stages, plans above
limits), ``collector`` works accounts, ``auditor`` only reads, ``system`` is a scheduled job (the
cycle, the dispatcher), ``debtor`` is a debtor acting on their own account through a signed link.
The command line acts as ``admin``: whoever runs it owns the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from arrears.domain.errors import NotAllowed


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    COLLECTOR = "collector"
    AUDITOR = "auditor"
    SYSTEM = "system"
    DEBTOR = "debtor"


class Permission(StrEnum):
    READ = "read"  # see accounts, reports, the log
    WORK = "work"  # record payments, promises, holds, contacts; close tasks
    APPROVE = "approve"  # write-offs, stage approvals, agreements above limits
    ADMINISTER = "administer"  # workspace, users, imports, the cycle, sending
    SELF_SERVICE = "self-service"  # a debtor on their own account (opt out, promise, dispute)


ALLOWED: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission) - {Permission.SELF_SERVICE},
    Role.MANAGER: frozenset({Permission.READ, Permission.WORK, Permission.APPROVE}),
    Role.COLLECTOR: frozenset({Permission.READ, Permission.WORK}),
    Role.AUDITOR: frozenset({Permission.READ}),
    Role.SYSTEM: frozenset({Permission.READ, Permission.WORK, Permission.ADMINISTER}),
    Role.DEBTOR: frozenset({Permission.SELF_SERVICE}),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """``name`` is what the activity log records: ``cli:maria``, ``user:maria``,
    ``system:cycle``, ``debtor:D00042``."""

    name: str
    role: Role

    def __str__(self) -> str:
        return self.name

    def may(self, permission: Permission) -> bool:
        return permission in ALLOWED[self.role]

    def require(self, permission: Permission, doing: str) -> None:
        """Raise :class:`NotAllowed` unless the actor's role allows ``permission``."""
        if not self.may(permission):
            raise NotAllowed(f"{self.name} ({self.role}) may not {doing}")


def system(job: str) -> Actor:
    """A scheduled job: ``system("cycle")`` is ``system:cycle``."""
    return Actor(f"system:{job}", Role.SYSTEM)


def debtor(external_id: str) -> Actor:
    """A debtor acting on their own account (a signed link, a reply)."""
    return Actor(f"debtor:{external_id}", Role.DEBTOR)
