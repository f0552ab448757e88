"""``/disputes``: the disputes of the portfolio, for collectors and managers (docs/web.md).

``GET /disputes`` lists them (open first by default; ``?owner=NAME&overdue=1``: what an owner
should resolve first), with a form to open one on invoices and, on each open dispute, a form
to resolve it (upheld with a full or partial credit note, or rejected). Each form carries the
session's CSRF token and calls one use case of :mod:`arrears.services.arrangements.disputes` as the
logged-in user; bad input comes back on the page with every problem (422).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arrears.domain.disputes import CHOSEN_REASONS, Status
from arrears.domain.money import Money
from arrears.domain.problems import ProblemsFound
from arrears.services.arrangements import disputes
from arrears.web.pages import HEADERS, Visit, _call, _checked_form, _today, _visit

router = APIRouter(include_in_schema=False)

#: The page's words (English and Spanish).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Disputes", "none": "No dispute.", "id": "No.", "debtor": "Debtor",
        "invoices": "Invoices", "amount": "Disputed", "status": "Status", "reason": "Reason",
        "owner": "Owner", "opened": "Opened", "due": "Resolve by", "note": "Note",
        "overdue": "overdue", "open_title": "Open a dispute",
        "invoices_hint": "invoice numbers, separated by spaces", "open_button": "Open dispute",
        "resolve": "Resolve", "upheld": "Upheld (credit note)", "rejected": "Rejected",
        "credit": "Partial credit (empty: in full)", "resolve_button": "Resolve",
        "problems": "Please correct:", "only_overdue": "Only overdue", "filter": "Show",
        "open": "open", "upheld_s": "upheld", "rejected_s": "rejected", "closed": "closed",
        "credited": "Credited", "attachments": "Documents",
        "wrong_amount": "wrong amount", "not_received": "not received", "quality": "quality",
        "already_paid": "already paid", "other": "other", "from_erp": "from the ERP",
    },
    "es": {
        "title": "Disputas", "none": "Ninguna disputa.", "id": "N.º", "debtor": "Deudor",
        "invoices": "Facturas", "amount": "En disputa", "status": "Estado", "reason": "Motivo",
        "owner": "Responsable", "opened": "Abierta", "due": "Resolver antes de",
        "note": "Nota", "overdue": "vencida", "open_title": "Abrir una disputa",
        "invoices_hint": "números de factura, separados por espacios",
        "open_button": "Abrir disputa", "resolve": "Resolver",
        "upheld": "Aceptada (nota crédito)", "rejected": "Rechazada",
        "credit": "Crédito parcial (vacío: total)", "resolve_button": "Resolver",
        "problems": "Corrija por favor:", "only_overdue": "Solo vencidas", "filter": "Mostrar",
        "open": "abierta", "upheld_s": "aceptada", "rejected_s": "rechazada",
        "closed": "cerrada", "credited": "Acreditado", "attachments": "Documentos",
        "wrong_amount": "monto errado", "not_received": "no recibida", "quality": "calidad",
        "already_paid": "ya pagada", "other": "otro", "from_erp": "desde el ERP",
    },
}  # fmt: skip


def _words(visit: Visit) -> dict[str, str]:
    return WORDS.get(visit.language, WORDS["en"])


def _page(
    visit: Visit,
    *,
    status: int = 200,
    problems: list[str] | None = None,
    owner: str = "",
    overdue: bool = False,
    debtor: str = "",
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    s = visit.site
    today = _today(s)
    w = _words(visit)
    found = _call(
        visit, disputes.list_disputes, s.uow(), visit.actor, portfolio=s.portfolio, as_of=today,
        owner=owner or None, overdue=overdue, debtor=debtor or None,
    )  # fmt: skip
    found.sort(key=lambda v: (v.status != Status.OPEN, not v.overdue, v.opened_on, v.dispute_id))
    rows = [
        {
            "id": v.dispute_id,
            "debtor": v.debtor,
            "invoices": ", ".join(i.number for i in v.invoices),
            "amount": str(Money.from_minor(v.disputed_minor, v.currency)),
            "credited": str(Money.from_minor(v.credited_minor, v.currency))
            if v.credited_minor
            else "",
            "status": w.get({"upheld": "upheld_s", "rejected": "rejected_s"}.get(v.status,
                                                                              v.status), v.status),
            "open": v.status == Status.OPEN,
            "overdue": v.overdue,
            "reason": w.get(v.reason, v.reason),
            "owner": v.owner or "",
            "opened": v.opened_on.isoformat(),
            "due": "" if v.due_on is None else v.due_on.isoformat(),
            "note": v.note or "",
            "attachments": [
                {"href": f"/disputes/{v.dispute_id}/attachments/{a.attachment_id}",
                 "name": a.file_name, "size": f"{a.size_bytes / 1024:.0f} KB"}
                for a in v.attachments
            ],
        }
        for v in found
    ]  # fmt: skip
    return visit.render(
        "disputes.html", status, w=w, rows=rows, reasons=[(r, w[r]) for r in CHOSEN_REASONS],
        problems=problems or [], owner=owner, overdue=overdue, debtor=debtor, today=today,
        form=form or {},
    )  # fmt: skip


@router.get("/disputes", response_class=HTMLResponse)
def disputes_page(
    request: Request, owner: str = "", overdue: str = "", debtor: str = ""
) -> HTMLResponse:
    return _page(
        _visit(request), owner=owner.strip(), overdue=overdue in ("1", "on", "true"),
        debtor=debtor.strip()[:200],
    )  # fmt: skip


@router.get("/disputes/{dispute_id}/attachments/{attachment_id}")
def attachment(request: Request, dispute_id: int, attachment_id: int) -> Response:
    """A file the debtor sent with a dispute, as a download in its stored media type (anyone
    who may read disputes: collectors, managers, auditors, admins)."""
    visit = _visit(request)
    found, content = _call(
        visit, disputes.attachment_file, visit.site.uow(), visit.actor, dispute_id, attachment_id
    )
    ascii_name = found.file_name.encode("ascii", "replace").decode().replace('"', "_")
    response = Response(
        content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(found.file_name, safe='')}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
    visit.keep(response)
    return response


def _act(visit: Visit, form: dict[str, str], use_case: Any, *args: Any, **kwargs: Any) -> Response:
    """Call a form's use case: done, back to the list; bad input, the page with every problem
    (422); a refusal, an error page (``pages._call``: 403, 404, 409)."""
    refused: list[ProblemsFound] = []

    def call() -> None:
        try:
            use_case(*args, **kwargs)
        except ProblemsFound as exc:
            refused.append(exc)

    _call(visit, call)
    if refused:
        problems = [p.message for p in refused[0].problems]
        return _page(visit, status=422, problems=problems, form=form)
    return RedirectResponse("/disputes", status_code=303, headers=HEADERS)


@router.post("/disputes", response_class=HTMLResponse)
async def open_dispute(request: Request) -> Response:
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    due = form.get("due", "").strip()
    try:
        due_on = date.fromisoformat(due) if due else None
    except ValueError:
        return _page(visit, status=422, problems=[f"{due!r}: a day is YYYY-MM-DD"], form=form)
    return _act(
        visit, form, disputes.open_dispute, s.uow(), visit.actor, portfolio=s.portfolio,
        invoices=form.get("invoices", "").replace(",", " ").split(),
        reason=form.get("reason", ""), note=form.get("note") or None,
        owner=form.get("owner") or None, due_on=due_on, on=_today(s), at=s.clock(),
    )  # fmt: skip


@router.post("/disputes/{dispute_id}/resolve", response_class=HTMLResponse)
async def resolve_dispute(request: Request, dispute_id: int) -> Response:
    visit = _visit(request)
    form = await _checked_form(visit)
    s = visit.site
    outcome = form.get("outcome", "")
    credit = _credit(form.get("credit", ""))
    if isinstance(credit, str):
        return _page(visit, status=422, problems=[credit], form=form)
    return _act(
        visit, form, disputes.resolve, s.uow(), visit.actor, dispute_id, outcome=outcome,
        credit=credit, note=form.get("note") or None, on=_today(s), at=s.clock(),
    )  # fmt: skip


def _credit(text: str) -> dict[str, Decimal] | str | None:
    """``INVOICE=AMOUNT`` pairs separated by spaces or commas (empty: in full), or the problem."""
    asked: dict[str, Decimal] = {}
    for pair in text.replace(",", " ").split():
        invoice, _, amount = pair.partition("=")
        try:
            asked[invoice] = Decimal(amount)
        except InvalidOperation:
            return f"{pair!r}: write INVOICE=AMOUNT"
        if not invoice or not asked[invoice].is_finite():
            return f"{pair!r}: write INVOICE=AMOUNT"
    return asked or None


__all__ = ["router"]
