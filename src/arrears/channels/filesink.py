"""The file sink: the embedded default channel. Each message becomes one file in the
workspace's outbox folder (``channels.outbox_dir``): ``email/<debtor>-<key>.eml`` (the same MIME
message SMTP would send), ``sms|whatsapp|letter/<debtor>-<key>.json`` (a letter's JSON also
carries the invoice table and totals its PDF prints: :func:`letter_table`). The name comes from
the message's idempotency key and the file is written atomically, so sending again overwrites
the same file: a resend after a crash cannot produce a second message (``dedup``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from arrears.channels.base import ChannelSettings, Message, PermanentFailure
from arrears.channels.smtp import build_email, email_bytes
from arrears.channels.templates import locale_for, money


def safe_name(message: Message) -> str:
    debtor = re.sub(r"[^A-Za-z0-9_-]", "_", message.debtor)[:40] or "debtor"
    return f"{debtor}-{message.idempotency_key}"


def letter_table(message: Message) -> dict[str, Any]:
    """The table a PDF letter prints under its text (``Message.account``), for the file sink's
    JSON: each open invoice (``number``, ``due_date``, ``days_past_due``, ``currency``, ``open``
    in minor units and ``open_text`` formatted in the debtor's language) and per currency the
    totals ``overdue``, ``not_yet_due`` and ``open`` (minor units, and formatted)."""
    account = message.account
    if account is None:
        return {}
    locale = locale_for(message.language, account.country)
    invoices: list[dict[str, Any]] = []
    sums: dict[str, list[int]] = {}
    for inv in account.invoices:
        currency, open_ = str(inv["currency"]), int(inv["open"])
        days = int(inv["days_past_due"])
        sums.setdefault(currency, [0, 0])[0 if days > 0 else 1] += open_
        invoices.append(
            {
                "number": str(inv["number"]),
                "due_date": inv["due_date"].isoformat(),
                "days_past_due": days,
                "currency": currency,
                "open": open_,
                "open_text": money(open_, currency, locale),
            }
        )
    totals = []
    for currency, (overdue, not_due) in sorted(sums.items()):
        amounts = {"overdue": overdue, "not_yet_due": not_due, "open": overdue + not_due}
        texts = {f"{k}_text": money(n, currency, locale) for k, n in amounts.items()}
        totals.append({"currency": currency, **amounts, **texts})
    return {"customer": account.customer, "invoices": invoices, "totals": totals}


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class FileSink:
    dedup = True

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        folder = Path(settings.get("channels.outbox_dir") or "outbox")
        self.folder = folder if folder.is_absolute() else settings.root / folder

    def send(self, message: Message) -> str:
        if not message.to:
            raise PermanentFailure(f"no {message.channel} address")
        if message.channel == "email":
            data = email_bytes(build_email(message, self.settings))
            path = self.folder / "email" / f"{safe_name(message)}.eml"
        else:
            body = {
                "id": message.idempotency_key,
                "key": message.key,
                "channel": message.channel,
                "to": message.to,
                "debtor": message.debtor,
                "language": message.language,
                "subject": message.subject,
                "text": message.text,
            }
            if message.channel == "letter":
                body["legal_notice"] = message.legal_notice  # printed under the letter's text
                body.update(letter_table(message))  # the PDF's table: what the text refers to
            data = json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
            path = self.folder / message.channel / f"{safe_name(message)}.json"
        write_atomically(path, data)
        return str(path)

    def close(self) -> None:
        return None
