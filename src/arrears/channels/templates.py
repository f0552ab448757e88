"""Message templates: Jinja2 in a sandbox, one file per template and language.

A template is ``<root>/<lang>/<name>.j2`` with up to three blocks: ``subject`` (one line, for
email), ``text`` (the plain-text body; SMS, WhatsApp and letters use only this) and ``html`` (the
email's HTML body, autoescaped; when absent the text is escaped into paragraphs). Templates are
user-editable: they run in :class:`jinja2.sandbox.SandboxedEnvironment` (no attribute access to
internals, no imports, no file access: the loader reads only ``<root>/<lang>/``), and an unknown
variable is an error (``StrictUndefined``), found by :func:`check_template` before any send.

Roots are searched in order (the workspace's ``templates`` folder, then the shipped examples);
a language without the template falls back to English.

Variables (see docs/channels.md): ``debtor``, ``invoices``, ``totals``, ``days_past_due``,
``offer``, ``payment_link``, ``opt_out_link``, ``collector``, ``creditor``, ``today``, and the
filters ``money(minor, currency)`` and ``date``, which format for the debtor's locale with Babel.

Text from imported data is made safe to print before it reaches a template
(:func:`safe_variables`): bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and the like,
which make a printed name or amount read differently from what it is) and other control
characters are removed, and line breaks in one-line fields (names, invoice numbers, references,
addresses of email and phone) become spaces, so an imported name cannot add lines to a message or
a letter. A postal address keeps its lines.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from arrears.domain.errors import InvalidInput, NotFound
from arrears.domain.money import exponent, from_minor

#: Every variable a template may use (documented in docs/channels.md).
VARIABLES: frozenset[str] = frozenset(
    {
        "debtor",
        "invoices",
        "totals",
        "days_past_due",
        "offer",
        "payment_link",
        "opt_out_link",
        "collector",
        "creditor",
        "today",
        "channel",
    }
)
BLOCKS = ("subject", "text", "html")
SUFFIX = ".j2"
DEFAULT_LANGUAGE = "en"
DATE_PATTERN = "d MMM y"  # en: 22 Nov 2026; es: 22 nov 2026


#: Bidirectional formatting characters: embeddings, overrides, isolates and marks.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
#: Line and paragraph breaks besides CR and LF.
_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_DROP = dict.fromkeys(
    [ord(c) for c in _BIDI]
    + [c for c in range(0x20) if chr(c) not in "\t\n\r" + _BREAKS]
    + [0x7F]
    + [c for c in range(0x80, 0xA0) if c != 0x85]
)
_ONE_LINE = {**_DROP, **dict.fromkeys(map(ord, "\t\r\n" + _BREAKS), " ")}
_LINES = {**_DROP, ord("\t"): " ", **dict.fromkeys(map(ord, _BREAKS), "\n")}
#: Fields whose line breaks are kept (a postal address has lines).
MULTI_LINE = frozenset({"postal"})


def safe_line(text: str) -> str:
    """``text`` as one printable line: no bidi controls, no control characters, breaks as
    spaces (runs of spaces kept as they are elsewhere)."""
    return text.translate(_ONE_LINE).strip()


def safe_lines(text: str) -> str:
    """``text`` with its lines (CR LF, CR, U+2028... become LF) but no bidi or control
    characters."""
    return "\n".join(
        line.strip()
        for line in text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINES).split("\n")
    ).strip()


def safe_variables(value: Any, key: str = "") -> Any:
    """``value`` (the variables of a message) with every text made safe to print:
    :func:`safe_lines` for :data:`MULTI_LINE` fields, :func:`safe_line` for the others."""
    if isinstance(value, str):
        return safe_lines(value) if key in MULTI_LINE else safe_line(value)
    if isinstance(value, dict):
        return {k: safe_variables(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_variables(v, key) for v in value]
    return value


class TemplateMissing(NotFound):
    """No root has the template in the language or in English."""


class TemplateBroken(InvalidInput):
    """The template does not parse, or uses something it may not."""


def shipped_root() -> Path | None:
    """The templates shipped with arrears (``examples/templates`` or the packaged copy)."""
    packaged = resources.files("arrears").joinpath("_examples", "templates")
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "examples" / "templates"
    return checkout if checkout.is_dir() else None


def locale_for(language: str, country: str) -> Locale:
    """The Babel locale of a debtor: ``<language>_<country>`` if CLDR knows it, else the
    language, else English."""
    lang = (language or DEFAULT_LANGUAGE).split("-")[0].split("_")[0].lower()
    for tag in (f"{lang}_{(country or '').upper()}", lang):
        try:
            return Locale.parse(tag)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en_US")


def money(minor: int | Decimal, currency: str, locale: Locale) -> str:
    """An amount in minor units, formatted for the locale (``$1,234.50``, ``$1.234,50``)."""
    amount = from_minor(int(minor), currency) if isinstance(minor, int) else minor
    # the ledger's decimals (ISO 4217), not CLDR's cash digits: COP 1.234,50 is never rounded
    pattern = copy.copy(locale.currency_formats["standard"])
    digits = exponent(currency)
    pattern.frac_prec = (digits, digits)
    return str(pattern.apply(amount, locale, currency=currency, currency_digits=False))


@functools.lru_cache(maxsize=64)  # compiled templates are kept (the loader reloads edits)
def _environment(root: Path, *, html: bool, locale: Locale) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(root)),
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda minor, currency: money(minor, currency, locale)
    env.filters["date"] = lambda d: (
        format_date(d, DATE_PATTERN, locale=locale) if isinstance(d, date) else str(d)
    )
    env.filters["number"] = lambda n: format_decimal(n, locale=locale)
    return env


@dataclass(frozen=True, slots=True)
class Rendered:
    template: str  # <lang>/<name>.j2 as found
    subject: str
    text: str
    html: str | None


def find_template(roots: list[Path], name: str, language: str) -> tuple[Path, str]:
    """The root and the relative path of template ``name`` for ``language`` (else English)."""
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise TemplateMissing(f"template name {name!r} may use letters, digits, _ and - only")
    lang = language.replace("-", "_").split("_", maxsplit=1)[0].lower() or DEFAULT_LANGUAGE
    langs = [lang, DEFAULT_LANGUAGE]
    for lang in dict.fromkeys(langs):
        for root in roots:
            if (root / lang / f"{name}{SUFFIX}").is_file():
                return root, f"{lang}/{name}{SUFFIX}"
    looked = ", ".join(str(r) for r in roots) or "no template folder"
    raise TemplateMissing(f"no template {name!r} (looked in {looked})")


def render(
    roots: list[Path], name: str, language: str, country: str, variables: dict[str, Any]
) -> Rendered:
    """Render the blocks of template ``name`` for a debtor; the subject is one line. The
    variables' texts are made safe to print first (:func:`safe_variables`)."""
    variables = safe_variables(variables)
    root, rel = find_template(roots, name, language)
    locale = locale_for(language, country)
    out: dict[str, str | None] = {}
    for block in BLOCKS:
        env = _environment(root, html=block == "html", locale=locale)
        try:
            template = env.get_template(rel)
        except TemplateSyntaxError as exc:
            raise TemplateBroken(f"{rel}:{exc.lineno}: {exc.message}") from None
        if block not in template.blocks:
            out[block] = None
            continue
        context = template.new_context(dict(variables))
        try:
            out[block] = "".join(template.blocks[block](context)).strip()
        except UndefinedError as exc:
            raise TemplateBroken(f"{rel}: {exc.message}") from None
    text = out["text"] or ""
    subject = " ".join((out["subject"] or "").split())  # no CR/LF: no header injection
    html = out["html"]
    if html is None and text:
        html = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    if html is not None:
        html = _layout(root, rel.split("/")[0], locale, variables, Markup(html))
    return Rendered(template=rel, subject=subject, text=text, html=html)


def _layout(root: Path, lang: str, locale: Locale, variables: dict[str, Any], body: Markup) -> str:
    """Wrap an email's HTML in ``<root>/<lang>/_layout.html`` if there is one."""
    if not (root / lang / "_layout.html").is_file():
        return str(body)
    env = _environment(root, html=True, locale=locale)
    return env.get_template(f"{lang}/_layout.html").render({**variables, "body": body})


def check_template(roots: list[Path], name: str, language: str) -> list[str]:
    """Problems of one template in one language: missing, does not parse, or uses a variable
    that is not one of :data:`VARIABLES` (or assigned in the template)."""
    try:
        root, rel = find_template(roots, name, language)
    except TemplateMissing as exc:
        return [str(exc)]
    env = _environment(root, html=False, locale=Locale.parse("en_US"))
    source = (root / rel).read_text(encoding="utf-8")
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        return [f"{rel}:{exc.lineno}: {exc.message}"]
    problems = []
    for var in sorted(meta.find_undeclared_variables(ast) - VARIABLES):
        line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == var), 0)
        problems.append(f"{rel}:{line}: unknown variable {var!r}")
    return problems
