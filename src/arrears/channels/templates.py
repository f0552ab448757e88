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
``offer``, ``payment_link``, ``opt_out_link``, ``collector``, ``creditor``, ``today``,
``channel``, ``earlier_contacts``, and the filters ``money(minor, currency)`` and ``date``,
which format for the debtor's locale with Babel.

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
import itertools
import re
import traceback
import weakref
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import NumberPattern, format_decimal
from jinja2 import (
    BytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.bccache import Bucket
from jinja2.ext import Extension
from jinja2.runtime import Context
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
        "earlier_contacts",
    }
)
BLOCKS = ("subject", "text", "html")
SUFFIX = ".j2"
DEFAULT_LANGUAGE = "en"
DATE_PATTERN = "medium"  # CLDR: en_US Oct 22, 2026; es_CO 22/10/2026; de_DE 22.10.2026


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


@functools.lru_cache(maxsize=8192)  # the same amounts recur (a message's text and HTML)
def money(minor: int | Decimal, currency: str, locale: Locale) -> str:
    """An amount in minor units, formatted for the locale (``$1,234.50``, ``$1.234,50``)."""
    amount = from_minor(int(minor), currency) if isinstance(minor, int) else minor
    pattern = _currency_pattern(currency, locale)
    return str(pattern.apply(amount, locale, currency=currency, currency_digits=False))


@functools.lru_cache(maxsize=1024)
def _currency_pattern(currency: str, locale: Locale) -> NumberPattern:
    """The locale's currency pattern with the currency's decimals: made once per locale and
    currency (a worker formats thousands of amounts in a few dozen of them)."""
    # the ledger's decimals (ISO 4217), not CLDR's cash digits: COP 1.234,50 is never rounded
    pattern: NumberPattern = copy.copy(locale.currency_formats["standard"])
    digits = exponent(currency)
    pattern.frac_prec = (digits, digits)
    return pattern


#: A block tag that ends a line of text (``...{% endif %}``) keeps the line's break: the
#: environment trims the newline after a tag only when the tag stands alone on its line.
_TAG_ENDS_LINE = re.compile(r"(\{%(?:(?!%\}).)*?)(?<![+\-])%\}([ \t]*)$")
_TAGS = re.compile(r"\{%.*?%\}|\{#.*?#\}")


class KeepLineBreaks(Extension):
    """Whitespace control that keeps the lines of a template: a ``{% ... %}`` tag alone on its
    line vanishes with its line (``trim_blocks``, ``lstrip_blocks``), while a tag that ends a
    line of text (``- {{ inv.number }}{% if ... %} (late){% endif %}``) keeps the line break
    after it, as if written ``+%}``. Without this, ``trim_blocks`` ran the invoice lines of every
    plain-text body together."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        lines = source.split("\n")
        for i, line in enumerate(lines):
            if "%}" not in line or not _TAGS.sub("", line).strip():
                continue  # no tag, or only tags: trimmed as usual
            lines[i] = _TAG_ENDS_LINE.sub(r"\1+%}\2", line)
        return "\n".join(lines)


@functools.lru_cache(maxsize=4096)
def _plural_form(locale: Locale, n: int) -> str:
    return str(locale.plural_form(n))


def plural(n: int, one: str, other: str, locale: Locale, many: str | None = None) -> str:
    """``one`` or ``other`` (``many`` where CLDR has that form: es/pt/fr millions) by the
    locale's plural rule for ``n``, with ``{n}`` replaced by ``n`` formatted for the locale:
    ``{{ d | plural("{n} day", "{n} days") }}`` is "1 day", "2 days"; French "0 jour" (0 is
    singular in French and Portuguese)."""
    form = _plural_form(locale, n)
    text = one if form == "one" else (many if form == "many" and many else other)
    return text.replace("{n}", format_decimal(n, locale=locale))


class _SharedCode(BytecodeCache):
    """Compiled template code shared by every environment of this process: an environment is
    made per root, autoescaping and locale (the filters format for the locale), and without
    this each of them parsed and compiled every template again (a dispatch worker meets a few
    dozen locales: 95 compilations of 66 ms in a profile of 2,000 emails). The code is keyed
    by the template's file, name and autoescaping (the compiled code differs with it) and
    checked against the source's checksum, so an edited template is compiled again."""

    def __init__(self) -> None:
        self.codes: dict[str, tuple[str, Any]] = {}

    def get_bucket(self, environment: Any, name: str, filename: str | None, source: str) -> Bucket:
        key = f"{self.get_cache_key(name, filename)}:{int(bool(environment.autoescape))}"
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self.codes.get(bucket.key)
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.codes[bucket.key] = (bucket.checksum, bucket.code)


