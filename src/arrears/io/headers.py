"""Matching a file's headers to the canonical columns of its kind.

A header matches a column when it is the column's name, one of its aliases, or the header that the
workspace maps to it in ``[import.columns.<kind>]``. In a debtors file, a header named
``attr_<name>``, or mapped to ``attr_<name>`` (``attr_risk_grade = "Risk Grade"``), becomes the
debtor attribute ``<name>``. Any other header is reported (:attr:`Headers.unknown`): the importer
warns that it ignores it and says how to map it (:func:`unknown_warnings`). Names are compared
*normalized*: case, accents, spaces, dashes, dots and underscores are ignored, so ``Fecha de
Vencimiento`` matches ``fecha_vencimiento``. A mapping wins over names and aliases; a name wins
over an alias.

Everything wrong with the header row is collected and raised together as :class:`ProblemsFound`:
duplicate headers, required columns that are missing (each with a "did you mean" suggestion),
mappings to headers the file does not have, or a first row that is data rather than a header.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from arrears.domain.columns import ATTRIBUTE_PREFIX, COLUMNS, Column, Kind
from arrears.domain.problems import Problem, ProblemsFound

#: (as ``arrears.io.checks.ATTRIBUTE_TYPES``, which imports polars)
ATTRIBUTE_TYPES = ("text", "number", "date", "boolean")

_IGNORED = re.compile(r"[\s\-._]+")
#: Columns arrears writes itself and ignores on import without a warning: the informative
#: columns of ``arrears export`` and the row and reason of a rejects file.
_INFORMATIVE = frozenset(
    ("row", "reason", "rejectreason", "openamount", "status", "reversedon", "unallocatedamount")
)
_DATA_LIKE = re.compile(r"^[\d\s.,/:+\-]+$|@")


def normalize(header: str) -> str:
    """``"Fecha de Vencimiento"`` -> ``"fechadevencimiento"``."""
    decomposed = unicodedata.normalize("NFKD", header)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _IGNORED.sub("", bare.casefold())


@dataclass(frozen=True, slots=True)
class Headers:
    """How the columns of one file map to the canonical columns."""

    #: The file's headers, made usable as frame column names (empty ones become ``column_<n>``).
    names: list[str]
    #: Canonical column name -> header in the file, for the columns the file has.
    columns: dict[str, str]
    #: Attribute name -> header, for ``attr_<name>`` columns of a debtors file (named so, or
    #: mapped to ``attr_<name>`` in ``[import.columns.debtors]``).
    attributes: dict[str, str]
    #: The file's headers that are none of the above (as written; but the informative columns
    #: of arrears' own exports and rejects files): the importer ignores their cells.
    unknown: tuple[str, ...] = ()
    #: Attribute name -> declared type (``number``, ``date``, ``boolean``; ``text`` when not
    #: declared): ``attr_income = { header = "Ingresos", type = "number" }``.
    types: dict[str, str] = field(default_factory=dict)


def frame_names(headers: list[str]) -> list[str]:
    """Column names for the raw frame: empty headers and ``row`` get a positional name."""
    return [h if h and h != "row" else f"column_{i}" for i, h in enumerate(headers, start=1)]


def match_headers(headers: list[str], kind: Kind, mapping: dict[str, str], source: str) -> Headers:
    """Match ``headers`` to ``kind``'s columns; raises :class:`ProblemsFound` if they cannot."""
    names = frame_names(headers)
    columns = COLUMNS[kind]
    mapping, types, problems = _declared_types(mapping, kind, source)
    problems += _duplicates(headers, source) + _unknown_mappings(columns, mapping, kind, source)
    matched: dict[str, str] = {}
    taken: set[str] = set()
    by_normal: dict[str, list[str]] = {}
    for name in names:
        by_normal.setdefault(normalize(name), []).append(name)
    for column in columns:
        if column.name in mapping:
            wanted = normalize(mapping[column.name])
            found = by_normal.get(wanted, [])
            if found:
                matched[column.name] = found[0]
                taken.add(found[0])
            else:
                problems.append(_mapped_missing(column, mapping[column.name], kind, source))
    mapped_attributes: dict[str, str] = {}
    for key, wanted_header in mapping.items():
        if kind is Kind.DEBTORS and _is_attribute(key):
            found = by_normal.get(normalize(wanted_header), [])
            if found and found[0] not in taken:
                mapped_attributes[key[len(ATTRIBUTE_PREFIX) :]] = found[0]
                taken.add(found[0])
            elif not found:
                problems.append(
                    Problem(
                        source,
                        1,
                        None,
                        f"[import.columns.{kind.value}] says attribute {key} is the header "
                        f"{wanted_header!r}, which the file does not have: fix the header or the "
                        "mapping",
                    )
                )
    for column in columns:
        if column.name in matched or column.name in mapping:
            continue
        header = _find(column, by_normal, taken, kind, source, problems)
        if header is not None:
            matched[column.name] = header
            taken.add(header)
    attributes = {**_attributes(names, taken), **mapped_attributes} if kind is Kind.DEBTORS else {}
    if not matched and not attributes and any(_DATA_LIKE.search(h) for h in headers):
        shown = ", ".join(repr(h) for h in headers[:3])
        message = (
            f"the first row ({shown}...) looks like data, not a header: add a header row with "
            f"the column names ({', '.join(c.name for c in columns if c.required)})"
        )
        raise ProblemsFound([Problem(source, 1, None, message)])
    if len(headers) == 1 and not matched:
        problems.append(
            Problem(
                source,
                1,
                None,
                f"the header is one single column ({headers[0][:60]!r}): the file is not "
                "delimited by , ; | or tab; save it with one of them, or set import.delimiter",
            )
        )
    for column in columns:
        if column.required and column.name not in matched and column.name not in mapping:
            problems.append(_missing(column, names, taken, kind, source))
    if problems:
        raise ProblemsFound(problems)
    used = taken | set(attributes.values())
    unknown = tuple(
        h
        for n, h in zip(names, headers, strict=True)
        if n not in used and h and normalize(h) not in _INFORMATIVE
    )
    return Headers(
        names, matched, attributes, unknown, {a: types[a] for a in attributes if a in types}
    )


