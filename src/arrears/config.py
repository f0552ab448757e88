"""Workspace settings: ``arrears.toml`` in the workspace folder, overridden by ``ARREARS_*``
environment variables, over built-in defaults. Every setting is declared once in ``SETTINGS`` with
its documentation; ``arrears config`` shows the effective value of each and where it came from,
secrets masked.

Secrets (``Setting.secret``: the signing key, provider passwords and tokens) may also live in
``secrets.toml`` beside ``arrears.toml`` (readable by its owner only; ``arrears init`` writes a
random ``channels.secret`` there), so ``arrears.toml`` can be shared or versioned. Precedence:
environment, ``secrets.toml``, ``arrears.toml``, default.

Column mappings for imports live in ``[import.columns.<kind>]`` tables of the same file
(canonical column = header in the user's file).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from arrears.cycle.frames import RATE_DIGITS
from arrears.domain.errors import InvalidInput
from arrears.domain.money import is_currency

CONFIG_FILE = "arrears.toml"
SECRETS_FILE = "secrets.toml"
#: The workspace's dated ECB reference rates for the EU late-payment interest (``from,rate``).
REFERENCE_RATES_FILE = "reference_rates.csv"
#: How ``arrears config`` shows a secret that is set.
MASK = "********"


class ConfigError(InvalidInput):
    """A setting that cannot be used; the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # dotted key in arrears.toml, e.g. "import.date_format"
    default: str
    doc: str
    choices: tuple[str, ...] = ()
    #: a password, token or key: masked by ``arrears config``, allowed in ``secrets.toml``
    secret: bool = False

    @property
    def env(self) -> str:
        return "ARREARS_" + self.key.replace(".", "_").upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "sqlite:///{workspace}/arrears.db",
        "SQLAlchemy URL of the store; SQLite file in the workspace by default, "
        "postgresql://user@host/db for production.",
    ),
    Setting("base_currency", "USD", "ISO 4217 currency of the default portfolio."),
    Setting("timezone", "America/New_York", "IANA time zone for debtors that do not give one."),
    Setting("country", "US", "ISO 3166 country for debtors that do not give one."),
    Setting("locale", "en_US", "Locale for formatting amounts and dates (en_US, es_CO, ...)."),
    Setting("portfolio", "default", "Code of the portfolio that commands work on by default."),
    Setting(
        "policy",
        "policies/b2b.yaml",
        "Collection policy file the cycle runs (relative to the workspace); a [policies] table "
        'maps a portfolio code to its own file (retail = "policies/us-consumer.yaml").',
    ),
    Setting(
        "allocation_rule",
        "oldest_due_first",
        "How a payment without explicit allocations is applied to open instalments.",
        ("oldest_due_first", "newest_due_first", "none"),
    ),
    Setting(
        "import.date_format",
        "auto",
        "strftime format of dates in imported files; 'auto' accepts ISO 8601 (YYYY-MM-DD).",
    ),
    Setting(
        "import.decimal_separator",
        ".",
        "Decimal separator of amounts in imported files ('.' or ',').",
        (".", ","),
    ),
    Setting(
        "import.thousands_separator",
        "",
        "Thousands separator of amounts in imported files ('', ',', '.', ' ' or \"'\").",
        ("", ",", ".", " ", "'"),
    ),
    Setting(
        "import.encoding",
        "auto",
        "Text encoding of imported CSV files: 'auto' (UTF-8 with or without BOM, else "
        "Latin-1), 'utf-8' or 'latin-1'.",
        ("auto", "utf-8", "latin-1"),
    ),
    Setting(
        "import.delimiter",
        "auto",
        "Field delimiter of imported CSV files: 'auto' (sniffed from the header), ',', ';', "
        "'|' or 'tab'.",
        ("auto", ",", ";", "|", "tab"),
    ),
    Setting(
        "channels.email",
        "file",
        "Adapter that sends email: 'file' (the outbox folder), 'smtp', or a third-party adapter "
        "from the arrears.channels entry points.",
    ),
    Setting(
        "channels.sms",
        "file",
        "Adapter that sends SMS: 'file', 'webhook' (generic JSON) or 'twilio'.",
    ),
    Setting(
        "channels.whatsapp",
        "file",
        "Adapter that sends WhatsApp messages: 'file', 'webhook' or 'twilio'.",
    ),
    Setting(
        "channels.letter",
        "file",
        "Adapter that sends letters: 'file' (JSON) or 'pdf' (a PDF per letter in the outbox's "
        "letter folder: the print batch).",
    ),
    Setting(
        "channels.outbox_dir",
        "{workspace}/outbox",
        "Folder of the file sink and of the PDF letters.",
    ),
    Setting(
        "channels.templates",
        "templates",
        "Folder of the message templates (<lang>/<name>.j2), relative to the workspace; the "
        "shipped ones are used for names it lacks.",
    ),
    Setting(
        "channels.from_email",
        "collections@example.com",
        "Sender address of emails (its domain ends the Message-ID).",
    ),
    Setting("channels.from_name", "Collections", "Sender name of emails."),
    Setting(
        "channels.creditor_name",
        "Example Company",
        "The creditor's name in messages and letters (creditor.name).",
    ),
    Setting(
        "creditor.address",
        "",
        "The creditor's postal address in the letterhead of letters and statements; lines "
        "separated by '|' or newlines.",
    ),
    Setting(
        "creditor.registration",
        "",
        "The creditor's registration (company number, VAT or tax id) in the letterhead.",
    ),
    Setting("creditor.logo", "", "PNG or JPEG logo printed at the top right of letters."),
    Setting("creditor.bank", "", "The bank that holds the creditor's account (letters)."),
    Setting("creditor.iban", "", "The creditor's account number or IBAN printed on letters."),
    Setting("creditor.bic", "", "The BIC/SWIFT code of the creditor's bank (letters)."),
    Setting(
        "creditor.payment_reference",
        "{customer}",
        "The payment reference printed on letters and statements; {customer} becomes the "
        "debtor's customer number.",
    ),
    Setting(
        "channels.collector_name",
        "Accounts receivable",
        "The signature of messages (collector.name).",
    ),
    Setting("channels.collector_phone", "", "The collector's phone number (collector.phone)."),
    Setting(
        "channels.payment_url",
        "https://pay.example.com/{debtor}",
        "Payment link (payment_link); {debtor} becomes the debtor's id.",
    ),
    Setting(
        "channels.opt_out_url",
        "https://example.com/opt-out",
        "Opt-out endpoint; the signed link (opt_out_link) adds "
        "?d=<debtor>&c=<channel>&s=<signature>.",
    ),
    Setting(
        "channels.secret",
        "",
        "Key that signs opt-out links and verifies delivery callbacks (HMAC-SHA256); "
        "'arrears init' writes a random one to secrets.toml. Without it nothing is dispatched "
        "(the links in messages could not be verified) and every link and callback is refused.",
        secret=True,
    ),
    Setting(
        "channels.attach_statement",
        "overdue",
        "Which emails carry the statement of account as a PDF attachment: 'overdue' (dunning "
        "emails: the debtor has an invoice past due), 'always' or 'never'.",
        ("overdue", "always", "never"),
    ),
    Setting("dispatch.batch_size", "100", "Messages one worker claims at a time."),
    Setting("dispatch.max_attempts", "5", "Attempts before a temporary failure becomes final."),
    Setting(
        "dispatch.backoff_seconds",
        "60",
        "First retry delay; doubled per attempt (capped at 6 hours), with +-50% jitter.",
    ),
    Setting(
        "dispatch.lease_seconds",
        "300",
        "After this long a claimed or sending row of a stopped worker is reconciled.",
    ),
    Setting(
        "dispatch.poll_seconds", "5", "How often 'arrears worker' looks for due messages when idle."
    ),
    Setting(
        "smtp.rate",
        "",
        "Most messages a second one worker hands to the smtp adapter (token bucket; empty or 0: "
        "no limit). Per worker process: divide the provider's limit by the number of workers.",
    ),
    Setting("smtp.burst", "", "Messages the smtp rate limit lets through at once (default: rate)."),
    Setting(
        "webhook.rate",
        "",
        "Most messages a second one worker hands to the webhook adapter (token bucket; empty or 0: "
        "no limit). Per worker process: divide the provider's limit by the number of workers.",
    ),
    Setting(
        "webhook.burst", "", "Messages the webhook rate limit lets through at once (default: rate)."
    ),
    Setting(
        "twilio.rate",
        "",
        "Most messages a second one worker hands to the twilio adapter (token bucket; empty or 0: "
        "no limit). Per worker process: divide the provider's limit by the number of workers.",
    ),
    Setting(
        "twilio.burst", "", "Messages the twilio rate limit lets through at once (default: rate)."
    ),
    Setting("smtp.host", "127.0.0.1", "SMTP server."),
    Setting("smtp.port", "", "SMTP port (default: 587 for starttls, 465 for tls, 25 for none)."),
    Setting(
        "smtp.security",
        "starttls",
        "'starttls', 'tls' (implicit TLS) or 'none'.",
        ("starttls", "tls", "none"),
    ),
    Setting("smtp.username", "", "SMTP login (none if empty)."),
    Setting(
        "smtp.password",
        "",
        "SMTP password; set it in the environment (ARREARS_SMTP_PASSWORD) or secrets.toml.",
        secret=True,
    ),
    Setting(
        "smtp.cafile",
        "",
        "CA bundle to trust for the SMTP server's certificate (default: the system's).",
    ),
    Setting("smtp.timeout", "30", "SMTP timeout in seconds."),
    Setting("webhook.url", "", "URL the generic JSON provider posts SMS and WhatsApp messages to."),
    Setting("webhook.token", "", "Bearer token of the webhook provider.", secret=True),
    Setting("twilio.base_url", "https://api.twilio.com", "Base URL of the Twilio-compatible API."),
    Setting("twilio.account_sid", "", "Twilio account SID."),
    Setting(
        "twilio.auth_token",
        "",
        "Twilio auth token; set it in the environment or secrets.toml.",
        secret=True,
    ),
    Setting("sms.from", "", "Sender number (or alphanumeric id) of SMS."),
    Setting("whatsapp.from", "", "Sender number of WhatsApp messages (default: sms.from)."),
    Setting("http.timeout", "30", "Timeout in seconds of the HTTP providers."),
    Setting(
        "letter.font", "", "TrueType font for PDF letters (default: DejaVu Sans if installed)."
    ),
    Setting(
        "web.public_url",
        "",
        "Public base URL of 'arrears serve' (https://collect.example.com): the base of tracking "
        "links and the URL Twilio signs; empty: the request's own URL.",
    ),
    Setting(
        "channels.tracking",
        "off",
        "Open and click tracking of emails: 'on' adds a pixel and signed redirect links under "
        "web.public_url (needs channels.secret too), 'off' adds nothing.",
        ("off", "on"),
    ),
    Setting(
        "web.max_body_bytes",
        "1048576",
        "Largest request body 'arrears serve' reads (bytes; callbacks and replies are a few KB): "
        "a longer one is refused with 413 as soon as it is longer, announced or not.",
    ),
    Setting(
        "web.attachment_max_bytes",
        "5242880",
        "Largest file a debtor may attach to a dispute on their page (bytes; PDF, JPEG or PNG).",
    ),
    # Paying online from the debtor's page (docs/web.md, "Paying online").
    Setting(
        "checkout.provider",
        "",
        "How debtors pay from their page: empty, bank transfer only; 'hosted', a hosted "
        "checkout at checkout.url; 'fake', the app's own fake provider (tests and demo).",
        ("", "hosted", "fake"),
    ),
    Setting("checkout.url", "", "The hosted checkout's URL the debtor is sent to (hosted)."),
    Setting(
        "checkout.secret", "", "Secret shared with the checkout provider (signatures).", secret=True
    ),
    # The cost to collect (arrears kpi, report, dashboard; docs/kpi.md): empty = not configured.
    Setting("costs.currency", "", "Currency of the [costs] below (empty: no cost to collect)."),
    *(
        Setting(f"costs.{name}", "0", f"Cost of one {name} message sent, in costs.currency.")
        for name in ("email", "sms", "whatsapp", "letter")
    ),
    Setting("costs.collector_hour", "0", "Cost of a collector's hour, in costs.currency."),
    Setting("costs.call_minutes", "0", "Minutes of a collector's time one logged call takes."),
    # What the debtor score predicts (docs/scoring.md, "Targets"; checked by scoring.targets).
    Setting(
        "scoring.target",
        "pays",
        "The score's target: 'pays' (pays scoring.share % of what is due within "
        "scoring.window_days), 'default' (reaches scoring.days_past_due within the window; the "
        "score is the probability it does not) or 'cures' (nothing overdue within the window).",
    ),
    Setting("scoring.window_days", "30", "The target's window, in days."),
    Setting("scoring.share", "50", "pays: the percentage of what is due that counts as paid."),
    Setting("scoring.days_past_due", "60", "default: the days past due that count as default."),
    Setting("scoring.snapshot_every_days", "7", "Training examples: every N days."),
    Setting(
        "scoring.snapshot_on",
        "",
        "Training examples: empty (every scoring.snapshot_every_days) or 'statements' (each "
        "account on the days it was issued an invoice: its billing cycle).",
    ),
)

SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Workspace:
    """Effective settings of one workspace, with where each value came from."""

    root: Path
    values: dict[str, str]
    sources: dict[str, str]
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)
    #: ``[rates]``: what one unit of a currency is worth in a common unit, as written.
    rates: dict[str, Decimal] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values[key]

    def today(self, now: datetime | None = None) -> date:
        """The workspace's day: ``now`` (default: the current time) in its ``timezone``.

        Every CLI command and web page takes "today" from here, so they agree on the day
        whatever the machine's zone. A ``timezone`` Python does not know falls back to
        the UTC day."""
        return today_in(self.values.get("timezone", "UTC"), _now() if now is None else now)

    def policy_for(self, portfolio: str) -> Path:
        """The policy file of ``portfolio``: its ``[policies]`` entry, else ``policy``."""
        path = Path(self.policies.get(portfolio, self.values["policy"]))
        return path if path.is_absolute() else self.root / path

    @property
    def database_url(self) -> str:
        return self.values["database_url"]

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def reference_rates(self) -> Path:
        """``reference_rates.csv`` in the workspace (it may not exist: the policy's
        ``reference_rate`` then applies)."""
        return self.root / REFERENCE_RATES_FILE

    @property
    def exists(self) -> bool:
        return self.config_path.is_file()


def _now() -> datetime:
    """The current time (tests replace this to pin "today")."""
    return datetime.now(UTC)


