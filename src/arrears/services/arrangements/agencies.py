"""Agency placements as a workflow: agencies and their terms, placing a debtor's balance with
one (by hand, or the cycle's ``place_with_agency`` step), the placement file the agency works
from, recalling it (by hand, or after N days without payment), and the agency's remittance file
imported, posted and reconciled.

Each function is one use case: the actor's role checked, one transaction, its activity records
naming the actor (:mod:`arrears.domain.agencies` holds the terms, the commission and the record
kinds; :mod:`arrears.store.agencies` the SQL). Payments are posted by the ledger's own use case
(:func:`arrears.store.ledger.cases.post_payment`), as an import would, under the external id
``AGENCY:REFERENCE`` so that a file imported twice posts nothing twice.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import RowMapping

from arrears.domain.actor import Actor, Permission
from arrears.domain.agencies import (
    AgencyAdded,
    CasePlaced,
    CaseRecalled,
    RemittanceImported,
    Terms,
    commission_minor,
    terms_from_json,
)
from arrears.domain.allocation import AllocationRule
from arrears.domain.errors import NotFound
from arrears.domain.ledger import Payment
from arrears.domain.money import Money, MoneyError, is_currency, parse_decimal
from arrears.domain.problems import Problem, ProblemsFound
from arrears.io.export import escaped
from arrears.services.uow import SqlUnitOfWork
from arrears.store import agencies as store
from arrears.store.activity_log import Entry, record
from arrears.store.ledger import cases
from arrears.store.ledger.balances import find_debtor, portfolio_of
from arrears.store.ledger.write_offs import note_recovery

__all__ = [
    "AgencyView",
    "PlacementView",
    "Remittance",
    "RemittanceLine",
    "add_agency",
    "export_placements",
    "import_remittance",
    "list_agencies",
    "list_placements",
    "place",
    "read_remittance",
    "recall",
    "recall_by_rule",
]

CODE = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")
#: The placement file's columns, in order.
FILE_COLUMNS = (
    "placement", "debtor", "name", "email", "phone", "postal", "invoice", "instalment",
    "due_date", "days_past_due", "currency", "amount", "open_amount",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AgencyView:
    code: str
    name: str
    terms: Terms
    recall_after_days: int | None
    placed: int
    changed: bool = True


@dataclass(frozen=True, slots=True)
class PlacementView:
    """A placement; ``collected`` and ``commission`` from the remittances imported so far."""

    id: int
    agency: str
    debtor: str
    currency: str
    placed_on: date
    placed_by: str
    amount: Money
    days_past_due: int
    stage: str | None
    commission_percent: Decimal
    recalled_on: date | None
    recall_reason: str | None
    collected: Money
    commission: Money
    changed: bool = True


@dataclass(frozen=True, slots=True)
class RemittanceLine:
    """One row of an agency's remittance file (``row``: its line number, 2 for the first)."""

    row: int
    placement: str
    debtor: str
    amount: str
    date: str
    reference: str


@dataclass(frozen=True, slots=True)
class Remittance:
    """A remittance file imported: rows posted, rows already imported, collected and
    commission owed per currency."""

    posted: int
    already: int
    collected: dict[str, Money]
    commission: dict[str, Money]
    recovered: dict[str, Money]


def _view(row: RowMapping, *, changed: bool = True) -> PlacementView:
    currency = str(row["currency"])
    return PlacementView(
        int(row["id"]),
        str(row["agency"]),
        str(row["debtor"]),
        currency,
        row["placed_on"],
        str(row["placed_by"]),
        Money.from_minor(int(row["amount_minor"]), currency),
        int(row["days_past_due"]),
        row["stage"],
        Decimal(str(row["commission_percent"])),
        row["recalled_on"],
        row["recall_reason"],
        Money.from_minor(int(row.get("collected") or 0), currency),
        Money.from_minor(int(row.get("commission") or 0), currency),
        changed,
    )


def _agency_view(row: RowMapping, *, changed: bool = True) -> AgencyView:
    return AgencyView(
        str(row["code"]),
        str(row["name"]),
        terms_from_json(dict(row["terms"])),
        row["recall_after_days"],
        int(row.get("placed") or 0),
        changed,
    )