_CODE = _SharedCode()


@functools.lru_cache(maxsize=1024)  # compiled templates are kept (the loader reloads edits)
def environment(root: Path, *, html: bool, locale: Locale) -> SandboxedEnvironment:
    """The one template environment of every channel (emails, SMS, WhatsApp, letters, the
    statement): sandboxed, strict about undefined names, HTML autoescaped, lines kept
    (:class:`KeepLineBreaks`), and the filters that format for the debtor's ``locale`` with
    Babel: ``money(currency)``, ``date``, ``number``, ``plural(one, other)``. Environments of
    different locales share the compiled code (:class:`_SharedCode`)."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(root)),
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[KeepLineBreaks],
        bytecode_cache=_CODE,
    )

    def money_(minor: int | Decimal, currency: str) -> str:
        return money(minor, currency, locale)

    def date_(d: object) -> str:
        return format_date(d, DATE_PATTERN, locale=locale) if isinstance(d, date) else str(d)

    def number_(n: int | Decimal) -> str:
        return str(format_decimal(n, locale=locale))

    def plural_(n: int, one: str, other: str, many: str | None = None) -> str:
        return plural(n, one, other, locale, many)

    env.filters.update(money=money_, date=date_, number=number_, plural=plural_)
    return env


@dataclass(frozen=True, slots=True)
class Rendered:
    template: str  # <lang>/<name>.j2 as found
    subject: str
    text: str
    html: str | None
    language: str = DEFAULT_LANGUAGE  # the language of the text (the template's folder)
    wanted: str = DEFAULT_LANGUAGE  # the debtor's language (its base: es for es_CO)

    @property
    def fallback(self) -> bool:
        """The debtor's language has no such template: the text is in another language."""
        return self.language != self.wanted


def base_language(language: str) -> str:
    """``es`` for ``es``, ``es_CO``, ``es-CO``; English for none."""
    return language.replace("-", "_").split("_", maxsplit=1)[0].lower() or DEFAULT_LANGUAGE


def fallback_languages(language: str, portfolio_language: str | None = None) -> list[str]:
    """The template folders tried for a debtor, in order: the debtor's language as given
    (``pt_BR``), its base language (``pt``), the portfolio's language (the workspace's
    ``locale``), English."""
    tags = [language.replace("-", "_"), base_language(language)]
    if portfolio_language:
        tags.append(base_language(portfolio_language))
    tags.append(DEFAULT_LANGUAGE)
    return list(dict.fromkeys(t for t in tags if t))


def find_template(
    roots: list[Path],
    name: str,
    language: str,
    portfolio_language: str | None = None,
    *,
    cached: bool = False,
) -> tuple[Path, str]:
    """The root and the relative path of template ``name`` for ``language`` (in the order of
    :func:`fallback_languages`; in each language, the first root that has it). ``cached``: the
    files as looked at since the last :func:`recheck` (:func:`render`)."""
    is_file = _is_file if cached else Path.is_file
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
        raise TemplateMissing(f"template name {name!r} may use letters, digits, _ and - only")
    for lang in fallback_languages(language, portfolio_language):
        for root in roots:
            if is_file(root / lang / f"{name}{SUFFIX}"):
                return root, f"{lang}/{name}{SUFFIX}"
    looked = ", ".join(str(r) for r in roots) or "no template folder"
    raise TemplateMissing(f"no template {name!r} (looked in {looked})")


#: The signature's default (``channels.collector_name``'s default value) in each shipped
#: language: a workspace that keeps the default signs in the debtor's language; a name of its
#: own is printed as it is.
DEFAULT_COLLECTOR = "Accounts receivable"
COLLECTOR_NAMES = {
    "en": DEFAULT_COLLECTOR,
    "es": "Departamento de cartera",
    "pt": "Departamento de cobrança",
    "fr": "Service recouvrement",
    "de": "Forderungsmanagement",
}


def _translated_signature(variables: dict[str, Any], language: str) -> dict[str, Any]:
    collector = variables.get("collector")
    if isinstance(collector, dict) and collector.get("name") == DEFAULT_COLLECTOR:
        name = COLLECTOR_NAMES.get(base_language(language), DEFAULT_COLLECTOR)
        return {**variables, "collector": {**collector, "name": name}}
    return variables


