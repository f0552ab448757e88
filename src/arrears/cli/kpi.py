"""``arrears kpi``: the collection KPIs of a portfolio over a period.

The figures come from :func:`arrears.services.insight.kpi.kpi_report` (the ledger's history
measured by
the pure ``arrears.kpi``); this module only presents them. The table format prints one column
per group and currency, one row per measure, amounts in the workspace's locale; ``--roll``
prints the roll matrix of the period instead (one table per group and currency: the rate from
each bucket to each state). CSV and JSON print one record per group and currency (or per move of
the matrix), amounts as decimal text of their currency, days and percentages as numbers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

import polars as pl
import typer
from babel.numbers import format_decimal

from arrears.cli.aging import parse_buckets, parse_in_currency
from arrears.cli.context import cli_actor, store, workspace, workspace_today
from arrears.cli.output import Format, Wide, amount_text, console, emit
from arrears.domain.money import from_minor
from arrears.kpi.aging import DEFAULT_EDGES, bucket_labels
from arrears.kpi.figures import AMOUNTS
from arrears.kpi.messages import RATES as RATE_NAMES
from arrears.kpi.promises import PROMISE_AMOUNTS
from arrears.kpi.roll import SETTLED, WRITTEN_OFF
from arrears.services.insight.kpi import (
    GROUPS,
    ExperimentReport,
    KpiReport,
    channel_report,
    experiment_report,
    kpi_report,
    message_report,
    parse_costs,
    write_snapshot,
)
from arrears.services.uow import SqlUnitOfWork

#: The rows of the table: (label, column, how it is shown).
ROWS: tuple[tuple[str, str, str], ...] = (
    ("receivables at start", "opening", "amount"),
    ("credit sales", "sales", "amount"),
    ("collected", "collected", "amount"),
    ("credited", "credited", "amount"),
    ("written off", "written_off", "amount"),
    ("receivables at end", "closing", "amount"),
    ("  current", "closing_current", "amount"),
    ("  past due", "closing_past_due", "amount"),
    ("DSO, days", "dso", "days"),
    ("countback DSO, days", "countback_dso", "days"),
    ("best-possible DSO, days", "best_possible_dso", "days"),
    ("average days delinquent", "average_days_delinquent", "days"),
    ("CEI %", "cei", "percent"),
    ("bad-debt ratio %", "bad_debt_ratio", "ratio"),
    ("cure rate %", "cure_rate", "ratio"),
    ("promises judged", "promises_judged", "count"),
    ("  kept %", "promise_kept_rate", "ratio"),
    ("  kept in part %", "promise_partial_rate", "ratio"),
    ("  paid of promised %", "promise_paid_rate", "ratio"),
    ("recovery %", "recovery", "ratio"),
    ("calls logged", "calls", "count"),
    ("  right-party contact %", "right_party_contact_rate", "ratio"),
    ("plans ended", "plans_ended", "count"),
    ("  completed %", "plan_completion_rate", "ratio"),
    ("settlements decided", "settlements_decided", "count"),
    ("  accepted %", "settlement_acceptance_rate", "ratio"),
    ("cost", "cost", "amount"),
    ("cost to collect %", "cost_to_collect", "ratio"),
)
#: The same rows in Spanish (an ``es_*`` locale), in the same order.
ROWS_ES: tuple[str, ...] = (
    "cartera al inicio",
    "ventas a crédito",
    "cobrado",
    "notas de crédito",
    "castigado",
    "cartera al cierre",
    "  al día",
    "  vencida",
    "DSO, días",
    "DSO por recuento, días",
    "mejor DSO posible, días",
    "días medios de mora",
    "CEI %",
    "incobrables %",
    "tasa de cura %",
    "promesas evaluadas",
    "  cumplidas %",
    "  cumplidas en parte %",
    "  pagado de lo prometido %",
    "recuperación %",
    "llamadas registradas",
    "  contacto con el titular %",
    "planes terminados",
    "  completados %",
    "ofertas de quita resueltas",
    "  aceptadas %",
    "costo",
    "costo de cobro %",
)
NOT_DEFINED = "n/a"
#: Rounded to 0.01 in CSV and JSON; the other floats are ratios, rounded to 0.0001.
DAYS_AND_PERCENT = ("dso", "countback_dso", "best_possible_dso", "average_days_delinquent", "cei")


def parse_day(text: str | None, option: str, default: date) -> date:
    """``--from`` / ``--to`` as an ISO date; ``default`` when not given."""
    if text is None:
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a date; write it as YYYY-MM-DD") from None


def quarter_start(end: date) -> date:
    """The first day of the month two months before ``end``'s: 2026-03-31 -> 2026-01-01."""
    year, month = (end.year, end.month - 2) if end.month > 2 else (end.year - 1, end.month + 10)
    return date(year, month, 1)