def _agency(uow: SqlUnitOfWork, code: str) -> RowMapping:
    found = store.find_agency(uow.conn, code)
    if found is None:
        raise NotFound(f"agency {code!r}: there is no such agency (arrears agency add)")
    return found


# Agencies --------------------------------------------------------------------------------------


def add_agency(
    uow: SqlUnitOfWork,
    actor: Actor,
    code: str,
    *,
    name: str,
    terms: Terms,
    recall_after_days: int | None,
    at: datetime,
) -> AgencyView:
    """Add an agency with its terms; the same agency again changes nothing."""
    actor.require(Permission.ADMINISTER, "add an agency")
    source = f"agency {code}"
    problems = []
    if not CODE.match(code):
        problems.append("the code is lower-case letters, digits, - or _ (the policy names it)")
    if not name.strip():
        problems.append("give its name (--name)")
    if recall_after_days is not None and not 1 <= recall_after_days <= 3650:
        problems.append("--recall-after is 1 to 3650 days")
    if problems:
        raise ProblemsFound.of(source, *problems)
    with uow:
        existing = store.find_agency(uow.conn, code)
        values = {"name": name, "terms": terms.as_json(), "recall_after_days": recall_after_days}
        if existing is not None:
            same = {k: existing[k] for k in values} == values
            if not same:
                raise ProblemsFound.of(
                    source, "it exists with other terms; agencies are not changed"
                )
            return _agency_view(existing, changed=False)
        store.add_agency(
            uow.conn, {"code": code, **values, "created_by": actor.name, "created_at": at}
        )
        entry = AgencyAdded(
            occurred_at=at,
            actor=actor.name,
            portfolio="*",
            debtor=None,
            subject_kind="agency",
            subject_id=code,
            payload={**values, "terms_text": terms.describe()},
            idempotency_key=f"agency.added:{code}",
        )
        record(uow.conn, [Entry(entry, None, None)])
        return _agency_view(_agency(uow, code))


def list_agencies(uow: SqlUnitOfWork, actor: Actor) -> list[AgencyView]:
    actor.require(Permission.READ, "see the agencies")
    with uow:
        return [_agency_view(row) for row in store.agencies(uow.conn)]


# Placing and recalling -------------------------------------------------------------------------


def _place(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    pid: int,
    portfolio: str,
    owner: RowMapping,
    currency: str,
    agency_row: RowMapping,
    on: date,
    at: datetime,
    how: str,
) -> PlacementView:
    conn = uow.conn
    source = f"placement of {owner['external_id']}"
    active = store.active_placement(conn, int(owner["id"]), currency)
    if active is not None:
        if active["agency_id"] == agency_row["id"]:
            return _view(active, changed=False)
        raise ProblemsFound.of(source, f"it is placed with {active['agency']}: recall it first")
    open_minor, days = store.position(conn, int(owner["id"]), currency, on)
    if open_minor == 0:
        raise ProblemsFound.of(source, f"{owner['external_id']} owes nothing in {currency}")
    case = store.open_case(conn, int(owner["id"]), currency)
    stage = None if case is None else str(case["stage"])
    terms = terms_from_json(dict(agency_row["terms"]))
    rate = terms.rate_for(stage=stage, days_past_due=days)
    credit_before = store.credit_status(conn, int(owner["id"]))
    code = str(agency_row["code"])
    key = f"agency.placed:{portfolio}:{owner['external_id']}:{currency}:{code}:{on.isoformat()}"
    placement_id = store.insert_placement(
        conn,
        {
            "key": key,
            "agency_id": agency_row["id"],
            "portfolio_id": pid,
            "debtor_id": owner["id"],
            "currency": currency,
            "case_id": None if case is None else case["id"],
            "placed_on": on,
            "placed_by": actor.name,
            "amount_minor": open_minor,
            "days_past_due": days,
            "stage": stage,
            "commission_percent": str(rate),
            "credit_before": credit_before,
            "created_at": at,
        },
    )
    store.label_case(conn, None if case is None else int(case["id"]), code, on)
    store.set_credit(conn, int(owner["id"]), before="active", after="on_hold", at=at)
    amount = Money.from_minor(open_minor, currency)
    entry = CasePlaced(
        occurred_at=at,
        actor=actor.name,
        portfolio=portfolio,
        debtor=str(owner["external_id"]),
        subject_kind="placement",
        subject_id=str(placement_id),
        payload={
            "placement": placement_id,
            "agency": code,
            "currency": currency,
            "amount": str(amount.amount),
            "days_past_due": days,
            "stage": stage,
            "commission_percent": str(rate),
            "credit": {
                "before": credit_before,
                "after": store.credit_status(conn, int(owner["id"])),
            },
            "how": how,
            "on": on.isoformat(),
        },
        idempotency_key=key,
    )
    record(conn, [Entry(entry, pid, int(owner["id"]))])
    found = store.find_placement(conn, placement_id)
    assert found is not None
    return _view(found)


