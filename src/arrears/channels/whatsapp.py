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
    body = "Hola {{1}}, le recordamos que su saldo de {{2}} vence mañana. Pague aquí: {{3}}"

``body`` (optional) is the approved template's text as WhatsApp Manager shows it: with it,
``arrears policy check`` makes sure ``params`` gives exactly its ``{{1}}``...``{{n}}``
(:func:`approved_text` fills it: what the debtor reads). Each parameter is a template
expression over the message variables (docs/channels.md), rendered with the debtor's locale.
The dispatcher sends the name, language and parameters, never free text, through an HTTP
provider (``webhook``: a ``template`` object in the JSON body; ``twilio``:
``ContentSid`` = the name and ``ContentVariables`` = ``{"1": ..., "2": ...}``). A WhatsApp
message whose template has no approved one goes as free text only within 24 hours after the
debtor last wrote to us (the dispatcher's ``WHATSAPP_SESSION``); otherwise it is not sent
through a provider (it fails with the setting to add). ``arrears policy check`` and ``arrears
template check`` report such steps of the policy (:func:`catalogue_problems`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale
from jinja2 import Environment, TemplateError

from arrears.channels.base import ChannelSettings
from arrears.channels.templates import environment, locale_for, safe_line, sample_variables
from arrears.contact.model import Pack

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
    body: str = ""  # the approved text, with {{1}}, {{2}}... ("": not configured)


def approved(settings: ChannelSettings, template: str) -> Approved | None:
    """The approved WhatsApp template configured for the policy's ``template``, if any."""
    name = settings.get(f"{PREFIX}{template}.name")
    if not name:
        return None
    params = json.loads(settings.get(f"{PREFIX}{template}.params") or "[]")
    return Approved(
        template,
        name,
        settings.get(f"{PREFIX}{template}.language"),
        tuple(map(str, params)),
        settings.get(f"{PREFIX}{template}.body"),
    )


_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def placeholders(body: str) -> list[int]:
    """The numbers of the ``{{1}}``, ``{{2}}``... of an approved template's text, sorted."""
    return sorted({int(n) for n in _PLACEHOLDER.findall(body)})


def approved_text(found: Approved, params: list[str]) -> str:
    """What the debtor reads: the approved ``body`` with its placeholders filled ("" when the
    catalogue gives no body)."""

    def fill(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return params[n - 1] if 0 < n <= len(params) else match.group(0)

    return _PLACEHOLDER.sub(fill, found.body)


def catalogue_problems(
    settings: ChannelSettings, template: str, packs: Mapping[str, Pack] | None = None
) -> list[str]:
    """What keeps the policy's ``template`` from going out on WhatsApp with the workspace's
    catalogue, each saying what to do: no approved template configured; a language Babel does
    not know; ``params`` that do not give exactly the approved ``body``'s ``{{1}}``...``{{n}}``;
    a parameter that does not render, or renders empty, for the sample debtor of its language
    (WhatsApp refuses an empty parameter); and, given the contact-rule ``packs`` in effect, an
    approved ``body`` without the notice a pack requires on every message
    (:func:`notice_problems`: the dispatcher cannot add it to an approved template)."""
    where = f"[{PREFIX}{template}] in arrears.toml"
    found = approved(settings, template)
    if found is None:
        return [
            f"no approved WhatsApp template: add {where} with the name, language and params of "
            "the template approved in WhatsApp Manager (a business may start a WhatsApp "
            "conversation only with one)"
        ]
    problems = []
    lang = found.language.replace("-", "_")
    try:
        Locale.parse(lang)
    except (ValueError, LookupError):
        problems.append(
            f"{where}: language {found.language!r} is not a language code: give the approved "
            "translation's code as WhatsApp Manager shows it (es, en_US, pt_BR...)"
        )
        lang = "en"
    if found.body:
        numbers = placeholders(found.body)
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(
                f"{where}: body has placeholders {', '.join(f'{{{{{n}}}}}' for n in numbers)}; "
                "WhatsApp numbers them {{1}}, {{2}}... without gaps: copy the body as approved"
            )
        elif len(numbers) != len(found.params):
            problems.append(
                f"{where}: the approved template {found.name!r} takes {len(numbers)} "
                f"parameter(s) ({{{{1}}}}..{{{{{len(numbers)}}}}} in body), params gives "
                f"{len(found.params)}: give one expression per placeholder, in order"
            )
    if found.body and packs:
        problems += notice_problems(found, lang, packs)
    base = lang.partition("_")[0]
    env = environment(Path("."), html=False, locale=locale_for(base, ""))
    variables = sample_variables(base, "whatsapp")
    for i, param in enumerate(found.params, 1):
        try:
            value = _param(env, found, i, variables)
        except LookupError as exc:
            problems.append(f"{exc}: use the message variables of docs/channels.md")
            continue
        if not value:
            problems.append(
                f"{PREFIX}{template}.params[{i}] {param!r} is empty for the sample debtor: "
                "WhatsApp refuses an empty parameter; use a variable every debtor has"
            )
    return problems


def notice_problems(found: Approved, language: str, packs: Mapping[str, Pack]) -> list[str]:
    """The notices missing from ``found``'s approved body: for each pack of ``packs`` that
    requires a notice on every message (``message_notice``, e.g. Regulation F's "this
    communication is from a debt collector") and can govern the debtors who read it, its text
    in the template's ``language`` (as the dispatcher picks it: else English) must be in the
    body (compared with runs of white space as one space). A pack limited to some countries
    governs the readers when the approved language names one of them as its region (``en_US``:
    the United States); a pack for every country, always. WhatsApp sends only the approved
    text, so the dispatcher cannot add the notice as it does to emails and SMS."""
    region = language.replace("-", "_").partition("_")[2].upper()
    body = " ".join(found.body.split())
    where = f"[{PREFIX}{found.template}] in arrears.toml"
    problems = []
    for name, pack in sorted(packs.items()):
        notice = " ".join(pack.message_notice_in(language).split())
        if not notice or (pack.countries and region not in pack.countries):
            continue
        if notice not in body:
            problems.append(
                f"{where}: body lacks the notice contact-rule pack {name!r} requires on every "
                f"message ({language}): {notice!r}; WhatsApp sends only the approved text, so "
                "the dispatcher cannot add it: add it to the template's body and have it "
                "approved again"
            )
    return problems


def render_params(
    found: Approved, variables: dict[str, Any], language: str, country: str = ""
) -> list[str]:
    """The parameters of ``found`` for one debtor, each one line (no control characters):
    WhatsApp refuses parameters with line breaks."""
    locale: Locale = locale_for(language, country)
    env = environment(Path("."), html=False, locale=locale)
    return [_param(env, found, i, variables) for i in range(1, len(found.params) + 1)]


def _param(env: Environment, found: Approved, i: int, variables: dict[str, Any]) -> str:
    """Parameter ``i`` (from 1) of ``found`` rendered: ``LookupError`` saying which."""
    param = found.params[i - 1]
    try:
        return safe_line(env.from_string(param).render(variables)).strip()
    except TemplateError as exc:
        raise LookupError(f"{PREFIX}{found.template}.params[{i}] {param!r}: {exc}") from None


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
    approved WhatsApp template in the workspace, or one whose parameters do not match it
    (:func:`catalogue_problems`; ``arrears template check``, which reads the policy's lines;
    ``arrears policy check`` checks the parsed policy the same way)."""
    problems: list[str] = []
    lines = policy.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not _STEP.search(line):
            continue
        match = _step_template(lines, i)
        if match is None:
            continue
        template = match.group(1)
        problems += [
            f"{policy}:{i + 1}: WhatsApp step with template {template!r}: {problem}"
            for problem in catalogue_problems(settings, template)
        ]
    return problems