def kpi_command(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day, YYYY-MM-DD (default: the first day of the month two months"
            " before --to's: a quarter).",
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, included, YYYY-MM-DD (default: today).")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            help="Group by currency, segment, country, region, kind (the debtor's today), stage"
            " or agency (the case's at the period's start) or collector (who worked the"
            " account), or channel (collected by the channel of the last contact before each"
            " payment; docs/kpi.md)."
        ),
    ] = "currency",
    in_currency: Annotated[
        str | None,
        typer.Option(
            "--in",
            help="Every amount in this currency, at arrears.toml's [rates] (default: each"
            " currency apart, nothing converted).",
        ),
    ] = None,
    portfolio: Annotated[
        str | None, typer.Option(help="Portfolio code (default: the workspace's).")
    ] = None,
    buckets: Annotated[
        str, typer.Option(help="Bucket edges in days past due, comma separated (roll, cure).")
    ] = ",".join(map(str, DEFAULT_EDGES)),
    roll: Annotated[
        bool, typer.Option("--roll", help="Print the period's roll matrix instead.")
    ] = False,
    messages: Annotated[
        bool,
        typer.Option(
            "--messages",
            help="Print the messages sent, delivered, bounced and opened by channel and the"
            " contact rate instead.",
        ),
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
    rebuild_snapshot: Annotated[
        bool,
        typer.Option(
            "--rebuild-snapshot",
            help="Write the monthly snapshot the roll and cure rates read again from the"
            " ledger, for every month end up to --to (docs/kpi.md), instead of measuring.",
        ),
    ] = False,
) -> None:
    """DSO, best-possible DSO, days delinquent, CEI, bad debt, roll and cure rates of a period."""
    from arrears.cli.app import UserError

    problems = []
    last = first = workspace_today(ctx)
    try:
        last = parse_day(end, "--to", first)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        first = parse_day(start, "--from", quarter_start(last))
    except ValueError as exc:
        problems.append(str(exc))
    try:
        edges = parse_buckets(buckets)
    except ValueError as exc:
        problems.append(str(exc))
    if by not in (*GROUPS, "channel"):
        problems.append(f"--by {by!r}: choose one of {', '.join(GROUPS)}, channel")
    in_currency = parse_in_currency(in_currency, problems)
    if by == "channel" and (in_currency is not None or roll or messages):
        problems.append("--by channel: each currency apart, without --in, --roll or --messages")
    if roll and messages:
        problems.append("--roll and --messages: choose one")
    if problems:
        raise UserError("; ".join(problems))
    ws = workspace(ctx)
    code = portfolio or ws.get("portfolio")
    if rebuild_snapshot:
        written = write_snapshot(
            SqlUnitOfWork(store(ws)),
            cli_actor(),
            portfolio=code,
            through=last + timedelta(days=1),
            at=datetime.now(UTC),
            rebuild=True,
        )
        if written.months:
            print(
                f"monthly snapshot of {code}: {len(written.months)} month ends"
                f" ({written.months[0].isoformat()} to {written.months[-1].isoformat()}),"
                f" {written.rows} rows written"
            )
        else:
            print(f"monthly snapshot of {code}: no invoice, nothing to write")
        return
    if by == "channel":
        found = channel_report(
            SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, start=first, end=last
        )
        _print_channels(
            found.rows,
            fmt,
            title=f"recovery by channel of {code}, {first.isoformat()} to {last.isoformat()}",
            locale=ws.get("locale"),
            wide=wide,
        )
        return
    if messages:
        sent = message_report(
            SqlUnitOfWork(store(ws)), cli_actor(), portfolio=code, start=first, end=last
        )
        _print_messages(
            sent.rates,
            fmt,
            title=f"messages of {code}, sent from {first.isoformat()} to {last.isoformat()}",
            locale=ws.get("locale"),
            wide=wide,
        )
        return
    report = kpi_report(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=code,
        start=first,
        end=last,
        by=by,
        edges=edges,
        in_currency=in_currency,
        rates=ws.rates,
        costs=parse_costs(ws.values),
    )
    title = f"{code}, {first.isoformat()} to {last.isoformat()} ({report.days} days)"
    if in_currency is not None:
        title += f", in {in_currency} at the workspace's rates"
    locale = ws.get("locale")
    if roll:
        _print_matrix(report, fmt, title=f"roll rates of {title}", locale=locale, wide=wide)
    else:
        _print_headline(report, fmt, title=f"KPIs of {title}", locale=locale, wide=wide)


def _print_headline(report: KpiReport, fmt: Format, *, title: str, locale: str, wide: bool) -> None:
    rows = report.headline
    if fmt is not Format.TABLE:
        amounts = (*AMOUNTS, "delinquent", "cured", *PROMISE_AMOUNTS, "cost")
        emit(_as_records(rows, amounts), fmt)
        return
    if rows.is_empty():
        console.print(
            f"{title}: no invoice was issued by its end; nothing to measure", soft_wrap=True
        )
        return
    spanish = locale.lower().startswith("es")
    labels = list(ROWS_ES) if spanish else [label for label, _, _ in ROWS]
    columns: dict[str, list[str]] = {"medida" if spanish else "measure": labels}
    rows = rows.with_columns(
        (pl.col("plans_completed") + pl.col("plans_failed")).alias("plans_ended"),
        (pl.col("settlements_accepted") + pl.col("settlements_declined")).alias(
            "settlements_decided"
        ),
    )
    for row in rows.to_dicts():
        currency = row["currency"]
        header = " ".join(str(row[k]) if row[k] is not None else "(none)" for k in report.keys)
        header = f"{header} {currency}".strip()
        columns[header] = [_cell(row[name], how, currency, locale) for _, name, how in ROWS]
    frame = pl.DataFrame(columns)
    emit(frame, fmt, title=title, right=list(columns)[1:], wide=wide)


MESSAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("channel", "channel"),
    ("sent", "sent"),
    ("delivered", "delivered"),
    ("bounced", "bounced"),
    ("opened", "opened"),
    ("delivery_rate", "delivered %"),
    ("bounce_rate", "bounced %"),
    ("open_rate", "opened %"),
    ("debtors", "debtors"),
    ("reached", "reached"),
    ("contact_rate", "contact rate %"),
)