def place(
    uow: SqlUnitOfWork,
    actor: Actor,
    debtor: str,
    *,
    portfolio: str,
    agency: str,
    on: date,
    at: datetime,
    currency: str | None = None,
) -> PlacementView:
    """Place the debtor's open balance in ``currency`` (its own by default) with ``agency``: the
    commission rate is fixed by the agency's terms (the case's stage, the debt's age), the case
    is marked placed and the debtor's credit goes on hold. Placed again: nothing changes."""
    actor.require(Permission.APPROVE, "place a debtor with an agency")
    source = f"placement of {debtor}"
    with uow:
        agency_row = _agency(uow, agency)
        pid = portfolio_of(uow.conn, portfolio, source)
        owner = find_debtor(uow.conn, pid, debtor, source)
        code = (currency or str(owner["currency"])).upper()
        if not is_currency(code):
            raise ProblemsFound.of(source, f"{code!r} is not an ISO 4217 currency")
        return _place(
            uow,
            actor,
            pid=pid,
            portfolio=portfolio,
            owner=owner,
            currency=code,
            agency_row=agency_row,
            on=on,
            at=at,
            how="by hand",
        )


def _recall(
    uow: SqlUnitOfWork, actor: Actor, row: RowMapping, *, on: date, reason: str, at: datetime
) -> PlacementView:
    conn = uow.conn
    source = f"placement {row['id']}"
    if on < row["placed_on"]:
        raise ProblemsFound.of(source, f"--on {on} is before it was placed ({row['placed_on']})")
    store.mark_recalled(conn, int(row["id"]), on=on, actor=actor.name, reason=reason)
    case = store.open_case(conn, int(row["debtor_id"]), str(row["currency"]))
    if case is not None and case["agency"] == row["agency"]:
        store.label_case(conn, int(case["id"]), None, on)
    restored = False
    if row["credit_before"] == "active" and not store.other_active_placements(
        conn, int(row["debtor_id"]), int(row["id"])
    ):
        restored = store.set_credit(
            conn, int(row["debtor_id"]), before="on_hold", after="active", at=at
        )
    entry = CaseRecalled(
        occurred_at=at,
        actor=actor.name,
        portfolio=str(row["portfolio"]),
        debtor=str(row["debtor"]),
        subject_kind="placement",
        subject_id=str(row["id"]),
        payload={
            "placement": int(row["id"]),
            "agency": str(row["agency"]),
            "currency": str(row["currency"]),
            "reason": reason,
            "credit_restored": restored,
            "on": on.isoformat(),
        },
        idempotency_key=f"agency.recalled:{row['id']}",
    )
    record(conn, [Entry(entry, int(row["portfolio_id"]), int(row["debtor_id"]))])
    found = store.find_placement(conn, int(row["id"]))
    assert found is not None
    return _view(found)