def _where(exc: BaseException, root: Path, env: SandboxedEnvironment, rel: str) -> str:
    """``<file>:<line>`` of the template an error was raised in: the last template frame of the
    traceback (a template that extends another fails in its parent's lines), else ``rel``."""
    base = str(root.resolve())
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.endswith(SUFFIX) and str(Path(f.filename).resolve()).startswith(base)
    ]
    if not frames:
        return f"{rel}:0"
    at = Path(frames[-1].filename).resolve().relative_to(base).as_posix()
    try:
        line = env.get_template(at).get_corresponding_lineno(frames[-1].lineno or 0)
    except (TemplateNotFound, TemplateSyntaxError):
        line = 0
    return f"{at}:{line}"


#: The template each compiled template extends (None: none), found once per compiled template
#: (a template edited on disk is compiled again, and looked at again).
_PARENTS: weakref.WeakKeyDictionary[Template, str | None] = weakref.WeakKeyDictionary()


def _parent(env: SandboxedEnvironment, template: Template, rel: str) -> str | None:
    if template not in _PARENTS:
        source = env.loader.get_source(env, rel)[0] if env.loader else ""
        _PARENTS[template] = _extends(env, source)
    return _PARENTS[template]


def _extends(env: SandboxedEnvironment, source: str) -> str | None:
    """The template ``source`` extends (None: none), parsed once per distinct source (every
    environment's copy of a template has the same)."""
    key = (bool(env.autoescape), source)
    if key not in _EXTENDS:
        if len(_EXTENDS) > 1024:
            _EXTENDS.clear()
        _EXTENDS[key] = next(
            (n.template.value for n in env.parse(source).find_all(nodes.Extends)
             if isinstance(n.template, nodes.Const) and isinstance(n.template.value, str)),
            None,
        )  # fmt: skip
    return _EXTENDS[key]


_EXTENDS: dict[tuple[bool, str], str | None] = {}

#: Templates looked up since the last :func:`recheck` (``(environment, name)`` -> template, and
#: the epoch it was looked up in): Jinja checks a template's file for edits at every lookup (a
#: ``stat`` per lookup, several a message); the dispatcher instead checks once a batch.
_LOOKED_UP: weakref.WeakKeyDictionary[SandboxedEnvironment, dict[str, tuple[int, Template]]] = (
    weakref.WeakKeyDictionary()
)
_EPOCHS = itertools.count(1)
_EPOCH = [0]  # the current epoch


_SEEN: dict[tuple[Path, bool], tuple[int, bool]] = {}


def _is_file(path: Path) -> bool:
    """``path.is_file()``, looked at once an epoch (:func:`recheck`)."""
    return _exists(path, False)


def _is_dir(path: Path) -> bool:
    """``path.is_dir()``, looked at once an epoch (:func:`recheck`)."""
    return _exists(path, True)


def _exists(path: Path, folder: bool) -> bool:
    hit = _SEEN.get((path, folder))
    if hit is not None and hit[0] == _EPOCH[0]:
        return hit[1]
    if len(_SEEN) > 4096:
        _SEEN.clear()
    found = path.is_dir() if folder else path.is_file()
    _SEEN[(path, folder)] = (_EPOCH[0], found)
    return found


def recheck() -> None:
    """Look at the template files again for edits at the next lookups (:func:`render` with
    ``recheck_files=False``: the dispatcher calls this once a batch)."""
    _EPOCH[0] = next(_EPOCHS)


def _get_template(env: SandboxedEnvironment, rel: str) -> Template:
    """``env.get_template(rel)``, looked up (and its file checked for edits) once an epoch."""
    known = _LOOKED_UP.setdefault(env, {})
    hit = known.get(rel)
    if hit is not None and hit[0] == _EPOCH[0]:
        return hit[1]
    template = env.get_template(rel)
    known[rel] = (_EPOCH[0], template)
    return template


def _inherit(env: SandboxedEnvironment, template: Template, context: Context, rel: str) -> None:
    """The blocks of the templates ``template`` extends, added to ``context`` (a template that
    is ``{% extends "es/notice_overdue.j2" %}`` and nothing else renders its parent's blocks)."""
    seen = {rel}
    parent = _parent(env, template, rel)
    while parent is not None and parent not in seen:
        seen.add(parent)
        try:
            base = _get_template(env, parent)
        except TemplateSyntaxError as exc:
            raise TemplateBroken(f"{parent}:{exc.lineno}: {exc.message}") from None
        except TemplateNotFound:
            raise TemplateBroken(f"{rel}: extends {parent!r}, which is not there") from None
        for name, func in base.blocks.items():
            context.blocks.setdefault(name, []).append(func)
        parent = _parent(env, base, parent)