def _print_messages(
    rates: pl.DataFrame, fmt: Format, *, title: str, locale: str, wide: bool
) -> None:
    if fmt is not Format.TABLE:
        emit(rates.with_columns(pl.col(*RATE_NAMES).round(4)), fmt)
        return
    if rates.filter(pl.col("sent") > 0).is_empty():
        console.print(f"{title}: no message was sent", soft_wrap=True)
        return
    shown = {
        label: [
            _cell(v, "ratio" if name in RATE_NAMES else "count", "", locale)
            if name != "channel"
            else str(v)
            for v in rates[name]
        ]
        for name, label in MESSAGE_COLUMNS
    }
    frame = pl.DataFrame(shown)
    emit(frame, fmt, title=title, right=frame.columns[1:], wide=wide)


#: The columns of ``arrears kpi --by channel``: (column, label in English, in Spanish, how).
CHANNEL_TABLE: tuple[tuple[str, str, str, str], ...] = (
    ("channel", "channel", "canal", "text"),
    ("currency", "currency", "moneda", "text"),
    ("payments", "payments", "pagos", "count"),
    ("debtors", "debtors", "deudores", "count"),
    ("collected", "collected", "cobrado", "amount"),
    ("recovery", "recovery %", "recuperación %", "ratio"),
)


def _print_channels(
    rows: pl.DataFrame, fmt: Format, *, title: str, locale: str, wide: bool
) -> None:
    if fmt is not Format.TABLE:
        emit(
            rows.with_columns(
                pl.Series(
                    "collected",
                    [
                        str(from_minor(v, c))
                        for v, c in zip(rows["collected"], rows["currency"], strict=True)
                    ],
                    dtype=pl.String(),
                ),
                pl.col("recovery").round(4),
            ),
            fmt,
        )
        return
    if rows.is_empty():
        console.print(f"{title}: no payment was collected", soft_wrap=True)
        return
    spanish = locale.lower().startswith("es")
    shown = {
        (es if spanish else en): [
            str(v) if how == "text" else _cell(v, how, currency, locale)
            for v, currency in zip(rows[name], rows["currency"], strict=True)
        ]
        for name, en, es, how in CHANNEL_TABLE
    }
    frame = pl.DataFrame(shown)
    emit(frame, fmt, title=title, right=frame.columns[2:], wide=wide)