def today_in(zone: str, now: datetime) -> date:
    """The day it is at ``now`` in the IANA time zone ``zone`` (the UTC day if Python does
    not know the zone; a naive ``now`` is taken as UTC)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        return now.astimezone(ZoneInfo(zone)).date()
    except (KeyError, ValueError):
        return now.astimezone(UTC).date()


def default_today() -> date:
    """Today in the default ``timezone``: the day of commands that have no workspace yet
    (``arrears demo``, which creates one with that zone; ``arrears generate``)."""
    return today_in(SETTINGS_BY_KEY["timezone"].default, _now())


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted != "import.columns":
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def load(root: Path | str | None = None, env: dict[str, str] | None = None) -> Workspace:
    """Read the workspace at ``root`` (default: ``ARREARS_WORKSPACE`` or the current folder)."""
    env = dict(os.environ) if env is None else env
    root = Path(root or env.get("ARREARS_WORKSPACE") or ".").resolve()
    path = root / CONFIG_FILE
    file_values: dict[str, Any] = {}
    whatsapp: dict[str, str] = {}
    columns: dict[str, dict[str, str]] = {}
    policies: dict[str, str] = {}
    rates: dict[str, Decimal] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        file_values = _flatten(data)
        raw_columns = file_values.pop("import.columns", {}) or {}
        columns = _columns(path, raw_columns)
        policies = {
            key.removeprefix("policies."): str(file_values.pop(key))
            for key in [k for k in file_values if k.startswith("policies.")]
        }
        rates = _rates(
            path,
            {
                key.removeprefix("rates."): file_values.pop(key)
                for key in [k for k in file_values if k.startswith("rates.")]
            },
        )
        whatsapp = _whatsapp_templates(
            path,
            {
                key.removeprefix("whatsapp.templates."): file_values.pop(key)
                for key in [k for k in file_values if k.startswith("whatsapp.templates.")]
            },
        )
        unknown = sorted(set(file_values) - set(SETTINGS_BY_KEY))
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    secret_path = root / SECRETS_FILE
    secret_values = _secrets(secret_path) if secret_path.is_file() else {}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.env in env:
            value, source = env[setting.env], f"environment {setting.env}"
        elif setting.key in secret_values:
            value, source = secret_values[setting.key], str(secret_path)
        elif setting.key in file_values:
            value, source = str(file_values[setting.key]), str(path)
        else:
            value, source = setting.default, "default"
        value = value.replace("{workspace}", str(root))
        if setting.choices and value not in setting.choices:
            raise ConfigError(
                f"{source}: {setting.key} = {value!r}; expected one of "
                + ", ".join(repr(c) for c in setting.choices)
            )
        values[setting.key] = value
        sources[setting.key] = source
    values.update(whatsapp)  # whatsapp.templates.<template>.name|language|params
    return Workspace(
        root=root, values=values, sources=sources, columns=columns, policies=policies, rates=rates
    )


def _secrets(path: Path) -> dict[str, str]:
    """``secrets.toml``: secret settings only (anything else belongs in ``arrears.toml``)."""
    try:
        flat = _flatten(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    other = sorted(k for k in flat if k not in SETTINGS_BY_KEY or not SETTINGS_BY_KEY[k].secret)
    if other:
        raise ConfigError(
            f"{path}: only secrets belong here ({', '.join(s.key for s in SETTINGS if s.secret)}); "
            f"move {', '.join(other)} to {CONFIG_FILE}"
        )
    return {k: str(v) for k, v in flat.items()}


def write_secret(root: Path) -> Path | None:
    """Write a random ``channels.secret`` to ``<root>/secrets.toml`` (owner-only) unless the
    workspace's files already give one; returns the file written, else ``None``. The
    environment is not looked at: a secret only in the environment would be lost with it."""
    if load(root, env={}).get("channels.secret"):
        return None
    path = root / SECRETS_FILE
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    text = (
        "# Secrets of this workspace (arrears.toml holds everything else). Keep this file\n"
        "# private; keys: channels.secret, smtp.password, twilio.auth_token, webhook.token.\n"
        if not existing
        else existing.rstrip("\n") + "\n"
    )
    text += (
        "# channels.secret signs the opt-out and tracking links in messages and verifies\n"
        "# callbacks; changing it invalidates the links already sent.\n"
        f'channels.secret = "{secrets.token_urlsafe(32)}"\n'
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    path.chmod(0o600)
    return path


_URL_PASSWORD = re.compile(r"(?P<head>^[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*:)[^@/]*(?=@)")
_URL_SECRET_PARAM = re.compile(
    r"(?P<head>[?&][^=&#]*(?:token|key|secret|pass|sig|auth|credential)[^=&#]*=)[^&#]*",
    re.IGNORECASE,
)


def shown(key: str, value: str) -> str:
    """``value`` of setting ``key`` as ``arrears config`` prints it: a secret as
    :data:`MASK` (empty stays empty, so an unset one shows); in a URL, the password and the
    values of query parameters named like a secret (``api_key=``, ``token=``...) as ``***``."""
    setting = SETTINGS_BY_KEY.get(key)
    if setting is not None and setting.secret:
        return MASK if value else ""
    value = _URL_PASSWORD.sub(r"\g<head>***", value)
    return _URL_SECRET_PARAM.sub(r"\g<head>***", value)


#: The largest rate: the engine keeps rates in billionths, in 64-bit integers.
MAX_RATE = 1_000_000_000


#: The fields of an approved WhatsApp template (``[whatsapp.templates.<template>]``).
WHATSAPP_FIELDS = ("name", "language", "params", "body")


def _whatsapp_templates(path: Path, flat: dict[str, Any]) -> dict[str, str]:
    """``[whatsapp.templates.<template>]`` tables (flattened: ``<template>.<field>``) as
    settings ``whatsapp.templates.<template>.<field>`` (``params``: a JSON list); every problem
    reported at once."""
    problems: list[str] = []
    out: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        template, _, name = key.rpartition(".")
        if not template or name not in WHATSAPP_FIELDS:
            problems.append(
                f"whatsapp.templates.{key}: unknown field (expected {', '.join(WHATSAPP_FIELDS)})"
            )
            continue
        tables.setdefault(template, {})[name] = value
    for template, table in sorted(tables.items()):
        where = f"whatsapp.templates.{template}"
        for name in ("name", "language"):
            value = table.get(name)
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{name}: required, the approved template's {name}")
            else:
                out[f"{where}.{name}"] = value.strip()
        params = table.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            problems.append(f"{where}.params: a list of texts, e.g. ['{{{{ debtor.name }}}}']")
        else:
            out[f"{where}.params"] = json.dumps(params, ensure_ascii=False)
        body = table.get("body", "")  # optional: the approved text, {{1}}, {{2}}...
        if not isinstance(body, str):
            problems.append(f"{where}.body: a text, the approved template's body")
        elif body.strip():
            out[f"{where}.body"] = body.strip()
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return out


def _rates(path: Path, raw: dict[str, Any]) -> dict[str, Decimal]:
    """``[rates]`` (currency = value of one unit in the common unit); every problem of the
    table in one error."""
    rates: dict[str, Decimal] = {}
    problems: list[str] = []
    for code, value in raw.items():
        where = f"[rates] {code} = {value!r}"
        if not is_currency(code) or code != code.upper():
            problems.append(f"{where}: not an ISO 4217 currency code (such as EUR, in capitals)")
            continue
        try:
            number = Decimal(str(value)) if isinstance(value, int | float | str) else None
        except InvalidOperation:
            number = None
        if isinstance(value, bool) or number is None or not number.is_finite() or number <= 0:
            problems.append(f"{where}: give a positive number (what one {code} is worth)")
            continue
        if number > MAX_RATE:
            problems.append(f"{where}: at most {MAX_RATE:,} (a unit worth more is not a currency)")
            continue
        exponent = number.normalize().as_tuple().exponent
        if not isinstance(exponent, int) or exponent < -RATE_DIGITS:
            problems.append(f"{where}: at most {RATE_DIGITS} decimals")
            continue
        rates[code] = number
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return rates


def _columns(path: Path, raw: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [import.columns] must be tables of column = header")
    result: dict[str, dict[str, str]] = {}
    for kind, table in raw.items():
        mapping = table
        if isinstance(table, dict):  # attr_income = { header = "Ingresos", type = "number" }
            typed = {k: v for k, v in table.items() if isinstance(v, dict)}
            if all(
                str(k).startswith("attr_") and set(v) == {"header", "type"}
                for k, v in typed.items()
            ):
                mapping = {k: v for k, v in table.items() if k not in typed}
                for key, value in typed.items():  # the type as "attr_<name>:type" (io.headers)
                    mapping |= {key: value["header"], f"{key}:type": value["type"]}
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ConfigError(
                f"{path}: [import.columns.{kind}] must map columns to header names (a debtor "
                'attribute may also say its type: attr_income = { header = "Income", '
                'type = "number" })'
            )
        result[kind] = {str(k): str(v) for k, v in mapping.items()}
    return result


def render_config(
    *, base_currency: str, timezone: str, country: str, locale: str, database_url: str | None
) -> str:
    """The text of a new ``arrears.toml``."""
    db = (
        f'database_url = "{database_url}"'
        if database_url
        else '# database_url = "postgresql://postgres@127.0.0.1:5432/arrears"  '
        "# default: arrears.db here"
    )
    return f"""# arrears workspace settings. Every key can also be set with an ARREARS_* environment