def recall(
    uow: SqlUnitOfWork,
    actor: Actor,
    debtor: str,
    *,
    portfolio: str,
    on: date,
    reason: str,
    at: datetime,
    currency: str | None = None,
) -> PlacementView:
    """Recall the debtor's placement in ``currency``: the account returns to in-house collection
    with its history, its credit back to what it was before the placement."""
    actor.require(Permission.APPROVE, "recall a placement")
    source = f"recall of {debtor}"
    with uow:
        pid = portfolio_of(uow.conn, portfolio, source)
        owner = find_debtor(uow.conn, pid, debtor, source)
        code = (currency or str(owner["currency"])).upper()
        if not reason.strip():
            raise ProblemsFound.of(source, "say why it is recalled (--reason)")
        row = store.active_placement(uow.conn, int(owner["id"]), code)
        if row is None:
            raise ProblemsFound.of(source, f"{debtor} is not placed with an agency in {code}")
        return _recall(uow, actor, row, on=on, reason=reason, at=at)


def recall_by_rule(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    on: date,
    default_days: int | None,
    at: datetime,
) -> list[PlacementView]:
    """Recall every placement that has gone ``recall_after_days`` (the agency's, else the
    policy's ``agency_recall_after_days``: ``default_days``) without a payment since it was placed
    (or since the last payment): the rule, run on ``on``."""
    actor.require(Permission.WORK, "recall placements by rule")
    recalled: list[PlacementView] = []
    with uow:
        portfolio_of(uow.conn, portfolio, "recall")
        by_agency = {str(a["code"]): a["recall_after_days"] for a in store.agencies(uow.conn)}
        for row in store.placements(uow.conn, portfolio, agency_code=None, active=True):
            days = by_agency.get(str(row["agency"])) or default_days
            if days is None:
                continue
            paid = store.last_payment_on(uow.conn, int(row["debtor_id"]), str(row["currency"]))
            since = max(row["placed_on"], paid or row["placed_on"])
            if on - since >= timedelta(days=days):
                reason = f"no payment for {(on - since).days} days, recall after {days}"
                recalled.append(_recall(uow, actor, row, on=on, reason=reason, at=at))
    return recalled


def list_placements(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    agency: str | None = None,
    active: bool = False,
) -> list[PlacementView]:
    actor.require(Permission.READ, "see placements")
    with uow:
        portfolio_of(uow.conn, portfolio, "placements")
        rows = store.placements(uow.conn, portfolio, agency_code=agency, active=active)
        return [_view(r) for r in rows]


def export_placements(
    uow: SqlUnitOfWork,
    actor: Actor,
    *,
    portfolio: str,
    agency: str,
    on: date,
    at: datetime,
) -> tuple[list[PlacementView], pl.DataFrame]:
    """The placement file of ``agency`` on ``on``: one row per open instalment of each active
    placement (:data:`FILE_COLUMNS`), formula-looking cells escaped. First, what the cycle did
    is recorded: the cases its ``place_with_agency`` step marked for this agency become
    placements, and a placement whose case its ``recall_from_agency`` step took back is
    recalled (those are returned)."""
    actor.require(Permission.WORK, "export an agency's placements")
    with uow:
        agency_row = _agency(uow, agency)
        pid = portfolio_of(uow.conn, portfolio, f"placements of {agency}")
        new = _record_cycle(uow, actor, pid, portfolio, agency_row, on, at)
        active = store.placements(uow.conn, portfolio, agency_code=agency, active=True)
        rows = store.file_rows(uow.conn, [int(r["id"]) for r in active], on)
    return new, _file(rows)


def record_cycle_placements(
    uow: SqlUnitOfWork, actor: Actor, *, portfolio: str, on: date, at: datetime
) -> list[PlacementView]:
    """What the cycle decided about agencies, recorded for every agency (``arrears run`` calls
    it after its commit, so ``arrears agency placements`` sees them the same day): the cases
    its ``place_with_agency`` step marked become placements, and the ones its
    ``recall_from_agency`` step took back are recalled. Run again, it records nothing new."""
    actor.require(Permission.WORK, "record the cycle's placements")
    with uow:
        pid = portfolio_of(uow.conn, portfolio, "placements")
        new: list[PlacementView] = []
        for row in store.agencies(uow.conn):
            new += _record_cycle(uow, actor, pid, portfolio, row, on, at, strict=False)
    return new


