"""WhatsApp Business approved templates.

WhatsApp lets a business start a conversation only with a template the platform approved (a
name, a language and numbered parameters ``{{1}}``, ``{{2}}``...). A workspace names, for each
template a policy's WhatsApp steps use, the approved template that stands for it:

.. code-block:: toml

    [whatsapp.templates.recordatorio_previo_whatsapp]
    name = "payment_reminder_v2"      # as approved in WhatsApp Manager
    language = "es"                   # the approved translation (es, en_US, pt_BR...)
    params = ["{{ debtor.name }}", "{{ totals[0].open | money(totals[0].currency) }}",
              "{{ payment_link }}"]

Each parameter is a template expression over the message variables (docs/channels.md), rendered
with the debtor's locale. The dispatcher sends the name, language and parameters, never free
text, through an HTTP provider (``webhook``: a ``template`` object in the JSON body; ``twilio``:
``ContentSid`` = the name and ``ContentVariables`` = ``{"1": ..., "2": ...}``). A WhatsApp
message whose template has no approved one is not sent through a provider (it fails with the
setting to add); ``arrears template check`` reports such steps of the policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from jinja2 import TemplateError

from arrears.channels.base import ChannelSettings
from arrears.channels.templates import environment, locale_for, safe_line, sample_variables

PREFIX = "whatsapp.templates."
#: ``extra`` keys of a message that carry the approved template (and the outbox log shows)
EXTRA_NAME, EXTRA_LANGUAGE, EXTRA_PARAMS = (
    "whatsapp_template",
    "whatsapp_language",
    "whatsapp_params",
)


@dataclass(frozen=True, slots=True)
class Approved:
    template: str  # the policy's template name
    name: str  # the approved template's name
    language: str
    params: tuple[str, ...]  # template expressions, in order


def approved(settings: ChannelSettings, template: str) -> Approved | None:
    """The approved WhatsApp template configured for the policy's ``template``, if any."""
    name = settings.get(f"{PREFIX}{template}.name")
    if not name:
        return None
    params = json.loads(settings.get(f"{PREFIX}{template}.params") or "[]")
    return Approved(
        template, name, settings.get(f"{PREFIX}{template}.language"), tuple(map(str, params))
    )


def render_params(
    found: Approved, variables: dict[str, Any], language: str, country: str = ""
) -> list[str]:
    """The parameters of ``found`` for one debtor, each one line (no control characters):
    WhatsApp refuses parameters with line breaks."""
    locale: Locale = locale_for(language, country)
    env = environment(Path("."), html=False, locale=locale)
    out = []
    for i, param in enumerate(found.params, 1):
        try:
            out.append(safe_line(env.from_string(param).render(variables)).strip())
        except TemplateError as exc:
            raise LookupError(f"{PREFIX}{found.template}.params[{i}] {param!r}: {exc}") from None
    return out


def extra(found: Approved, params: list[str]) -> dict[str, str]:
    return {
        EXTRA_NAME: found.name,
        EXTRA_LANGUAGE: found.language,
        EXTRA_PARAMS: json.dumps(params, ensure_ascii=False),
    }


def from_extra(extra: dict[str, str]) -> tuple[str, str, list[str]] | None:
    """``(name, language, params)`` of a message that carries an approved template."""
    if not extra.get(EXTRA_NAME):
        return None
    return extra[EXTRA_NAME], extra.get(EXTRA_LANGUAGE, ""), json.loads(extra[EXTRA_PARAMS])


_STEP = re.compile(r"\bchannel:\s*['\"]?whatsapp\b")
_TEMPLATE = re.compile(r"\btemplate:\s*['\"]?([A-Za-z0-9_\-]+)")


def _step_template(lines: list[str], i: int) -> re.Match[str] | None:
    """The ``template:`` of the step whose ``channel: whatsapp`` is on line ``i``: on that line,
    else the nearest within the step's next or previous lines (block style)."""
    found = _TEMPLATE.search(lines[i])
    if found:
        return found
    for step in (1, -1):
        j = i + step
        while 0 <= j < len(lines) and abs(j - i) <= 6:
            line = lines[j]
            if step == 1 and line.lstrip().startswith("- "):
                break  # the next step
            found = _TEMPLATE.search(line)
            if found:
                return found
            if step == -1 and line.lstrip().startswith("- "):
                break  # the step's first line
            j += step
    return None


def check_policy(policy: Path, settings: ChannelSettings) -> list[str]:
    """``<policy>:<line>: ...`` for each WhatsApp step of ``policy`` whose template has no
    approved WhatsApp template in the workspace, and for each configured parameter that does
    not render with the sample debtor."""
    problems: list[str] = []
    lines = policy.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not _STEP.search(line):
            continue
        match = _step_template(lines, i)
        if match is None:
            continue
        template = match.group(1)
        found = approved(settings, template)
        if found is None:
            problems.append(
                f"{policy}:{i + 1}: WhatsApp step with template {template!r} has no approved "
                f"WhatsApp template: add [{PREFIX}{template}] name, language, params to "
                "arrears.toml (a business may start a WhatsApp conversation only with one)"
            )
            continue
        lang = found.language.replace("-", "_").partition("_")[0] or "en"
        try:
            render_params(found, sample_variables(lang, "whatsapp"), lang)
        except LookupError as exc:
            problems.append(f"{policy}:{i + 1}: {exc}")
    return problems