def _cell(value: object, how: str, currency: str, locale: str) -> str:
    if value is None:
        return NOT_DEFINED
    if how == "amount":
        assert isinstance(value, int)
        return amount_text(from_minor(value, currency), currency, locale)
    if how == "count":
        return str(value)
    assert isinstance(value, float | int)
    return _one_decimal(value * 100 if how == "ratio" else value, locale)


def _one_decimal(number: float, locale: str) -> str:
    """Days or a percentage to 0.1, grouped and with the decimal mark of the locale."""
    return format_decimal(Decimal(f"{number:.1f}"), format="#,##0.0", locale=locale)


def _print_matrix(report: KpiReport, fmt: Format, *, title: str, locale: str, wide: bool) -> None:
    matrix = report.matrix
    if fmt is not Format.TABLE:
        emit(_as_records(matrix, ("amount",)), fmt)
        return
    group = [*report.keys, "currency"]
    targets = [*bucket_labels(report.edges), SETTLED, WRITTEN_OFF]
    if matrix.is_empty():
        console.print(
            f"{title}: nobody owed anything at the start of a month ending in it", soft_wrap=True
        )
        return
    for keys, moves in matrix.group_by(group, maintain_order=True):
        currency = str(keys[-1])
        named = " ".join(str(k) for k in keys)
        froms = moves["from_bucket"].unique(maintain_order=True).to_list()
        shown: dict[str, list[str]] = {"from": froms, "balance": []}
        for target in targets:
            shown[target] = []
        for source in froms:
            out = moves.filter(pl.col("from_bucket") == source)
            balance = int(out["amount"].sum())
            shown["balance"].append(amount_text(from_minor(balance, currency), currency, locale))
            rates = dict(zip(out["to_bucket"], out["rate"], strict=True))
            for target in targets:
                rate = rates.get(target)
                shown[target].append("" if rate is None else _one_decimal(rate * 100, locale))
        frame = pl.DataFrame(shown)
        used = [t for t in targets if any(frame[t])]
        frame = frame.select("from", "balance", *used)
        heading = f"{title}: {named}, % of each bucket's balance"
        emit(frame, fmt, title=heading, right=frame.columns[1:], wide=wide)


def _as_records(frame: pl.DataFrame, amounts: tuple[str, ...]) -> pl.DataFrame:
    """Amounts as decimal text of each row's currency; days and percentages to 0.01."""
    currencies = frame["currency"].to_list()
    texts = [
        pl.Series(
            name,
            [
                None if v is None else str(from_minor(v, c))
                for v, c in zip(frame[name], currencies, strict=True)
            ],
            dtype=pl.String(),
        )
        for name in amounts
        if name in frame.columns
    ]
    ratios = [
        pl.col(name).round(2 if name in DAYS_AND_PERCENT else 4)
        for name in frame.columns
        if frame.schema[name] == pl.Float64()
    ]
    rows = frame.with_columns(texts).with_columns(ratios)
    if "month" in rows.columns:
        rows = rows.with_columns(pl.col("month").cast(pl.String()))
    return rows


#: The words of ``arrears experiment report``, by the workspace locale's language.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "experiment {name}, {currency}: debtors assigned from {start} to {end},"
        " followed to {end}",
        "none": "no debtor was assigned to an experiment's arm from {start} to {end}",
        "measure": "measure",
        "champion": "champion",
        "challenger": "challenger",
        "difference": "difference",
        "interval": "95 % interval",
        "significant": "significant",
        "needed": "needed per arm",
        "debtors": "debtors",
        "open": "open at assignment",
        "collected": "collected since",
        "delinquent": "past due at assignment",
        "recovery": "recovery rate %",
        "cure": "cure rate %",
        "roll_forward": "roll-forward rate %",
        "yes": "yes",
        "no": "no",
        "higher": "higher than",
        "lower": "lower than",
        "same": "the same as",
        "say": "{measure}: the challenger's is {diff} points {direction} the champion's"
        " ({low} to {high} at 95 %): {verdict}; about {needed} debtors per arm would detect"
        " {detect} points at 80 % power.",
        "say_short": "{measure}: not measurable yet (an arm has too few debtors).",
        "significant_is": "significant",
        "not_significant_is": "not significant, it may be chance",
        "method": "Rates' differences: two-proportion (Wald) interval; recovery: ratio"
        " estimator's variance (docs/kpi.md).",
    },
    "es": {
        "title": "experimento {name}, {currency}: deudores asignados del {start} al {end},"
        " seguidos hasta el {end}",
        "none": "ningún deudor fue asignado a un brazo de experimento del {start} al {end}",
        "measure": "medida",
        "champion": "campeón",
        "challenger": "retador",
        "difference": "diferencia",
        "interval": "intervalo 95 %",
        "significant": "significativa",
        "needed": "necesarios por brazo",
        "debtors": "deudores",
        "open": "saldo al asignar",
        "collected": "recaudado desde entonces",
        "delinquent": "vencidos al asignar",
        "recovery": "tasa de recuperación %",
        "cure": "tasa de cura %",
        "roll_forward": "tasa de deterioro %",
        "yes": "sí",
        "no": "no",
        "higher": "más que",
        "lower": "menos que",
        "same": "igual que",
        "say": "{measure}: la del retador está {diff} puntos {direction} la del campeón"
        " ({low} a {high} al 95 %): {verdict}; con unos {needed} deudores por brazo se"
        " detectarían {detect} puntos con potencia del 80 %.",
        "say_short": "{measure}: aún no se puede medir (un brazo tiene muy pocos deudores).",
        "significant_is": "significativa",
        "not_significant_is": "no significativa, puede ser azar",
        "method": "Diferencias de tasas: intervalo de dos proporciones (Wald); recuperación:"
        " varianza del estimador de razón (docs/kpi.md).",
    },
}