#: The suffix of the mapping key that carries an attribute's declared type (``config._columns``
#: writes ``attr_income = { header = "Ingresos", type = "number" }`` as ``attr_income`` =
#: header and ``attr_income:type`` = type).
TYPE_SUFFIX = ":type"


def attribute_types(mapping: dict[str, str]) -> dict[str, str]:
    """Attribute name -> declared type, from a debtors mapping (the valid declarations)."""
    return {
        key[len(ATTRIBUTE_PREFIX) : -len(TYPE_SUFFIX)]: value
        for key, value in mapping.items()
        if key.endswith(TYPE_SUFFIX) and _is_attribute(key) and value in ATTRIBUTE_TYPES
    }


def _declared_types(
    mapping: dict[str, str], kind: Kind, source: str
) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
    """The mapping without its type declarations, the declared types, and the problems."""
    plain = {k: v for k, v in mapping.items() if not k.endswith(TYPE_SUFFIX)}
    problems = [
        Problem(
            source,
            None,
            None,
            f"[import.columns.{kind.value}] declares {key.removesuffix(TYPE_SUFFIX)} of type "
            f"{value!r}: the types are {', '.join(ATTRIBUTE_TYPES)}"
            + ("" if kind is Kind.DEBTORS else " (and only debtors have attributes)"),
        )
        for key, value in mapping.items()
        if key.endswith(TYPE_SUFFIX) and (value not in ATTRIBUTE_TYPES or kind is not Kind.DEBTORS)
    ]
    return plain, attribute_types(mapping), problems


def _is_attribute(key: str) -> bool:
    return key.lower().startswith(ATTRIBUTE_PREFIX) and len(key) > len(ATTRIBUTE_PREFIX)


def attribute_name(header: str) -> str:
    """A header as an attribute name: ``"Risk Grade"`` -> ``risk_grade``."""
    decomposed = unicodedata.normalize("NFKD", header)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^0-9a-z]+", "_", bare).strip("_") or "column"


