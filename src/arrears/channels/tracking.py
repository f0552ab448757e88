"""Open and click tracking of emails: a 1x1 pixel and signed redirect links per message.

When ``channels.tracking = "on"`` and both ``web.public_url`` and ``channels.secret`` are set,
:func:`track_html` (called by :func:`arrears.channels.smtp.build_email`) rewrites the HTML part:

- every ``<a href="http(s)://...">`` becomes ``<public_url>/t/click?k=<outbox key>&u=<target>
  &s=<HMAC>``: the web app (``arrears serve``) records ``message.clicked`` and redirects to the
  target. The signature covers the key and the target, so the endpoint is no open redirect:
  only targets that were in a message we sent are followed. The opt-out link and ``mailto:``
  links are left as they are;
- a pixel ``<img src="<public_url>/t/open?k=<key>&s=<HMAC>">`` is added at the end of the body:
  ``message.opened``.

The plain-text part is not rewritten (its links stay readable). Signatures are
:func:`arrears.channels.base.sign` over ``("open", key)`` and ``("click", key, target)``.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode, urlsplit

from arrears.channels.base import ChannelSettings, Message, same, sign

#: ``<a ... href="...">``: the templates write attributes in double quotes (Jinja autoescape).
_ANCHOR_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def enabled(settings: ChannelSettings) -> bool:
    return (
        settings.get("channels.tracking") == "on"
        and bool(settings.get("web.public_url"))
        and bool(settings.get("channels.secret"))
    )


def is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def open_url(base: str, secret: str, key: str) -> str:
    query = urlencode({"k": key, "s": sign(secret, "open", key)})
    return f"{base.rstrip('/')}/t/open?{query}"


def click_url(base: str, secret: str, key: str, target: str) -> str:
    query = urlencode({"k": key, "u": target, "s": sign(secret, "click", key, target)})
    return f"{base.rstrip('/')}/t/click?{query}"


def verify_open(secret: str, key: str, signature: str) -> bool:
    return bool(secret) and same(sign(secret, "open", key), signature)


def verify_click(secret: str, key: str, target: str, signature: str) -> bool:
    return (
        bool(secret) and is_web_url(target) and same(sign(secret, "click", key, target), signature)
    )


def track_html(body: str, message: Message, settings: ChannelSettings) -> str:
    """``body`` with its web links signed for click tracking and an open pixel at the end."""
    base, secret = settings.get("web.public_url"), settings.get("channels.secret")

    def link(match: re.Match[str]) -> str:
        target = html.unescape(match.group(2)).strip()
        if not is_web_url(target) or target == message.opt_out_url:
            return match.group(0)
        signed = click_url(base, secret, message.key, target)
        return f"{match.group(1)}{html.escape(signed)}{match.group(3)}"

    rewritten = _ANCHOR_HREF.sub(link, body)
    pixel = (
        f'<img src="{html.escape(open_url(base, secret, message.key))}" width="1" height="1" '
        'alt="" style="display:block;border:0">'
    )
    ends = list(_BODY_END.finditer(rewritten))
    if ends:
        at = ends[-1].start()
        return rewritten[:at] + pixel + rewritten[at:]
    return rewritten + pixel