def words(locale: str) -> dict[str, str]:
    """The words of the report in the locale's language (English when not Spanish)."""
    return WORDS["es"] if locale.lower().startswith("es") else WORDS["en"]


def experiments_command(
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day debtors were assigned, YYYY-MM-DD (default: the first day of the"
            " month two months before --to's).",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last day, included; outcomes as of it (default: today)."),
    ] = None,
    detect: Annotated[
        str,
        typer.Option(help="The difference between arms to size for, as a rate (0.05: 5 points)."),
    ] = "0.05",
    in_currency: Annotated[
        str | None,
        typer.Option("--in", help="Every amount in this currency, at arrears.toml's [rates]."),
    ] = None,
    portfolio: Annotated[
        str | None, typer.Option(help="Portfolio code (default: the workspace's).")
    ] = None,
    buckets: Annotated[
        str, typer.Option(help="Bucket edges in days past due (cure, roll forward).")
    ] = ",".join(map(str, DEFAULT_EDGES)),
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.TABLE,
    wide: Wide = False,
) -> None:
    """Champion against challenger: each experiment's arms' recovery, cure and roll-forward
    rates, the difference with its 95 % interval, and the debtors needed per arm."""
    from arrears.cli.app import UserError

    problems = []
    last = first = workspace_today(ctx)
    try:
        last = parse_day(end, "--to", first)
    except ValueError as exc:
        problems.append(str(exc))
    try:
        first = parse_day(start, "--from", quarter_start(last))
    except ValueError as exc:
        problems.append(str(exc))
    try:
        edges = parse_buckets(buckets)
    except ValueError as exc:
        problems.append(str(exc))
    size = 0.0
    try:
        size = float(detect)
        if not 0 < size < 1:
            raise ValueError
    except ValueError:
        problems.append(f"--detect {detect!r}: give a difference between 0 and 1, e.g. 0.05")
    in_currency = parse_in_currency(in_currency, problems)
    if problems:
        raise UserError("; ".join(problems))
    ws = workspace(ctx)
    report = experiment_report(
        SqlUnitOfWork(store(ws)),
        cli_actor(),
        portfolio=portfolio or ws.get("portfolio"),
        start=first,
        end=last,
        detect=size,
        edges=edges,
        in_currency=in_currency,
        rates=ws.rates,
    )
    print_experiments(report, fmt, locale=ws.get("locale"), wide=wide)