def render(
    roots: list[Path],
    name: str,
    language: str,
    country: str,
    variables: dict[str, Any],
    portfolio_language: str | None = None,
    *,
    recheck_files: bool = True,
) -> Rendered:
    """Render the blocks of template ``name`` for a debtor; the subject is one line. The
    variables' texts are made safe to print first (:func:`safe_variables`). The template is
    the debtor's language's if there is one, else the next of :func:`fallback_languages`;
    amounts and dates are formatted in the language of the text and the debtor's country
    (English text for a German debtor: ``en_DE``, never English words with German months).
    ``recheck_files=False``: the template files are looked at for edits only after the next
    :func:`recheck` (the dispatcher's batches), not at this call."""
    if recheck_files:
        recheck()
    variables = safe_variables(variables)
    root, rel = find_template(roots, name, language, portfolio_language, cached=True)
    used = rel.split("/")[0]
    locale = locale_for(used, country)
    variables = _translated_signature(variables, used)
    out: dict[str, str | None] = {}
    for block in BLOCKS:
        env = environment(root, html=block == "html", locale=locale)
        try:
            template = _get_template(env, rel)
        except TemplateSyntaxError as exc:
            raise TemplateBroken(f"{rel}:{exc.lineno}: {exc.message}") from None
        context = template.new_context(dict(variables))
        _inherit(env, template, context, rel)
        if block not in context.blocks:
            out[block] = None
            continue
        try:
            out[block] = "".join(context.blocks[block][0](context)).strip()
        except UndefinedError as exc:
            raise TemplateBroken(f"{_where(exc, root, env, rel)}: {exc.message}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:  # a filter misused
            said = str(exc).replace("environment.<locals>.", "filter ").replace("_()", "")
            raise TemplateBroken(f"{_where(exc, root, env, rel)}: {said}") from None
    text = out["text"] or ""
    subject = " ".join((out["subject"] or "").split())  # no CR/LF: no header injection
    html = out["html"]
    if html is None and text:
        html = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n\n"))
    if html is not None:
        html = _layout(root, used, locale, variables, Markup(html))
    wanted = language.replace("-", "_") if _is_dir(root / language.replace("-", "_")) else ""
    return Rendered(
        template=rel,
        subject=subject,
        text=text,
        html=html,
        language=used,
        wanted=wanted or base_language(language),
    )


def _layout(root: Path, lang: str, locale: Locale, variables: dict[str, Any], body: Markup) -> str:
    """Wrap an email's HTML in ``<root>/<lang>/_layout.html`` if there is one."""
    if not _is_file(root / lang / "_layout.html"):
        return str(body)
    env = environment(root, html=True, locale=locale)
    return _get_template(env, f"{lang}/_layout.html").render({**variables, "body": body})


def check_template(roots: list[Path], name: str, language: str) -> list[str]:
    """Problems of one template in one language: missing, does not parse, or uses a variable
    that is not one of :data:`VARIABLES` (or assigned in the template)."""
    try:
        root, rel = find_template(roots, name, language)
    except TemplateMissing as exc:
        return [str(exc)]
    env = environment(root, html=False, locale=Locale.parse("en_US"))
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


# checking every template --------------------------------------------------------------------

#: The languages arrears ships templates in.
LANGUAGES = ("en", "es", "pt", "fr", "de")
#: The sample debtor of each language: a name, a country and a currency (template check, the
#: golden files of tests/test_template_golden.py).
_SAMPLE_DEBTORS = {
    "en": ("Miller Supply Co.", "US", "USD"),
    "es": ("Ferretería Gómez S.A.S.", "CO", "COP"),
    "pt": ("Pereira & Silva Comércio Ltda.", "BR", "BRL"),
    "fr": ("Dubois Distribution SARL", "FR", "EUR"),
    "de": ("Schäfer Logistik GmbH", "DE", "EUR"),
}
SAMPLE_DAY = date(2026, 11, 25)


def sample_debtor(language: str) -> tuple[str, str, str]:
    """``(name, country, currency)`` of the sample debtor of ``language``."""
    return _SAMPLE_DEBTORS.get(base_language(language), ("Sam Example", "", "EUR"))


def sample_variables(language: str, channel: str = "email") -> dict[str, Any]:
    """Every documented variable, for a sample debtor of ``language`` on ``channel`` on
    :data:`SAMPLE_DAY`: three open invoices (34 days and 1 day past due, one not yet due), so
    that a template shows its plurals, amounts and dates."""
    name, country, currency = sample_debtor(language)

    def invoice(number: str, due: date, amount: int, open_: int) -> dict[str, Any]:
        return {
            "number": number,
            "reference": f"PO-{number[-4:]}",
            "issue_date": due - timedelta(days=30),
            "instalment": 1,
            "due_date": due,
            "days_past_due": max((SAMPLE_DAY - due).days, 0),
            "currency": currency,
            "amount": amount,
            "open": open_,
        }

    invoices = [
        invoice("INV-2026-0917", date(2026, 10, 22), 1_250_000, 1_250_000),
        invoice("INV-2026-1021", date(2026, 11, 24), 348_090, 248_090),
        invoice("INV-2026-1102", date(2026, 12, 9), 99_900, 99_900),
    ]
    overdue = sum(i["open"] for i in invoices if i["days_past_due"] > 0)
    return {
        "debtor": {
            "id": "C-10042",
            "name": name,
            "kind": "company",
            "country": country,
            "language": language,
            "currency": currency,
            "email": "ap@example.com",
            "phone": "+15555550100",
            "postal": "1 Example Street\n12345 Example City",
        },
        "invoices": invoices,
        "totals": [
            {"currency": currency, "open": sum(i["open"] for i in invoices), "overdue": overdue}
        ],
        "days_past_due": 34,
        "offer": {
            "instalments": 6,
            "min_instalment": 5000,
            "annual_interest": 0.12,
            "max_discount": 0.05,
            "expires_after_days": 14,
        },
        "payment_link": "https://pay.example.com/C-10042",
        "opt_out_link": "https://example.com/opt-out?d=C-10042&c=email&s=0123abcd",
        "collector": {"name": DEFAULT_COLLECTOR, "email": "ar@example.com", "phone": ""},
        "creditor": {"name": "Example Company"},
        "today": SAMPLE_DAY,
        "channel": channel,
        "earlier_contacts": 2,
    }


def template_names(roots: list[Path]) -> list[str]:
    """Every template name in the roots (``<lang>/<name>.j2``; files starting with ``_`` are
    layouts and parts, not templates)."""
    return sorted(
        {
            f.name.removesuffix(SUFFIX)
            for root in roots
            for f in root.glob(f"*/*{SUFFIX}")
            if not f.name.startswith("_")
        }
    )


def template_languages(roots: list[Path]) -> list[str]:
    """The language folders of the roots."""
    return sorted({d.name for root in roots for d in root.iterdir() if d.is_dir()})


@dataclass(frozen=True, slots=True)
class Need:
    """A template a policy names, and where (``file:line``, for the report)."""

    name: str
    where: str


def check_all(roots: list[Path], needs: list[Need], languages: list[str]) -> list[str]:
    """Every problem of the templates in ``roots``, each ``<file>:<line>: <what>``:

    - each file (every name, every language folder, in each root) parses, uses only
      :data:`VARIABLES`, and renders with the sample debtor of its language
      (:func:`sample_variables`) in every block;
    - each template ``needs`` names (the policy's) exists, and in each of ``languages`` (the
      languages of the portfolio's debtors) without falling back to another language."""
    problems: list[str] = []
    for root in roots:
        for path in sorted(root.glob(f"*/*{SUFFIX}")):
            if path.name.startswith("_"):
                continue
            lang, name = path.parent.name, path.name.removesuffix(SUFFIX)
            found = check_template([root], name, lang)
            if not found:
                country = sample_debtor(lang)[1]
                try:
                    render([root], name, lang, country, sample_variables(lang))
                except (TemplateBroken, TemplateMissing) as exc:
                    found = [str(exc)]
                except Exception as exc:  # a filter given the wrong type, a sandbox refusal
                    env = environment(root, html=False, locale=Locale.parse("en"))
                    found = [f"{_where(exc, root, env, f'{lang}/{path.name}')}: {exc}"]
            problems += [f"{root}/{m}" if not m.startswith("no template") else m for m in found]
    for need in needs:
        for lang in languages:
            try:
                root, rel = find_template(roots, need.name, lang)
            except TemplateMissing:
                problems.append(f"{need.where}: no template {need.name!r} in any language")
                break
            used = rel.split("/")[0]
            if used != base_language(lang) and used != lang:
                problems.append(
                    f"{need.where}: template {need.name!r} has no {lang!r} text "
                    f"({lang} debtors would get {root / rel})"
                )
    return sorted(dict.fromkeys(problems))