def _record_cycle(
    uow: SqlUnitOfWork,
    actor: Actor,
    pid: int,
    portfolio: str,
    agency_row: RowMapping,
    on: date,
    at: datetime,
    *,
    strict: bool = True,
) -> list[PlacementView]:
    """The cycle's placements and recalls for one agency (``strict``: a case placed with
    another agency is a problem; else it is left as it is, for a person)."""
    agency = str(agency_row["code"])
    new = []
    for case in store.cases_labelled(uow.conn, portfolio, agency):
        owner = find_debtor(uow.conn, pid, str(case["debtor"]), "placement")
        if store.position(uow.conn, int(owner["id"]), str(case["currency"]), on)[0] == 0:
            continue
        placed = store.active_placement(uow.conn, int(owner["id"]), str(case["currency"]))
        if not strict and placed is not None and placed["agency_id"] != agency_row["id"]:
            continue
        new.append(
            _place(
                uow,
                actor,
                pid=pid,
                portfolio=portfolio,
                owner=owner,
                currency=str(case["currency"]),
                agency_row=agency_row,
                on=on,
                at=at,
                how="the policy's place_with_agency step",
            )
        )
    for row in store.placements(uow.conn, portfolio, agency_code=agency, active=True):
        if store.recalled_by_cycle(uow.conn, row["case_id"], agency):
            reason = "recalled by the policy's recall_from_agency step"
            new.append(_recall(uow, actor, row, on=max(on, row["placed_on"]), reason=reason, at=at))
    return new


def _file(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        [
            {
                "placement": str(r["placement"]),
                "debtor": r["debtor"],
                "name": r["name"],
                "email": r["email"],
                "phone": r["phone"],
                "postal": r["postal"],
                "invoice": r["invoice"],
                "instalment": str(r["seq"]),
                "due_date": r["due_date"].isoformat(),
                "days_past_due": str(r["days_past_due"]),
                "currency": r["currency"],
                "amount": str(Money.from_minor(int(r["amount_minor"]), r["currency"]).amount),
                "open_amount": str(Money.from_minor(int(r["open_minor"]), r["currency"]).amount),
            }
            for r in rows
        ],
        schema=dict.fromkeys(FILE_COLUMNS, pl.String),
    )
    return escaped(frame)


# Remittances -----------------------------------------------------------------------------------

REMITTANCE_COLUMNS = ("placement", "debtor", "amount", "date", "reference")


