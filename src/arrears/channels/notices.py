"""The law's notices, added to what is sent by the dispatcher, never by a template (a template
can forget one; the dispatcher adds it to every message of a pack that requires it).

- Letters and the statement PDF: the pack's ``letter_notice`` in the debtor's language, printed
  at the end under a rule (``Message.legal_notice``, :func:`arrears.channels.letter.letter_pdf`).
- Emails, SMS and WhatsApp messages: the pack's ``message_notice`` (Regulation F's "this
  communication is from a debt collector" for US consumer debts) at the end of the text, after
  a blank line, and in the HTML as a last paragraph before the body closes.

A pack without the notice adds nothing. See docs/contact-rules.md, "The law's notices".
"""

from __future__ import annotations

import re
from dataclasses import replace
from html import escape

from arrears.channels.base import Message
from arrears.channels.letter import with_legal_notice
from arrears.contact.model import Pack

#: The channels that carry ``message_notice`` (letters carry ``letter_notice``).
MESSAGE_CHANNELS = ("email", "sms", "whatsapp")

_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def with_notices(message: Message, pack: Pack | None) -> Message:
    """``message`` with the notice ``pack`` (the debtor's contact-rule pack) requires on its
    channel, in the message's language; unchanged when the pack requires none."""
    if pack is None:
        return message
    if message.channel == "letter":
        return with_legal_notice(message, pack)
    if message.channel not in MESSAGE_CHANNELS:
        return message
    notice = pack.message_notice_in(message.language)
    if not notice:
        return message
    html = message.html
    if html is not None:
        paragraph = f'<p class="legal-notice" style="font-size: small">{escape(notice)}</p>\n'
        ends = list(_BODY_END.finditer(html))
        at = ends[-1].start() if ends else len(html)
        html = html[:at] + paragraph + html[at:]
    text = (
        message.text.rstrip("\n") + "\n\n" + notice + ("\n" if message.text.endswith("\n") else "")
    )
    return replace(message, text=text, html=html, legal_notice=notice)