def unknown_warnings(headers: Headers, kind: Kind, source: str) -> list[Problem]:
    """One warning per header the importer ignores, saying how to keep it: as a column it was
    meant to be (a close column name), or, in a debtors file, as a debtor attribute."""
    names = [c.name for c in COLUMNS[kind]]
    table = f"[import.columns.{kind.value}]"
    out = []
    for header in headers.unknown:
        close = difflib.get_close_matches(normalize(header), names, n=1, cutoff=0.75)
        hints = [f'{close[0]} = "{header}" in {table} if it is {close[0]}'] if close else []
        if kind is Kind.DEBTORS:
            name = attribute_name(header)
            hints.append(f'attr_{name} = "{header}" in {table} to keep it as attribute {name}')
        else:
            hints.append(f'<column> = "{header}" in {table} if it is one of its columns')
        out.append(
            Problem(
                source,
                1,
                header,
                f"column ignored: not a column of {kind.value}; map it with " + ", or ".join(hints),
            )
        )
    return out


def _find(
    column: Column,
    by_normal: dict[str, list[str]],
    taken: set[str],
    kind: Kind,
    source: str,
    problems: list[Problem],
) -> str | None:
    exact = [h for h in by_normal.get(normalize(column.name), []) if h not in taken]
    if exact:
        return exact[0]
    candidates = [
        header
        for alias in dict.fromkeys(normalize(a) for a in column.aliases)
        for header in by_normal.get(alias, [])
        if header not in taken
    ]
    if len({normalize(c) for c in candidates}) > 1:  # same-name duplicates are reported apart
        shown = " and ".join(repr(c) for c in candidates)
        problems.append(
            Problem(
                source,
                1,
                None,
                f"both {shown} could be {column.name}: rename one, or say which in "
                f'[import.columns.{kind.value}] ({column.name} = "...")',
            )
        )
    return candidates[0] if candidates else None


def _attributes(names: list[str], taken: set[str]) -> dict[str, str]:
    prefix = len(ATTRIBUTE_PREFIX)
    return {
        name[prefix:]: name
        for name in names
        if name not in taken and name.lower().startswith(ATTRIBUTE_PREFIX) and len(name) > prefix
    }


def _duplicates(headers: list[str], source: str) -> list[Problem]:
    """Headers that name the same column once normalized (``Name`` and ``name``)."""
    positions: dict[str, list[int]] = {}
    for index, header in enumerate(headers, start=1):
        if header:
            positions.setdefault(normalize(header), []).append(index)
    return [
        Problem(
            source,
            1,
            headers[where[-1] - 1],
            f"the same header as column {where[0]} ({headers[where[0] - 1]!r}): "
            "rename or remove one of them",
        )
        for where in positions.values()
        if len(where) > 1
    ]


def _unknown_mappings(
    columns: tuple[Column, ...], mapping: dict[str, str], kind: Kind, source: str
) -> list[Problem]:
    known = {c.name for c in columns}
    return [
        Problem(
            source,
            None,
            None,
            f"[import.columns.{kind.value}] maps {name!r}, which is not a column of {kind.value}"
            + _suggestion(name, sorted(known)),
        )
        for name in mapping
        if name not in known and not (kind is Kind.DEBTORS and _is_attribute(name))
    ]


def _mapped_missing(column: Column, header: str, kind: Kind, source: str) -> Problem:
    return Problem(
        source,
        1,
        None,
        f"[import.columns.{kind.value}] says {column.name} is the header {header!r}, "
        "which the file does not have: fix the header or the mapping",
    )


def _missing(column: Column, names: list[str], taken: set[str], kind: Kind, source: str) -> Problem:
    free = [n for n in names if n not in taken]
    targets = [normalize(column.name), *(normalize(a) for a in column.aliases)]
    best: tuple[float, str] | None = None
    for header in free:
        score = max(difflib.SequenceMatcher(None, normalize(header), t).ratio() for t in targets)
        if score >= 0.75 and (best is None or score > best[0]):
            best = (score, header)
    hint = (
        f"did you mean {best[1]!r}? Rename it to {column.name}"
        if best
        else f"add it ({column.doc.rstrip('.')})"
    )
    return Problem(
        source,
        1,
        None,
        f"missing required column {column.name}: {hint}, or map your header in "
        f"[import.columns.{kind.value}]",
    )


def _suggestion(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f": did you mean {close[0]!r}?" if close else ""