def read_remittance(path: Path) -> list[RemittanceLine]:
    """The rows of an agency's remittance file (CSV with a header: ``placement``, ``debtor``
    (either or both), ``amount``, ``date``, ``reference``); every problem of its shape at once,
    as ``file:row:column``."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemsFound.of(source, f"cannot read the file: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in ("amount", "date", "reference") if c not in header]
    if "placement" not in header and "debtor" not in header:
        missing.append("placement (or debtor)")
    if missing:
        raise ProblemsFound(
            [
                Problem(
                    source,
                    1,
                    None,
                    f"missing column(s): {', '.join(missing)}; expected "
                    f"{', '.join(REMITTANCE_COLUMNS)}",
                )
            ]
        )
    return [
        RemittanceLine(
            number,
            (row.get("placement") or "").strip(),
            (row.get("debtor") or "").strip(),
            (row.get("amount") or "").strip(),
            (row.get("date") or "").strip(),
            (row.get("reference") or "").strip(),
        )
        for number, row in enumerate(reader, start=2)
    ]


@dataclass(frozen=True, slots=True)
class _Checked:
    line: RemittanceLine
    placement: RowMapping
    amount: Money
    on: date


def _check_line(
    uow: SqlUnitOfWork,
    line: RemittanceLine,
    *,
    source: str,
    agency_row: RowMapping,
    portfolio: str,
    pid: int,
    seen: dict[str, int],
    owed: dict[int, int],
) -> tuple[_Checked | None, list[Problem], bool]:
    """One line checked against its placement: the line (``None`` when it has problems), its
    problems, and whether it was imported before with the same details."""
    problems: list[Problem] = []

    def bad(column: str, message: str) -> None:
        problems.append(Problem(source, line.row, column, message))

    row = None
    if line.placement:
        if not line.placement.isdigit():
            bad("placement", f"{line.placement!r} is not a placement number")
        else:
            row = store.find_placement(uow.conn, int(line.placement))
            if row is None or row["agency_id"] != agency_row["id"] or row["portfolio_id"] != pid:
                bad("placement", f"placement {line.placement} is not one of {agency_row['code']}'s")
                row = None
    elif line.debtor:
        owner = None
        try:
            owner = find_debtor(uow.conn, pid, line.debtor, source)
        except ProblemsFound:
            bad("debtor", f"unknown debtor {line.debtor!r}")
        if owner is not None:
            for candidate in store.placements(
                uow.conn, portfolio, agency_code=str(agency_row["code"]), active=False
            ):
                if candidate["debtor_id"] == owner["id"]:
                    row = candidate
            if row is None:
                bad("debtor", f"{line.debtor} was never placed with {agency_row['code']}")
    else:
        bad("placement", "give the placement number (or the debtor)")
    if row is not None and line.debtor and line.debtor != row["debtor"]:
        bad("debtor", f"placement {row['id']} is {row['debtor']}'s, not {line.debtor}'s")
    on = None
    try:
        on = date.fromisoformat(line.date)
    except ValueError:
        bad("date", f"{line.date!r} is not a date (YYYY-MM-DD)")
    if row is not None and on is not None:
        if on < row["placed_on"]:
            bad("date", f"{on} is before placement {row['id']} was made ({row['placed_on']})")
        if row["recalled_on"] is not None and on > row["recalled_on"]:
            bad("date", f"{on} is after placement {row['id']} was recalled ({row['recalled_on']})")
    amount = None
    if row is not None:
        try:
            amount = Money(parse_decimal(line.amount), str(row["currency"]))
            if not amount.is_positive():
                bad("amount", f"{line.amount!r}: the amount collected must be positive")
            amount.minor  # noqa: B018 (raises on too many decimals)
        except MoneyError as exc:
            bad("amount", f"{line.amount!r}: {exc}")
            amount = None
    if not line.reference:
        bad("reference", "give the agency's reference of the payment")
    elif line.reference in seen:
        bad("reference", f"{line.reference!r} is also on row {seen[line.reference]}")
    else:
        seen[line.reference] = line.row
    before = (
        None
        if not line.reference
        else store.remittance(uow.conn, int(agency_row["id"]), line.reference)
    )
    if row is None or amount is None or on is None:
        return None, problems, False
    if before is not None and not problems:
        same = (before["placement_id"], before["amount_minor"], before["collected_on"]) == (
            row["id"], amount.minor, on,
        )  # fmt: skip
        if not same:
            bad("reference", f"{line.reference!r} was imported before with other details")
            return None, problems, False
        return None, problems, True
    key = int(row["id"])
    left = owed.setdefault(key, int(row["amount_minor"]) - store.remitted_minor(uow.conn, key))
    if amount.minor > left:
        placed = Money.from_minor(row["amount_minor"], amount.currency)
        bad(
            "amount",
            f"{amount} is more than the {Money.from_minor(max(left, 0), amount.currency)} still "
            f"due on placement {key} (placed {placed})",
        )
        return None, problems, False
    owed[key] = left - amount.minor
    if problems:
        return None, problems, False
    return _Checked(line, row, amount, on), problems, False


def import_remittance(
    uow: SqlUnitOfWork,
    actor: Actor,
    lines: list[RemittanceLine],
    *,
    portfolio: str,
    agency: str,
    file: str,
    rule: AllocationRule = AllocationRule.OLDEST_DUE_FIRST,
    at: datetime,
) -> Remittance:
    """Import an agency's remittance file: every line checked against its placement first (all
    the mismatches reported at once, nothing posted); then each posted as a payment of the
    debtor (``AGENCY:REFERENCE``), its commission computed at the placement's rate, and what
    finds nothing open recorded as a recovery after write-off. Imported again: nothing new."""
    actor.require(Permission.WORK, "import an agency's remittance")
    with uow:
        agency_row = _agency(uow, agency)
        pid = portfolio_of(uow.conn, portfolio, file)
        seen: dict[str, int] = {}
        owed: dict[int, int] = {}
        problems: list[Problem] = []
        good: list[_Checked] = []
        already = 0
        for line in lines:
            checked, found, repeated = _check_line(
                uow, line, source=file, agency_row=agency_row, portfolio=portfolio, pid=pid,
                seen=seen, owed=owed,
            )  # fmt: skip
            problems += found
            already += repeated
            if checked is not None:
                good.append(checked)
        if problems:
            raise ProblemsFound(problems)
        collected: dict[str, int] = {}
        commission: dict[str, int] = {}
        recovered: dict[str, int] = {}
        for item in good:
            _post_line(
                uow,
                actor,
                item,
                agency_row,
                portfolio,
                pid,
                file,
                rule,
                at,
                collected,
                commission,
                recovered,
            )
    return Remittance(
        len(good),
        already,
        {c: Money.from_minor(m, c) for c, m in collected.items()},
        {c: Money.from_minor(m, c) for c, m in commission.items()},
        {c: Money.from_minor(m, c) for c, m in recovered.items() if m},
    )


def _post_line(
    uow: SqlUnitOfWork,
    actor: Actor,
    item: _Checked,
    agency_row: RowMapping,
    portfolio: str,
    pid: int,
    file: str,
    rule: AllocationRule,
    at: datetime,
    collected: dict[str, int],
    commission: dict[str, int],
    recovered: dict[str, int],
) -> None:
    row, amount, code = item.placement, item.amount, str(agency_row["code"])
    external = f"{code}:{item.line.reference}"
    payment = Payment(
        external, str(row["debtor"]), item.on, amount, "agency", item.line.reference, portfolio
    )
    posting = cases.post_payment(uow.conn, payment, rule=rule, actor=actor.name, at=at)
    owed = commission_minor(amount.minor, Decimal(str(row["commission_percent"])))
    store.insert_remittance(
        uow.conn,
        {
            "agency_id": agency_row["id"],
            "placement_id": row["id"],
            "reference": item.line.reference,
            "payment_id": store.payment_id(uow.conn, pid, external),
            "collected_on": item.on,
            "amount_minor": amount.minor,
            "commission_minor": owed,
            "actor": actor.name,
            "created_at": at,
        },
    )
    back = note_recovery(
        uow.conn,
        portfolio=portfolio,
        debtor_id=int(row["debtor_id"]),
        debtor_external_id=str(row["debtor"]),
        payment=external,
        unallocated_minor=posting.unallocated.minor,
        currency=amount.currency,
        on=item.on,
        actor=actor.name,
        at=at,
    )
    entry = RemittanceImported(
        occurred_at=at,
        actor=actor.name,
        portfolio=portfolio,
        debtor=str(row["debtor"]),
        subject_kind="placement",
        subject_id=str(row["id"]),
        payload={
            "placement": int(row["id"]),
            "agency": code,
            "reference": item.line.reference,
            "payment": external,
            "amount": str(amount.amount),
            "currency": amount.currency,
            "collected_on": item.on.isoformat(),
            "commission_percent": str(row["commission_percent"]),
            "commission": str(Money.from_minor(owed, amount.currency).amount),
            "recovered": str(Money.from_minor(back, amount.currency).amount),
            "file": file,
            "row": item.line.row,
        },
        idempotency_key=f"agency.remitted:{code}:{item.line.reference}",
    )
    record(uow.conn, [Entry(entry, pid, int(row["debtor_id"]))])
    currency = amount.currency
    collected[currency] = collected.get(currency, 0) + amount.minor
    commission[currency] = commission.get(currency, 0) + owed
    recovered[currency] = recovered.get(currency, 0) + back