# variable (e.g. ARREARS_DATABASE_URL); `arrears config` shows the effective values.
{db}
base_currency = "{base_currency}"
timezone = "{timezone}"
country = "{country}"
locale = "{locale}"
portfolio = "default"
policy = "policies/b2b.yaml"   # the collection policy `arrears plan` / `arrears run` apply
allocation_rule = "oldest_due_first"

# A portfolio can run its own policy (portfolio code = policy file):
# [policies]
# retail = "policies/us-consumer.yaml"

# Balances in several currencies: what one unit of each is worth in a common unit (here USD),
# for the features overdue_balance_ref and expected_recovery_ref, which rank the worklist
# across currencies. Indicative rates; nothing in the ledger is ever converted.
# [rates]
# USD = 1
# EUR = 1.08
# COP = 0.00025

[import]
date_format = "auto"          # e.g. "%d/%m/%Y" for 23/11/2026
decimal_separator = "."       # "," for 1.234,50
thousands_separator = ""
encoding = "auto"             # UTF-8 (BOM or not), else Latin-1
delimiter = "auto"

# Map your ERP's headers to arrears' columns (column = "Header in your file"):
# [import.columns.invoices]
# invoice_id = "Factura"
# debtor_id = "NIT Cliente"

# WhatsApp: a business may start a conversation only with a template approved in WhatsApp
# Manager. Each arrears template a policy sends on WhatsApp maps here to the approved one: its
# name and language there, and the parameters {{{{1}}}}..{{{{n}}}} filled from arrears' variables
# (`body`, optional, is the approved text; `arrears policy check` checks the parameters against
# it). This entry serves the shipped policies/co-cobranza.yaml: submit its body for approval under
# this name, or change the entry to the template you have approved.
[whatsapp.templates.recordatorio_previo_whatsapp]
name = "recordatorio_previo"
language = "es"
params = ["{{{{ debtor.name }}}}", "{{{{ creditor.name }}}}",
          "{{{{ totals[0].open | money(totals[0].currency) }}}}", "{{{{ payment_link }}}}"]
body = \"\"\"Hola {{{{1}}}}, {{{{2}}}} le recuerda su saldo de {{{{3}}}}. Pague aquí: {{{{4}}}} \\
Responda BAJA para no recibir más mensajes.\"\"\"
"""