def print_experiments(report: ExperimentReport, fmt: Format, *, locale: str, wide: bool) -> None:
    """The arms and their comparison: CSV/JSON one record per experiment, currency and measure
    (the comparison, with each arm's debtors); a table and a plain statement per experiment."""
    w = words(locale)
    if fmt is not Format.TABLE:
        emit(experiment_records(report), fmt)
        return
    period = {"start": report.start.isoformat(), "end": report.end.isoformat()}
    if report.arms.is_empty():
        console.print(w["none"].format(**period), soft_wrap=True)
        return
    for (name, currency), compared in report.comparison.group_by(
        ["experiment", "currency"], maintain_order=True
    ):
        arms = {
            str(r["arm"]): r
            for r in report.arms.filter(
                (pl.col("experiment") == name) & (pl.col("currency") == currency)
            ).to_dicts()
        }
        sides = ("champion", "challenger")
        cols: dict[str, list[str]] = {w["measure"]: []}
        for side in (*sides, "difference", "interval", "significant", "needed"):
            cols[w[side]] = []

        def put(label: str, values: list[str], cols: dict[str, list[str]] = cols) -> None:
            _put(cols, label, values)

        for field in ("debtors", "delinquent"):
            put(w[field], [str(arms[s][field]) if s in arms else "" for s in sides])
        for field in ("open", "collected"):
            put(
                w[field],
                [
                    amount_text(from_minor(arms[s][field], str(currency)), str(currency), locale)
                    if s in arms
                    else ""
                    for s in sides
                ],
            )
        statements = []
        for row in compared.to_dicts():
            cells = [_points(row["champion"], locale), _points(row["challenger"], locale)]
            cells.append(_points(row["difference"], locale))
            low, high = row["low"], row["high"]
            cells.append(
                NOT_DEFINED if low is None else f"{_points(low, locale)} … {_points(high, locale)}"
            )
            cells.append(
                NOT_DEFINED
                if row["significant"] is None
                else w["yes" if row["significant"] else "no"]
            )
            needed = row["needed_per_arm"]
            cells.append(NOT_DEFINED if needed is None else format_decimal(needed, locale=locale))
            put(w[row["measure"]], cells)
            statements.append(statement(row, w, report.detect, locale))
        title = w["title"].format(name=name, currency=currency, **period)
        frame = pl.DataFrame(cols)
        emit(frame, fmt, title=title, right=frame.columns[1:], wide=wide)
        for line in statements:
            console.print(line, soft_wrap=True, highlight=False)
        console.print(w["method"], soft_wrap=True, highlight=False)


def _put(cols: dict[str, list[str]], label: str, values: list[str]) -> None:
    """One row of the table: ``label`` and ``values``, empty cells after them."""
    cells = [label, *values]
    for i, column in enumerate(cols):
        cols[column].append(cells[i] if i < len(cells) else "")


def statement(row: dict[str, object], w: dict[str, str], detect: float, locale: str) -> str:
    """The plain sentence on one measure's difference."""
    measure = w[str(row["measure"])].removesuffix(" %")
    low, high, diff = row["low"], row["high"], row["difference"]
    if not isinstance(low, float) or not isinstance(high, float) or not isinstance(diff, float):
        return w["say_short"].format(measure=measure)
    direction = w["higher"] if diff > 0 else w["lower"] if diff < 0 else w["same"]
    needed = row["needed_per_arm"]
    return w["say"].format(
        measure=measure,
        diff=_points(abs(diff), locale),
        direction=direction,
        low=_points(low, locale),
        high=_points(high, locale),
        verdict=w["significant_is" if row["significant"] else "not_significant_is"],
        needed=NOT_DEFINED
        if not isinstance(needed, int)
        else format_decimal(needed, locale=locale),
        detect=_points(detect, locale),
    )


def _points(value: object, locale: str) -> str:
    if value is None:
        return NOT_DEFINED
    assert isinstance(value, float | int)
    return _one_decimal(value * 100, locale)


def experiment_records(report: ExperimentReport) -> pl.DataFrame:
    """One record per experiment, currency and measure: the comparison (rates as ratios to
    0.0001) with each arm's ``*_debtors`` (of the measure's denominator), ``*_open`` and
    ``*_collected`` as decimal text."""
    rows = []
    arms = {(r["experiment"], r["currency"], r["arm"]): r for r in report.arms.to_dicts()}
    for row in report.comparison.to_dicts():
        out = dict(row)
        for side in ("champion", "challenger"):
            arm = arms.get((row["experiment"], row["currency"], side))
            size = "delinquent" if row["measure"] == "cure" else "debtors"
            out[f"{side}_debtors"] = None if arm is None else arm[size]
            for field in ("open", "collected"):
                out[f"{side}_{field}"] = (
                    None if arm is None else str(from_minor(arm[field], row["currency"]))
                )
        for name in ("champion", "challenger", "difference", "low", "high"):
            value = out[name]
            out[name] = None if value is None else round(float(value), 4)
        rows.append(out)
    return pl.DataFrame(rows, infer_schema_length=None)


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi_command)
    experiment = typer.Typer(help="Champion/challenger experiments: how the arms compare.")
    experiment.command("report")(experiments_command)
    app.add_typer(experiment, name="experiment")
